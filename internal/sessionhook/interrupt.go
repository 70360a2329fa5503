// Package sessionhook is the seam between ipclab's session process
// (display/cellhost) and package ipc, which must not import the kernel. It
// carries two things:
//
//   - the kernel's interrupt of the running cell, which ipc's blocking calls
//     watch (this file);
//   - a worker process's role, which ipc leaves here when the worker was
//     registered by a cell, so that the session program loads the cells'
//     plugins before it runs the worker (worker.go).
//
// The session process's loop (display/cellhost) calls Begin before each
// cell, SetCellThread on the cell's own OS thread, and Fire when the kernel
// asks for an interrupt. Package ipc asks Context at the start of its
// blocking calls (Run, Spawn, CountTogether, Peer.Wait, a Conn's or Ring's
// wait) and adds it to the caller's context, so that they return within
// milliseconds, with their workers and segments removed, instead of
// blocking until the kernel has to restart the session process.
//
// Outside the session process (a test binary, ipclab bench, a worker)
// nothing calls Begin and Context returns nil: ipc's calls behave exactly as
// their context says.
package sessionhook

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ErrInterrupted is the cause of a context cancelled by an interrupt.
var ErrInterrupted = errors.New("interrupted (the kernel's interrupt of the running cell)")

var (
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelCauseFunc
	// cleanups run when an interrupted cell has ended.
	cleanups []func()
	// cellTID is the OS thread of the running cell's own goroutine (0: none).
	cellTID atomic.Int64
)

// Begin starts a new cell with a new context for the calls it makes.
// Contexts handed out to earlier cells are never cancelled after they end:
// an interrupt stops only what the interrupted cell started.
func Begin() {
	mu.Lock()
	defer mu.Unlock()
	ctx, cancel = context.WithCancelCause(context.Background())
}

// AfterInterrupt registers f to run once the running cell has ended, if it
// was interrupted: package ipc stops the workers the cell spawned then, when
// no call of the cell uses their connections any more.
func AfterInterrupt(f func()) {
	mu.Lock()
	defer mu.Unlock()
	cleanups = append(cleanups, f)
}

// End is called when the cell's own goroutine has returned: it runs the
// AfterInterrupt functions if the cell was interrupted, and forgets them.
func End() {
	mu.Lock()
	fs := cleanups
	cleanups = nil
	interrupted := ctx != nil && ctx.Err() != nil
	mu.Unlock()
	if interrupted {
		for _, f := range fs {
			f()
		}
	}
}

// Fire cancels the running cell's context.
func Fire() {
	mu.Lock()
	defer mu.Unlock()
	if cancel != nil {
		cancel(ErrInterrupted)
	}
}

// SetCellThread records the OS thread the running cell's goroutine is
// locked to (0: no cell runs).
func SetCellThread(tid int64) { cellTID.Store(tid) }

// Context returns the running cell's interrupt context when the caller is
// the cell's own goroutine in a session process, and nil otherwise:
// goroutines a cell started keep running through an interrupt, as the
// README's cell rules say, so their calls are not cancelled.
func Context() context.Context {
	tid := cellTID.Load()
	if tid == 0 || int64(unix.Gettid()) != tid {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	return ctx
}
