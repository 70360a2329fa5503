package ipc

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Blocking calls with a way out.
//
// A C program reads a pipe with one blocking read(2) per message. A
// non-blocking descriptor costs more when the reader is the faster side:
// read (EAGAIN), poll, read — three calls where C makes one, which is what a
// ping-pong over a pipe measures. Sockets have SO_RCVTIMEO for this (see
// timedSocket); pipes, FIFOs and POSIX queues have no timeout, so a
// blocking call on them could not be cancelled, and a dead peer or an
// interrupted cell would leave it asleep.
//
// The way out is a signal. While the harness runs a trial, its loop is on a
// locked OS thread and its receives block (sends rarely wait and stay
// non-blocking: see fdConn.blockOnThread); a watchdog goroutine
// watches the trial's context, the cell's interrupt, the peer and Close,
// and when one of them fires it sends kickSignal to that thread with
// tgkill(2) — again every few milliseconds, since a kick that lands just
// before the call enters the kernel is lost. The Go runtime's handler does
// nothing with a signal nobody asked for, and because this package clears
// SA_RESTART on it, the interrupted call returns EINTR; the caller then
// checks why and returns the error. Outside trials the descriptors are
// non-blocking and the poll path serves any goroutine.

// kickSignal is a real-time signal no Go or glibc code uses (glibc takes
// 32–34). A program that asks for it with signal.Notify gets the kicks too.
const kickSignal = unix.Signal(61)

const saRestart = 0x10000000

var kickSetup struct {
	once sync.Once
	ok   bool
}

// kickReady makes sure a kick interrupts a blocking call (SA_RESTART off),
// and reports whether kicks can be used at all: the Go runtime must have a
// handler on the signal, or a kick would kill the process.
func kickReady() bool {
	kickSetup.once.Do(func() { kickSetup.ok = clearRestart() })
	return kickSetup.ok
}

// clearRestart clears SA_RESTART on kickSignal's handler, keeping the rest of
// the kernel's struct sigaction as the runtime set it (handler, flags,
// restorer, mask: the layout of every 64-bit Linux but mips).
func clearRestart() bool {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		return false
	}
	var act [4]uint64
	if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(kickSignal), 0, uintptr(unsafe.Pointer(&act)), 8, 0, 0); errno != 0 {
		return false
	}
	if act[0] == 0 || act[0] == 1 { // SIG_DFL (would terminate) or SIG_IGN (would not interrupt)
		return false
	}
	if act[1]&saRestart == 0 {
		return true
	}
	act[1] &^= saRestart
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(kickSignal), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	return errno == 0
}

// blockingMode is the state shared by the owner thread and its watchdog.
type blockingMode struct {
	tid    int
	inCall atomic.Bool // the owner is in (or about to enter) a blocking call
	stop   chan struct{}
	done   chan struct{}
}

// watchdogTick is how often the watchdog looks for a reason to kick.
const watchdogTick = 5 * time.Millisecond

// startBlocking puts the calling, locked thread in charge of blocking calls
// and starts the watchdog; why() reports whether a blocked call must end.
// It returns nil if kicks cannot be used here.
func startBlocking(ctx context.Context, why func() bool) *blockingMode {
	if !kickReady() {
		return nil
	}
	b := &blockingMode{tid: unix.Gettid(), stop: make(chan struct{}), done: make(chan struct{})}
	var intr interruptWatch
	intr.err() // asked on the owner's goroutine: the cell's interrupt is found from it
	go func() {
		defer close(b.done)
		t := time.NewTicker(watchdogTick)
		defer t.Stop()
		pid := unix.Getpid()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
			}
			if b.inCall.Load() && (ctx.Err() != nil || intr.err() != nil || why()) {
				clearRestart() // in case signal.Notify re-installed the handler since
				unix.Tgkill(pid, b.tid, kickSignal)
			}
		}
	}()
	return b
}

// end stops the watchdog; no kick is sent after it returns, so the thread
// can go back to the scheduler.
func (b *blockingMode) end() {
	close(b.stop)
	<-b.done
}

// threadBlocker is a Conn that can make blocking calls, one system call per
// message, while the caller's locked thread runs a loop (blockOnThread's
// release ends it).
type threadBlocker interface {
	blockOnThread(ctx context.Context) (release func())
}

// blockOn puts c in blocking mode for the calling goroutine, which must be
// locked to its thread, until the returned function is called.
func blockOn(ctx context.Context, c Conn) (release func()) {
	if b, ok := c.(threadBlocker); ok {
		return b.blockOnThread(ctx)
	}
	return func() {}
}
