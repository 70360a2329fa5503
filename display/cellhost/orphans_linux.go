package cellhost

import (
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

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
	me := os.Getpid()
	for range 3 { // children may fork while we look
		children := map[int][]int{}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			s := string(b)
			if i := strings.LastIndexByte(s, ')'); i >= 0 {
				if f := strings.Fields(s[i+1:]); len(f) > 1 {
					ppid, _ := strconv.Atoi(f[1])
					children[ppid] = append(children[ppid], pid)
				}
			}
		}
		var walk func(int)
		walk = func(p int) {
			for _, c := range children[p] {
				syscall.Kill(c, syscall.SIGKILL)
				walk(c)
			}
		}
		walk(me)
	}
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
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == me {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 2 && f[2] == strconv.Itoa(pg) {
				out = append(out, pid)
			}
		}
	}
	return out
}
