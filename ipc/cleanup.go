package ipc

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/ipclab/ipclab/internal/proctab"
	"golang.org/x/sys/unix"
)

// Every named resource this package creates — POSIX shared-memory segments,
// SysV segments and queues, POSIX message queues, FIFOs, socket paths and
// mapped files — carries the per-process prefix "ipclab-PID-RAND" and is
// written to a ledger file, Dir()/PREFIX.ledger, before it is used. Close
// removes a resource and, when none is left, the ledger. A process that
// crashed leaves its ledger behind; Sweep (run automatically before the first
// resource of a process is created, and by the kernel at start and shutdown)
// reads the ledgers of dead processes and removes what they list, then scans
// /dev/shm, /dev/mqueue and Dir() for names whose PID is dead.
//
// On a machine shared by many users nothing here trusts what another user
// could have written:
//   - Dir() is per user ($TMPDIR/ipclab-uid-UID), made 0700, and used only
//     when it is a real directory (not a symlink) owned by the user;
//   - a ledger is created with O_EXCL|O_NOFOLLOW and read with O_NOFOLLOW,
//     only when it is a regular file owned by the sweeping user;
//   - a ledger entry names an object by its name, which must carry the
//     ledger's own prefix: no directories, no "..", no other process's
//     objects (a socket or FIFO outside Dir(), made with Options.Dir, is an
//     absolute clean path whose last element carries the prefix);
//   - nothing is removed unless it is owned by the sweeping user (file owner,
//     or the SysV object's owner), whoever runs the sweep, root included.

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
// ledgers are made: $TMPDIR/ipclab-uid-UID, private to the user (0700).
func Dir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("ipclab-uid-%d", os.Geteuid()))
}

// ErrUnsafeDir is returned when a directory ipclab would create files in is
// not safe to use: a symlink, not a directory, or owned by another user.
var ErrUnsafeDir = errors.New("unsafe directory")

