package ipc

import (
	"context"
	"fmt"

	"github.com/ipclab/ipclab/internal/sessionhook"
)

// In ipclab's session process, an interrupt of the running cell reaches
// this package through internal/interrupt (ipc never imports the kernel):
// Run, Spawn, CountTogether and Peer.Wait add it to their context, and a
// Conn's or Ring's wait checks it while it waits. The call then returns an
// error wrapping context.Canceled within milliseconds, after stopping the
// workers and removing the segments it made; workers a cell spawned are
// killed and their connection closed when that cell is interrupted.
// Elsewhere (tests, ipclab bench, workers) this costs one atomic load.

// interruptible returns ctx joined with the interrupt of the running cell,
// when the caller is that cell's goroutine; release frees what it took.
func interruptible(ctx context.Context) (_ context.Context, release func()) {
	ic := sessionhook.Context()
	if ic == nil {
		return ctx, func() {}
	}
	joined, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(ic, func() { cancel(errInterrupted) })
	return joined, func() { stop(); cancel(nil) }
}

// errInterrupted is how an interrupted call ends: errors.Is(err,
// context.Canceled) holds.
var errInterrupted = fmt.Errorf("%w: %w", context.Canceled, sessionhook.ErrInterrupted)

// interruptWatch checks, in a wait loop, whether the running cell was
// interrupted. The first check asks internal/interrupt once; later ones cost
// a channel poll.
type interruptWatch struct {
	asked bool
	done  <-chan struct{}
}

func (w *interruptWatch) err() error {
	if !w.asked {
		w.asked = true
		if ic := sessionhook.Context(); ic != nil {
			w.done = ic.Done()
		}
	}
	if w.done == nil {
		return nil
	}
	select {
	case <-w.done:
		return errInterrupted
	default:
		return nil
	}
}
