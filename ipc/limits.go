package ipc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNoRoom: a segment is larger than what the machine can give it: free
// space where it lives, available memory or a resource limit. The wrapping
// error names the limit and its value.
var ErrNoRoom = errors.New("not enough room")

// checkRoom refuses a segment of size bytes that the machine cannot hold,
// before anything is created: one call must not fill /dev/shm or the
// machine's memory (the OOM killer then takes the session, and a file the
// size of RAM stays in /dev/shm).
func checkRoom(kind SegmentKind, size int) error {
	fail := func(limit string, have uint64) error {
		return fmt.Errorf("%w: %d bytes asked, but %s is %d bytes", ErrNoRoom, size, limit, have)
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_AS, &rl) == nil && rl.Cur != unix.RLIM_INFINITY && uint64(size) > rl.Cur {
		return fail("RLIMIT_AS (ulimit -v)", rl.Cur)
	}
	switch kind {
	case PosixShm, MappedFile:
		if unix.Getrlimit(unix.RLIMIT_FSIZE, &rl) == nil && rl.Cur != unix.RLIM_INFINITY && uint64(size) > rl.Cur {
			return fail("RLIMIT_FSIZE (ulimit -f)", rl.Cur)
		}
		dir := "/dev/shm"
		if kind == MappedFile {
			dir = Dir()
		}
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil {
			if free := st.Bavail * uint64(st.Bsize); uint64(size) > free {
				return fail("the free space of "+dir, free)
			}
		}
	}
	if kind != MappedFile { // memory-backed: RAM (or swap) must hold it
		if avail, ok := memAvailable(); ok && uint64(size) > avail {
			return fail("MemAvailable in /proc/meminfo", avail)
		}
	}
	return nil
}

// populateLimit is the largest segment whose pages are faulted in at
// creation (MAP_POPULATE): a quarter of the memory available, so that
// populating never pushes the machine into swapping or the OOM killer.
func populateLimit() uint64 {
	avail, ok := memAvailable()
	if !ok {
		return 64 << 20
	}
	return avail / 4
}

// memAvailable is MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (uint64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, err := strconv.ParseUint(f[0], 10, 64)
				return kb << 10, err == nil
			}
		}
	}
	return 0, false
}
