package ipc

import (
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Blocking calls with a way out.
//
// A C program reads a pipe with one blocking read(2) per message. A
// non-blocking descriptor costs more when the reader is the faster side:
// read (EAGAIN), poll, read — three calls where C makes one, which is what a
// ping-pong over a pipe measures. And a blocking call made the Go way
// (syscall.Syscall) tells the scheduler it is leaving and coming back:
// when it sleeps in the kernel, the runtime's monitor thread wakes up, may
// hand the goroutine's processor to another thread, and the thread must get
// one back when the call returns. On a stream of small messages that made
// tens of thousands of context switches a second that a C program does not
// make, on the same two cores as the measurement.
//
// So while the harness runs a trial, its loop is on a locked OS thread and
// receives with blocking raw calls (no scheduler hooks; sockets send that
// way too once a send has had to wait). What ends such a call is a signal:
// a kernel timer (timer_create, SIGEV_THREAD_ID) sends kickSignal to that
// thread every kickPeriod. The Go runtime's handler does nothing with a
// signal nobody asked for, and because this package clears SA_RESTART on
// it, an interrupted call returns EINTR; the loop then checks its context,
// the cell's interrupt, Close and the peer, and calls again or returns the
// error. kickPeriod bounds how long a cancelled or orphaned call lasts, and
// how long the runtime waits for the thread when it stops the world for the
// garbage collector (a raw call cannot be preempted). Nothing runs between
// kicks: no watchdog goroutine, no wake-ups of the monitor thread. Outside
// trials the descriptors are non-blocking and the poll path serves any
// goroutine.

// kickSignal is a real-time signal no Go or glibc code uses (glibc takes
// 32–34). A program that asks for it with signal.Notify gets the kicks too.
const kickSignal = unix.Signal(61)

const saRestart = 0x10000000

// clearRestart makes sure a kick interrupts a blocking call: it clears
// SA_RESTART on kickSignal's handler, keeping the rest of the kernel's
// struct sigaction as the runtime set it (handler, flags, restorer, mask:
// the layout of every 64-bit Linux but mips). It reports whether kicks can
// be used at all: the Go runtime must have a handler on the signal, or a
// kick would kill the process.
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

// kickPeriod is how often a thread in blocking mode is kicked.
const kickPeriod = 10 * time.Millisecond

// blockingMode is a thread's blocking mode: the kernel timer that kicks it.
type blockingMode struct {
	timer int32 // timer_create's id
}

// sigevent is the kernel's struct sigevent for SIGEV_THREAD_ID.
type sigevent struct {
	value  uint64
	signo  int32
	notify int32
	tid    int32
	_      [44]byte
}

const sigevThreadID = 4

// startBlocking puts the calling, locked thread in blocking mode: from now
// until end, kickSignal interrupts whatever call it is in every
// kickPeriod. It returns nil if kicks cannot be used here.
func startBlocking() *blockingMode {
	if !clearRestart() { // each time: signal.Notify may have re-installed the handler since
		return nil
	}
	ev := sigevent{signo: int32(kickSignal), notify: sigevThreadID, tid: int32(unix.Gettid())}
	var id int32
	if _, _, errno := unix.RawSyscall(unix.SYS_TIMER_CREATE, unix.CLOCK_MONOTONIC, uintptr(unsafe.Pointer(&ev)), uintptr(unsafe.Pointer(&id))); errno != 0 {
		return nil
	}
	period := unix.NsecToTimespec(int64(kickPeriod))
	spec := unix.ItimerSpec{Interval: period, Value: period}
	if _, _, errno := unix.RawSyscall6(unix.SYS_TIMER_SETTIME, uintptr(id), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); errno != 0 {
		unix.RawSyscall(unix.SYS_TIMER_DELETE, uintptr(id), 0, 0)
		return nil
	}
	return &blockingMode{timer: id}
}

// end stops the kicks. (One already on its way may still arrive: the
// runtime ignores it, and a call it interrupts returns EINTR, as after any
// signal without SA_RESTART.)
func (b *blockingMode) end() {
	unix.RawSyscall(unix.SYS_TIMER_DELETE, uintptr(b.timer), 0, 0)
}

// threadBlocker is a Conn that can make blocking calls, one system call per
// message, while the caller's locked thread runs a loop (blockOnThread's
// release ends it).
type threadBlocker interface {
	blockOnThread() (release func())
}

// blockOn puts c in blocking mode for the calling goroutine, which must be
// locked to its thread, until the returned function is called. The loop
// checks its context whenever a kick ends a call.
func blockOn(c Conn) (release func()) {
	if b, ok := c.(threadBlocker); ok {
		return b.blockOnThread()
	}
	return func() {}
}
