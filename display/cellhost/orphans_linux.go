package cellhost

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/ipclab/ipclab/internal/proctab"
	"golang.org/x/sys/unix"
)

// guardOrphans makes sure nothing a cell started outlives the kernel. The
// kernel starts the session process in a process group of its own with
// PDEATHSIG; here the death signal becomes SIGTERM, on which the session
// kills every process it started — its process group, and, as the child
// subreaper, descendants that moved to a group or session of their own —
// and then itself. The same happens at start if the kernel is already gone.
func guardOrphans() {
	parent := os.Getppid()
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0); err != nil {
		return // the kernel's SIGKILL stays: the session still dies with it
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if os.Getppid() != parent { // the kernel died before the prctl
		killDescendants(137)
	}
	go func() { // owner: the process; it ends the process
		<-term
		killDescendants(137)
	}()
}

// endDescendants ends the session process when the kernel is done with it
// (its command channel closed) and everything it started with it.
func endDescendants() { killDescendants(0) }

// killDescendants SIGKILLs every descendant of this process (found through
// /proc) and the rest of its process group, then exits with code.
func killDescendants(code int) {
	proctab.KillTree(os.Getpid(), false)
	signal.Ignore(syscall.SIGTERM)
	syscall.Kill(0, syscall.SIGTERM) // the group: itself ignores it
	for _, pid := range groupMembers() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	os.Exit(code)
}

// groupMembers lists the other processes of this process group.
func groupMembers() []int {
	me, pg := os.Getpid(), syscall.Getpgrp()
	var out []int
	for _, p := range proctab.List() {
		if p.PGID == pg && p.PID != me {
			out = append(out, p.PID)
		}
	}
	return out
}
