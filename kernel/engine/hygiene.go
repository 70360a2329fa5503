package engine

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/ipclab/ipclab/internal/proctab"
	"github.com/ipclab/ipclab/ipc"
)

// What a session leaves behind is removed by the engine, whatever way the
// session ended:
//   - ipc objects (segments, queues, SysV objects, FIFOs, sockets, ledgers)
//     of sessions that are no longer running are swept by ipc.Sweep when an
//     engine starts (a kernel killed with -9 left them), when it closes, and
//     when a session process is replaced;
//   - processes a cell or a !shell command started are in the session's
//     process group, killed with it; the session process kills all its
//     descendants when the kernel dies (display/cellhost, orphans_linux.go);
//   - the go command's and the linker's temporary directories go to a
//     directory inside the session's workspace, emptied after an
//     interrupted build and removed with the workspace.

// sweepIPC removes the ipc objects of processes that are gone.
func (e *Engine) sweepIPC(when string) {
	n, err := ipc.Sweep()
	if n > 0 || err != nil {
		e.log.Info("removed ipc objects of ended sessions", "when", when, "removed", n, "err", err)
	}
}

// goTempDir is where go build and the linker make temporary directories.
func goTempDir(ws string) string { return filepath.Join(ws, "gotmp") }

// privateGoTemp gives one go command a temporary directory of its own
// inside the workspace's goTempDir (when env has one) and returns the
// environment that uses it and a function that removes it, which callers
// run when the command has ended, however it ended: killed at an
// interrupt, go build and the linker leave their go-build*/go-link-*
// directories behind.
func privateGoTemp(env []string) ([]string, func()) {
	for i, kv := range env {
		dir, ok := strings.CutPrefix(kv, "TMPDIR=")
		if !ok || filepath.Base(dir) != "gotmp" {
			continue
		}
		tmp, err := os.MkdirTemp(dir, "cmd-")
		if err != nil {
			return env, func() {}
		}
		out := append([]string(nil), env...)
		out[i] = "TMPDIR=" + tmp
		for j, kv := range out {
			if strings.HasPrefix(kv, "GOTMPDIR=") {
				out[j] = "GOTMPDIR=" + tmp
			}
		}
		return out, func() { os.RemoveAll(tmp) }
	}
	return env, func() {}
}

// killTree SIGKILLs pid and every descendant of it.
func killTree(pid int) { proctab.KillTree(pid, true) }
