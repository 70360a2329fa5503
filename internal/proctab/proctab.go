// Package proctab reads the process table from /proc: each process's
// parent, process group and state. The kernel, the session process and the
// grader use it to find every process a cell started, including those that
// left the cell's process group, so that nothing outlives its owner.
//
// A process may exit or fork while the table is read: callers that must not
// miss one read it again (see KillTree).
package proctab

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
)

// Proc is one line of the table.
type Proc struct {
	PID, PPID, PGID int
	State           byte // 'R', 'S', 'Z', … as in /proc/PID/stat
}

// List reads the table; processes that vanish while it is read are left out.
func List() []Proc {
	ents, _ := os.ReadDir("/proc")
	out := make([]Proc, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 3 || len(f[0]) == 0 {
			continue
		}
		ppid, _ := strconv.Atoi(string(f[1]))
		pgid, _ := strconv.Atoi(string(f[2]))
		out = append(out, Proc{PID: pid, PPID: ppid, PGID: pgid, State: f[0][0]})
	}
	return out
}

// Alive reports whether pid runs. A zombie does not: it holds nothing, and
// stays until its parent reaps it (a kernel killed with -9 stays one until
// the server that started it notices).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if i := bytes.LastIndexByte(b, ')'); err == nil && i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return false
	}
	return true
}

// Children maps each parent PID to its children's PIDs.
func Children(procs []Proc) map[int][]int {
	m := map[int][]int{}
	for _, p := range procs {
		m[p.PPID] = append(m[p.PPID], p.PID)
	}
	return m
}

// KillTree sends SIGKILL to every descendant of pid, and to pid itself when
// withRoot is set. The table is read before each round, since a killed
// process's children are handed to another parent, and three times, since
// a child may fork while its parent is being killed.
func KillTree(pid int, withRoot bool) {
	for round := range 3 {
		children := Children(List())
		if withRoot && round == 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		var walk func(int)
		walk = func(p int) {
			for _, c := range children[p] {
				syscall.Kill(c, syscall.SIGKILL)
				walk(c)
			}
		}
		walk(pid)
	}
}
