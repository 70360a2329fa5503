package ipc

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Every named resource this package creates — POSIX shared-memory segments,
// SysV segments and queues, POSIX message queues, FIFOs, socket paths and
// mapped files — carries the per-process prefix "ipclab-PID-RAND" and is
// written to a ledger file, Dir()/PREFIX.ledger, before it is used. Close
// removes a resource and, when none is left, the ledger. A process that
// crashed leaves its ledger behind; Sweep (run automatically before the first
// resource of a process is created) reads the ledgers of dead processes and
// removes what they list, then scans /dev/shm, /dev/mqueue and Dir() for
// names whose PID is dead.

// resource kinds as written in the ledger
const (
	resShm     = "shm"     // POSIX shm name, e.g. /ipclab-1-ab
	resPath    = "path"    // file system path: FIFO, socket, mapped file
	resMQ      = "mq"      // POSIX message queue name
	resSysvShm = "sysvshm" // SysV shared memory id
	resSysvMsg = "sysvmsg" // SysV message queue id
)

type ledger struct {
	mu     sync.Mutex
	prefix string
	n      int
	file   *os.File
	live   map[string]string // "kind name" -> kind
	swept  sync.Once
}

var session = func() *ledger {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return &ledger{
		prefix: fmt.Sprintf("ipclab-%d-%s", os.Getpid(), hex.EncodeToString(b[:])),
		live:   map[string]string{},
	}
}()

// Prefix returns this process's resource-name prefix, "ipclab-PID-RAND".
func Prefix() string { return session.prefix }

// Dir returns the directory where FIFOs, socket files, mapped files and
// ledgers are made: $TMPDIR/ipclab.
func Dir() string { return filepath.Join(os.TempDir(), "ipclab") }

// newName returns a fresh resource name with this process's prefix.
func newName(what string) string {
	session.mu.Lock()
	defer session.mu.Unlock()
	session.n++
	return fmt.Sprintf("%s-%d-%s", session.prefix, session.n, what)
}

// track records a resource in the ledger before it is relied on; untrack
// forgets it once removed.
func track(kind, name string) error {
	s := session
	s.swept.Do(func() { _, _ = Sweep() })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		if err := os.MkdirAll(Dir(), 0o1777); err != nil {
			return fmt.Errorf("create ipclab directory: %w", err)
		}
		_ = os.Chmod(Dir(), 0o1777)
		f, err := os.OpenFile(filepath.Join(Dir(), s.prefix+".ledger"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("create resource ledger: %w", err)
		}
		fmt.Fprintf(f, "%d %s\n", os.Getpid(), startTime(os.Getpid()))
		s.file = f
	}
	s.live[kind+" "+name] = kind
	if trackHook != nil {
		trackHook(kind, name)
	}
	if _, err := fmt.Fprintf(s.file, "%s %s\n", kind, name); err != nil {
		return fmt.Errorf("write resource ledger: %w", err)
	}
	return nil
}

// trackHook, set by tests, sees every resource as it is recorded.
var trackHook func(kind, name string)

func untrack(kind, name string) {
	s := session
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, kind+" "+name)
	if len(s.live) == 0 && s.file != nil {
		path := s.file.Name()
		s.file.Close()
		s.file = nil
		os.Remove(path)
	}
}

// release removes a resource and forgets it. Missing resources are not an error.
func release(kind, name string) error {
	err := removeResource(kind, name)
	untrack(kind, name)
	return err
}

// Leftovers lists the resources this process has created and not yet
// removed, as "kind name" strings. Tests use it to check that nothing leaks.
func Leftovers() []string {
	s := session
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.live {
		out = append(out, k)
	}
	return out
}

func removeResource(kind, name string) error {
	var err error
	switch kind {
	case resShm:
		err = os.Remove(filepath.Join("/dev/shm", strings.TrimPrefix(name, "/")))
	case resPath:
		err = os.Remove(name)
	case resMQ:
		err = mqUnlink(name)
	case resSysvShm:
		id, _ := strconv.Atoi(name)
		_, err = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
			err = nil
		}
	case resSysvMsg:
		id, _ := strconv.Atoi(name)
		err = msgRemove(id)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
			err = nil
		}
	}
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("remove %s %s: %w", kind, name, err)
	}
	return nil
}

// startTime is the process start time (field 22 of /proc/PID/stat), used to
// tell a live process from a later one that reused its PID.
func startTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		f := strings.Fields(s[i+1:])
		if len(f) > 19 {
			return f[19]
		}
	}
	return ""
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// pidOf returns the PID in a name "ipclab-PID-…", or 0.
func pidOf(name string) int {
	name = strings.TrimPrefix(name, "/")
	rest, ok := strings.CutPrefix(name, "ipclab-")
	if !ok {
		return 0
	}
	p, _, _ := strings.Cut(rest, "-")
	pid, _ := strconv.Atoi(p)
	return pid
}

// Sweep removes what processes that died without cleaning up left behind:
// everything in their ledgers, and any /dev/shm, /dev/mqueue and Dir() entry
// named "ipclab-PID-…" whose PID is no longer running. Resources of live
// processes are never touched. It returns how many resources it removed.
func Sweep() (int, error) {
	removed := 0
	var errs []error
	ledgers, _ := filepath.Glob(filepath.Join(Dir(), "ipclab-*.ledger"))
	for _, path := range ledgers {
		if filepath.Base(path) == session.prefix+".ledger" {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		var entries [][2]string
		dead := true
		if sc.Scan() {
			var pid int
			var st string
			fmt.Sscan(sc.Text(), &pid, &st)
			if alive(pid) && (st == "" || startTime(pid) == st) {
				dead = false
			}
		}
		for dead && sc.Scan() {
			kind, name, ok := strings.Cut(sc.Text(), " ")
			if ok {
				entries = append(entries, [2]string{kind, name})
			}
		}
		f.Close()
		if !dead {
			continue
		}
		for _, e := range entries {
			if exists(e[0], e[1]) {
				if err := removeResource(e[0], e[1]); err != nil {
					errs = append(errs, err)
				} else {
					removed++
				}
			}
		}
		os.Remove(path)
	}
	scan := func(dir string, remove func(string) error) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			pid := pidOf(e.Name())
			if pid == 0 || pid == os.Getpid() || alive(pid) || strings.HasSuffix(e.Name(), ".ledger") {
				continue
			}
			if err := remove(e.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			} else {
				removed++
			}
		}
	}
	scan("/dev/shm", func(n string) error { return os.Remove(filepath.Join("/dev/shm", n)) })
	scan("/dev/mqueue", func(n string) error { return mqUnlink("/" + n) })
	scan(Dir(), func(n string) error { return os.RemoveAll(filepath.Join(Dir(), n)) })
	return removed, errors.Join(errs...)
}

// exists reports whether a ledger entry still names a live resource.
func exists(kind, name string) bool {
	switch kind {
	case resShm:
		_, err := os.Stat(filepath.Join("/dev/shm", strings.TrimPrefix(name, "/")))
		return err == nil
	case resPath:
		_, err := os.Lstat(name)
		return err == nil
	case resMQ:
		return mqExists(name)
	case resSysvShm:
		id, _ := strconv.Atoi(name)
		var d unix.SysvShmDesc
		_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &d)
		return err == nil
	case resSysvMsg:
		id, _ := strconv.Atoi(name)
		return msgExists(id)
	}
	return false
}
