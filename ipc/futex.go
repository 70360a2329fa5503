package ipc

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futexes here are shared (not FUTEX_PRIVATE) so that they work between
// processes that map the same memory.

// futexWait sleeps while *addr == val, for at most d (d <= 0: no limit).
// Spurious wake-ups are possible; callers re-check their condition.
func futexWait(addr *uint32, val uint32, d time.Duration) {
	var ts *unix.Timespec
	if d > 0 {
		t := unix.NsecToTimespec(int64(d))
		ts = &t
	}
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp, uintptr(val), uintptr(unsafe.Pointer(ts)), 0, 0)
}

// futexWake wakes up to n sleepers on addr.
func futexWake(addr *uint32, n int) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp, uintptr(n), 0, 0, 0)
}

// schedYield gives the CPU to another thread of the machine (not just another
// goroutine, which is what runtime.Gosched does).
func schedYield() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// loadAcquire32 and friends keep the intent readable at call sites.
func load32(p *uint32) uint32 { return atomic.LoadUint32(p) }

const (
	futexWaitOp = 0 // FUTEX_WAIT, shared
	futexWakeOp = 1 // FUTEX_WAKE, shared
)
