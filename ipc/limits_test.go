package ipc

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSegmentTooLarge: a segment larger than the machine can hold is
// refused at once with an error naming the limit, and nothing is left.
func TestSegmentTooLarge(t *testing.T) {
	checkNoLeftovers(t)
	for _, c := range []struct {
		kind  SegmentKind
		size  int
		limit string
	}{
		{PosixShm, 1 << 40, "/dev/shm"},
		{Anonymous, 1 << 40, "MemAvailable"},
		{SysvShm, 1 << 40, "MemAvailable"},
		{MappedFile, 1 << 55, Dir()},
	} {
		t.Run(string(c.kind), func(t *testing.T) {
			seg, err := CreateSegment(c.kind, c.size)
			if err == nil {
				seg.Close()
				t.Fatalf("a %d-byte %s segment was created", c.size, c.kind)
			}
			if !errors.Is(err, ErrNoRoom) || !strings.Contains(err.Error(), c.limit) {
				t.Fatalf("error does not name the limit %q: %v", c.limit, err)
			}
			for _, dir := range []string{"/dev/shm", Dir()} {
				if m, _ := filepath.Glob(filepath.Join(dir, Prefix()+"*")); len(m) > 0 {
					t.Fatalf("left behind: %v", m)
				}
			}
		})
	}
}

// TestSegmentRlimit: RLIMIT_FSIZE is named when it is what stops a
// file-backed segment (truncating past it would raise SIGXFSZ).
func TestSegmentRlimit(t *testing.T) {
	checkNoLeftovers(t)
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = 1 << 20
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
		t.Skip("cannot lower RLIMIT_FSIZE:", err)
	}
	defer unix.Setrlimit(unix.RLIMIT_FSIZE, &old)
	for _, k := range []SegmentKind{PosixShm, MappedFile} {
		seg, err := CreateSegment(k, 4<<20)
		if err == nil {
			seg.Close()
			t.Fatalf("%s: created past RLIMIT_FSIZE", k)
		}
		if !errors.Is(err, ErrNoRoom) || !strings.Contains(err.Error(), "RLIMIT_FSIZE") {
			t.Fatalf("%s: %v", k, err)
		}
	}
}
