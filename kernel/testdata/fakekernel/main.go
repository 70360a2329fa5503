// Command fakekernel is the ipclab kernel with the scripted fake engine, so
// that the protocol layer can be checked with the real jupyter_client
// without building Go cells. Usage: fakekernel CONNECTION_FILE.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipclab/ipclab/kernel"
	"github.com/ipclab/ipclab/kernel/testdata/fakeengine"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fakekernel CONNECTION_FILE")
		os.Exit(2)
	}
	level := slog.LevelInfo
	if os.Getenv("IPCLAB_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	info, err := kernel.ReadConnectionFile(os.Args[1])
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := kernel.Serve(ctx, info, &fakeengine.Engine{}, kernel.Options{Logger: log, ImplementationVersion: "fake"}); err != nil {
		log.Error("kernel failed", "err", err)
		os.Exit(1)
	}
}
