package main

import (
	"context"
	"errors"
	"io"
)

func kernelCommand(ctx context.Context, args []string, stderr io.Writer) error {
	return errors.New("not built yet")
}
