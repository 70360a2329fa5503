// Command ipclab is the ipclab Jupyter kernel for Go and its tools.
//
//	ipclab install [--user | --sys-prefix | --prefix DIR]   install the kernel spec
//	ipclab kernel CONNECTION_FILE                           run the kernel (Jupyter starts it)
//	ipclab bench [flags]                                    measure ipc transports
//	ipclab worker --listen tcp://ADDR                       serve experiments for another host
//	ipclab assign SOURCE.ipynb -o DIR                       write the student version of an assignment
//	ipclab grade --source SOURCE.ipynb [-o DIR] SUB.ipynb…  grade submissions in fresh kernels
//	ipclab version                                          print the version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	// SIGINT interrupts a kernel's running cell (kernel.Serve handles it);
	// for every other command it stops the command.
	stopSignals := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if args[0] == "kernel" {
		stopSignals = []os.Signal{syscall.SIGTERM}
	}
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals...)
	defer stop()
	var err error
	switch args[0] {
	case "install":
		err = installCommand(args[1:], stdout, stderr)
	case "kernel":
		err = kernelCommand(ctx, args[1:], stderr)
	case "bench":
		err = benchCommand(ctx, args[1:], stdout, stderr)
	case "worker":
		err = workerCommand(ctx, args[1:], stdout, stderr)
	case "assign":
		err = assignCommand(args[1:], stdout, stderr)
	case "grade":
		err = gradeCommand(ctx, args[1:], stdout, stderr)
	case "grade-run":
		err = gradeRunCommand(ctx, args[1:], stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "ipclab %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	case "help", "-h", "--help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "ipclab: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "ipclab %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: ipclab COMMAND [ARGS]

commands:
  install [--user | --sys-prefix | --prefix DIR]  install the Jupyter kernel spec "ipclab"
  kernel CONNECTION_FILE                          run the kernel (started by Jupyter)
  bench [flags]                                   measure ipc transports (ipclab bench -h)
  worker --listen tcp://ADDR                      run experiment peers for another host
  assign SOURCE.ipynb -o DIR                      write the student version of an assignment
  grade --source SOURCE.ipynb [-o DIR] [--jobs N] SUBMISSION.ipynb…
                                                  grade submissions (gradebook, feedback)
  version                                         print the version
`)
}
