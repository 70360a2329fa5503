package main

import (
	"context"
	"errors"
	"io"
)

// benchCommand is replaced by the ipc work (issue 3).
func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not built yet")
}

func workerCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not built yet")
}
