package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/ipclab/ipclab"
	"github.com/ipclab/ipclab/kernel"
	"github.com/ipclab/ipclab/kernel/engine"
)

// kernelCommand runs the kernel for the connection file Jupyter wrote.
func kernelCommand(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return errors.New("usage: ipclab kernel CONNECTION_FILE (Jupyter starts the kernel with it)")
	}
	level := slog.LevelInfo
	if os.Getenv("IPCLAB_DEBUG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	info, err := kernel.ReadConnectionFile(args[0])
	if err != nil {
		return err
	}
	limits, err := engine.LimitsFromEnv(os.Getenv)
	if err != nil {
		return fmt.Errorf("kernel limits: %w", err)
	}
	logger.Info("limits of the session process", "limits", limits.String())
	eng, err := engine.New(engine.Options{Source: ipclab.Source, Logger: logger, CompileAll: os.Getenv("IPCLAB_COMPILE_ALL") != "", Limits: limits})
	if err != nil {
		return err
	}
	return kernel.Serve(ctx, info, eng, kernel.Options{
		Logger:                logger,
		LanguageVersion:       eng.GoVersion(),
		ImplementationVersion: version,
		Banner:                "ipclab " + version + ": Go cells compiled by the Go toolchain, values kept between cells",
	})
}
