package ipc

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestChecksumDetectsChanges(t *testing.T) {
	src := newSource(1 << 20)
	for _, size := range []int{8, 9, 15, 16, 40, 64, 100, 4096, 16<<10 + HeaderSize, 1 << 20} {
		m := make([]byte, size)
		src.fill(m, 77)
		if seq, ok := check(m); !ok || seq != 77 {
			t.Fatalf("size %d: intact message fails: %d %v", size, seq, ok)
		}
		positions := []int{0, 3, 4, 7}
		// every byte is covered, big messages too (the far half of 1 MiB)
		for i := HeaderSize; i < size; i += max(1, size/50) {
			positions = append(positions, i)
		}
		positions = append(positions, size-1, size*3/4+101)
		positions = slices.DeleteFunc(positions, func(p int) bool { return p >= size })
		for _, pos := range positions {
			for bit := range 8 {
				m[pos] ^= 1 << bit
				if _, ok := check(m); ok {
					t.Fatalf("size %d: flipping bit %d of byte %d went unnoticed", size, bit, pos)
				}
				m[pos] ^= 1 << bit
			}
		}
		if _, ok := check(m[:size-1]); ok && size > HeaderSize {
			t.Fatalf("size %d: a truncated message passes", size)
		}
	}
	if _, ok := check(make([]byte, 4)); ok {
		t.Fatal("a message shorter than the header passes")
	}
}

// TestChecksumMatchesC builds bench/probe.c and checks that it computes
// the same checksums as Go, so that the C baseline does the same work.
func TestChecksumMatchesC(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gcc is needed to check the C probe: ", err)
		}
		t.Skip("no gcc: cannot build bench/probe.c")
	}
	probe := filepath.Join(t.TempDir(), "probe")
	if out, err := exec.Command(gcc, "-O2", "-o", probe, "../bench/probe.c").CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}
	for _, size := range []int{8, 9, 63, 64, 100, 4096, 16<<10 + HeaderSize, 16<<10 + HeaderSize + 1, 1 << 20} {
		for _, seq := range []uint32{0, 1, 63, 64, 1 << 31} {
			out, err := exec.Command(probe, "sum", strconv.Itoa(size), strconv.FormatUint(uint64(seq), 10)).Output()
			if err != nil {
				t.Fatal(err)
			}
			c, _ := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 32)
			m := make([]byte, size)
			newSource(size).fill(m, seq)
			if g := binary.LittleEndian.Uint32(m[4:]); uint32(c) != g {
				t.Fatalf("size %d seq %d: C %08x, Go %08x", size, seq, c, g)
			}
		}
	}
}

func TestHistogram(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 10000; i++ {
		h.add(timeNs(i * 10))
	}
	for _, c := range []struct {
		q    float64
		want int
	}{{0.5, 50000}, {0.9, 90000}, {0.99, 99000}} {
		got := int(h.quantile(c.q))
		if d := float64(got-c.want) / float64(c.want); d > 0.02 || d < -0.02 {
			t.Errorf("q%.2f = %d, want %d ±2%%", c.q, got, c.want)
		}
	}
	if h.quantile(1) != timeNs(100000) {
		t.Errorf("max = %v", h.quantile(1))
	}
	for v := uint64(0); v < 1<<40; v = v*3 + 1 {
		if i := histIndex(v); i >= len(h.counts) {
			t.Fatalf("index %d out of range for %d", i, v)
		}
	}
}

func timeNs(n int) time.Duration { return time.Duration(n) }