// privateDir makes dir (one level; its parent must exist) if it is missing
// and checks that it is a directory, not a symlink, owned by the effective
// user; it then makes it 0700. Another user who squats the name gets a
// clear refusal, never a chmod of their target.
func privateDir(dir string) error {
	if err := unix.Mkdir(dir, 0o700); err != nil && err != unix.EEXIST {
		if err == unix.ENOENT {
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err == nil {
				return privateDir(dir)
			}
		}
		return fmt.Errorf("make private directory %s: %w", dir, err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ELOOP || err == unix.ENOTDIR {
			return fmt.Errorf("use %s: %w: it is a symlink or not a directory; remove it or set TMPDIR", dir, ErrUnsafeDir)
		}
		return fmt.Errorf("open private directory %s: %w", dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat private directory %s: %w", dir, err)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("use %s: %w: it belongs to uid %d, not to uid %d; remove it or set TMPDIR", dir, ErrUnsafeDir, st.Uid, os.Geteuid())
	}
	if st.Mode&0o7777 != 0o700 {
		if err := unix.Fchmod(fd, 0o700); err != nil {
			return fmt.Errorf("make %s private: %w", dir, err)
		}
	}
	return nil
}

// ensureDir prepares dir for FIFOs and sockets: Dir() is checked as private;
// a directory the caller chose (Options.Dir) is created 0700 if missing.
func ensureDir(dir string) error {
	if dir == Dir() {
		return privateDir(dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make directory %s: %w", dir, err)
	}
	return nil
}

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
		if err := privateDir(Dir()); err != nil {
			return fmt.Errorf("create resource ledger: %w", err)
		}
		path := filepath.Join(Dir(), s.prefix+".ledger")
		fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("create resource ledger %s: %w", path, err)
		}
		f := os.NewFile(uintptr(fd), path)
		fmt.Fprintf(f, "%d %s\n", os.Getpid(), startTime(os.Getpid()))
		s.file = f
	}
	s.live[kind+" "+name] = kind
	if trackHook != nil {
		trackHook(kind, name)
	}
	if _, err := fmt.Fprintf(s.file, "%s %s\n", kind, ledgerName(kind, name)); err != nil {
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

// ledgerName is how a resource is written in the ledger: a path in Dir()
// by its base name, everything else as it is named.
func ledgerName(kind, name string) string {
	if kind == resPath && filepath.Dir(name) == Dir() {
		return filepath.Base(name)
	}
	return name
}

// maxLedger bounds how much of a ledger Sweep reads.
const maxLedger = 1 << 20

// ledgerEntry checks one line of the ledger whose prefix is prefix and
// returns the resource it names, or ok == false for anything that does not
// name an object of that prefix: another process's name, a path, "..".
func ledgerEntry(prefix, line string) (kind, name string, ok bool) {
	kind, name, ok = strings.Cut(line, " ")
	if !ok || strings.Contains(name, "..") || strings.ContainsAny(name, "\x00\n") {
		return "", "", false
	}
	own := func(base string) bool { return strings.HasPrefix(base, prefix+"-") }
	switch kind {
	case resShm, resMQ:
		base, found := strings.CutPrefix(name, "/")
		return kind, name, found && !strings.Contains(base, "/") && own(base)
	case resPath:
		if !strings.Contains(name, "/") {
			return kind, filepath.Join(Dir(), name), own(name)
		}
		// Options.Dir: an absolute clean path to one of our names.
		return kind, name, filepath.IsAbs(name) && filepath.Clean(name) == name && own(filepath.Base(name))
	case resSysvShm, resSysvMsg:
		id, err := strconv.Atoi(name)
		return kind, name, err == nil && id >= 0
	}
	return "", "", false
}

// ownedByMe reports whether a resource belongs to the effective user, and
// for SysV shared memory, was created by pid. Sweep removes nothing else.
func ownedByMe(kind, name string, pid int) bool {
	uid := uint32(os.Geteuid())
	fileOwned := func(path string) bool {
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return false
		}
		t := st.Mode & unix.S_IFMT
		return st.Uid == uid && t != unix.S_IFDIR && t != unix.S_IFLNK
	}
	switch kind {
	case resShm:
		return fileOwned(filepath.Join("/dev/shm", strings.TrimPrefix(name, "/")))
	case resPath:
		return fileOwned(name)
	case resMQ:
		fd, err := mqOpen(name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, nil)
		if err != nil {
			return false
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		return unix.Fstat(fd, &st) == nil && st.Uid == uid
	case resSysvShm:
		id, _ := strconv.Atoi(name)
		var d unix.SysvShmDesc
		if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &d); err != nil {
			return false
		}
		return d.Perm.Uid == uid && (pid == 0 || int(d.Cpid) == pid)
	case resSysvMsg:
		id, _ := strconv.Atoi(name)
		owner, ok := msgOwner(id)
		return ok && owner == uid
	}
	return false
}

// Sweep removes what processes that died without cleaning up left behind:
// everything in their ledgers, and any /dev/shm, /dev/mqueue and Dir() entry
// named "ipclab-PID-…" whose PID is no longer running. Resources of live
// processes, and anything not owned by the calling user, are never touched.
// It returns how many resources it removed.
func Sweep() (int, error) {
	removed := 0
	var errs []error
	dirErr := privateDir(Dir()) // another user's directory or a symlink: read nothing from it
	if dirErr != nil {
		errs = append(errs, dirErr)
	} else {
		ledgers, _ := filepath.Glob(filepath.Join(Dir(), "ipclab-*.ledger"))
		for _, path := range ledgers {
			n, err := sweepLedger(path)
			removed += n
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	uid := uint32(os.Geteuid())
	scan := func(dir string, remove func(string) error) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			pid := pidOf(e.Name())
			if pid == 0 || pid == os.Getpid() || proctab.Alive(pid) || strings.HasSuffix(e.Name(), ".ledger") {
				continue
			}
			var st unix.Stat_t
			if unix.Lstat(filepath.Join(dir, e.Name()), &st) != nil || st.Uid != uid || st.Mode&unix.S_IFMT == unix.S_IFLNK {
				continue // not ours to remove
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
	if dirErr == nil {
		scan(Dir(), func(n string) error { return os.RemoveAll(filepath.Join(Dir(), n)) })
	}
	return removed, errors.Join(errs...)
}

// sweepLedger removes what the ledger at path lists if its process is dead,
// then the ledger. A ledger that is not a regular file of the sweeping user,
// or whose name is not "ipclab-PID-RAND.ledger", is left alone.
func sweepLedger(path string) (int, error) {
	prefix := strings.TrimSuffix(filepath.Base(path), ".ledger")
	if prefix == session.prefix || !validPrefix(prefix) {
		return 0, nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, nil
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() {
		return 0, nil
	}
	sc := bufio.NewScanner(io.LimitReader(f, maxLedger))
	if !sc.Scan() {
		return 0, nil
	}
	var pid int
	var start string
	fmt.Sscan(sc.Text(), &pid, &start)
	if pid != pidOf(prefix) {
		return 0, nil
	}
	if proctab.Alive(pid) && (start == "" || startTime(pid) == start) {
		return 0, nil
	}
	removed := 0
	var errs []error
	for sc.Scan() {
		kind, name, ok := ledgerEntry(prefix, sc.Text())
		if !ok || !exists(kind, name) || !ownedByMe(kind, name, pid) {
			continue
		}
		if err := removeResource(kind, name); err != nil {
			errs = append(errs, err)
		} else {
			removed++
		}
	}
	os.Remove(path)
	return removed, errors.Join(errs...)
}

// validPrefix reports whether p is "ipclab-PID-HEX".
func validPrefix(p string) bool {
	rest, ok := strings.CutPrefix(p, "ipclab-")
	if !ok {
		return false
	}
	pid, rnd, ok := strings.Cut(rest, "-")
	if n, err := strconv.Atoi(pid); err != nil || n <= 0 || !ok || rnd == "" {
		return false
	}
	_, err := hex.DecodeString(rnd)
	return err == nil
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
