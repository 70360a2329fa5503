package kernel

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// python is Debian's interpreter, which has jupyter_client; another python3
// may come first on PATH.
const python = "/usr/bin/python3"

// TestJupyterClient checks the protocol layer with the real jupyter_client
// (pyzmq, libzmq): it builds the kernel with the scripted fake engine,
// installs it with InstallSpec into a temporary prefix and runs
// testdata/jupyter_client_check.py. Without jupyter_client the test is
// skipped, unless CI=true, where that is a failure.
func TestJupyterClient(t *testing.T) {
	requireJupyter(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "fakekernel")
	build := exec.Command("go", "build", "-o", bin, "./testdata/fakekernel")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the fake kernel: %v\n%s", err, out)
	}
	data := filepath.Join(tmp, "share", "jupyter")
	err := InstallSpec(filepath.Join(data, "kernels", "ipclab-fake"), Spec{
		Argv: []string{bin, "{connection_file}"}, DisplayName: "ipclab (fake engine)", Language: "go", InterruptMode: "message",
	})
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"JUPYTER_PATH="+data,
		"JUPYTER_RUNTIME_DIR="+filepath.Join(tmp, "runtime"),
		"JUPYTER_DATA_DIR="+filepath.Join(tmp, "data"),
		"JUPYTER_CONFIG_DIR="+filepath.Join(tmp, "config"),
		"IPCLAB_KERNEL_NAME=ipclab-fake",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	runPython(t, env, "testdata", "-m", "unittest", "-v", "jupyter_client_check")
}

// requireJupyter skips the test when Debian's jupyter_client is missing, or
// in -short mode. With CI=true a missing module fails the test and -short
// does not skip it: CI must prove the real thing ran.
func requireJupyter(t *testing.T) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	if testing.Short() && !ci {
		t.Skip("starts real kernels with jupyter_client; skipped in -short mode")
	}
	out, err := exec.Command(python, "-c", "import jupyter_client, jupyter_kernel_test").CombinedOutput()
	if err != nil {
		msg := "Debian's jupyter_client and jupyter_kernel_test are not importable by " + python +
			" (apt-get install python3-jupyter-client python3-jupyter-kernel-test): " + err.Error() + "\n" + string(out)
		if ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// runPython runs python with args in dir, streaming its output into the test
// log line by line, and fails the test if it fails.
func runPython(t *testing.T, env []string, dir string, args ...string) {
	t.Helper()
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-10*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if line := sc.Text(); !noise(line) {
				t.Log(line)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	if err != nil {
		t.Fatalf("%s %s: %v", python, strings.Join(args, " "), err)
	}
}

// noise is debugger chatter some environments make Python print.
func noise(line string) bool {
	return strings.Contains(line, "frozen modules") || strings.Contains(line, "PYDEVD_DISABLE_FILE_VALIDATION") ||
		strings.Contains(line, "to python to disable frozen modules") || strings.Contains(line, "Debugger warning")
}
