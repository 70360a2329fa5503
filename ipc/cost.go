package ipc

import (
	"golang.org/x/sys/unix"
)

// usage is what one side of a transport spent over a run of messages: the
// system calls ipc made for it, and the CPU time and context switches of
// the thread that ran the side's loop. The peer sends its own in its
// "done" report.
type usage struct {
	Calls   int64 `json:"calls"`
	Counted bool  `json:"counted"` // Calls is meaningful (see syscallsOf)
	Thread  bool  `json:"thread"`  // the CPU fields are the loop thread's
	UserNs  int64 `json:"user_ns"`
	SysNs   int64 `json:"sys_ns"`
	Nvcsw   int64 `json:"nvcsw"`
	Nivcsw  int64 `json:"nivcsw"`
}

// syscallCounter is implemented by the Conns whose system calls ipc makes
// itself and counts: descriptors (pipes, FIFOs, sockets, POSIX queues),
// SysV queues and rings (futex and sched_yield).
type syscallCounter interface{ syscalls() int64 }

// syscallsOf returns the number of system calls c has made, and whether c
// counts them (zmq's are made by go-zeromq and the Go runtime; chan and
// shm-mutex make none of their own, but park goroutines in the runtime).
func syscallsOf(c Conn) (int64, bool) {
	if sc, ok := c.(syscallCounter); ok {
		return sc.syscalls(), true
	}
	return 0, false
}

// threadLocked reports whether the harness runs c's loops on a locked OS
// thread (so that getrusage(RUSAGE_THREAD) describes them). In-process
// baselines are not locked: a goroutine on a locked thread that blocks on a
// channel hands its thread over at a cost that would distort them.
func threadLocked(c Conn) bool {
	switch c.(type) {
	case *chanConn, *mutexConn:
		return false
	}
	return true
}

// sideUsage samples c's counters and, if thread is true, the calling
// thread's rusage. The caller must be on a locked thread for the latter.
func sideUsage(c Conn, thread bool) usage {
	var u usage
	u.Calls, u.Counted = syscallsOf(c)
	if thread {
		var ru unix.Rusage
		if unix.Getrusage(unix.RUSAGE_THREAD, &ru) == nil {
			u.Thread = true
			u.UserNs = ru.Utime.Nano()
			u.SysNs = ru.Stime.Nano()
			u.Nvcsw = ru.Nvcsw
			u.Nivcsw = ru.Nivcsw
		}
	}
	return u
}

// since returns what was spent between the samples before and u.
func (u usage) since(before usage) usage {
	return usage{
		Calls: u.Calls - before.Calls, Counted: u.Counted && before.Counted, Thread: u.Thread && before.Thread,
		UserNs: u.UserNs - before.UserNs, SysNs: u.SysNs - before.SysNs,
		Nvcsw: u.Nvcsw - before.Nvcsw, Nivcsw: u.Nivcsw - before.Nivcsw,
	}
}

// add accumulates v (a run of one trial) into u; first says u is empty.
func (u *usage) add(v usage, first bool) {
	if first {
		*u = v
		return
	}
	u.Calls += v.Calls
	u.Counted = u.Counted && v.Counted
	u.Thread = u.Thread && v.Thread
	u.UserNs += v.UserNs
	u.SysNs += v.SysNs
	u.Nvcsw += v.Nvcsw
	u.Nivcsw += v.Nivcsw
}

// perMessage turns a total over n messages into Costs.
func (u usage) perMessage(n int64) Costs {
	if n <= 0 {
		return Costs{}
	}
	f := float64(n)
	c := Costs{SyscallsCounted: u.Counted}
	if u.Counted {
		c.Syscalls = float64(u.Calls) / f
	}
	if u.Thread {
		c.CPUCounted = true
		c.UserNs = float64(u.UserNs) / f
		c.SysNs = float64(u.SysNs) / f
		c.VoluntarySwitches = float64(u.Nvcsw) / f
		c.InvoluntarySwitches = float64(u.Nivcsw) / f
	}
	return c
}
