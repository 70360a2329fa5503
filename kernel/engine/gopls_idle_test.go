package engine_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipclab/ipclab"
	"github.com/ipclab/ipclab/kernel/engine"
)

// TestGoplsStartsLazilyAndStopsWhenIdle: an idle kernel runs no gopls; the
// first completion starts one (without its telemetry child), it stops after
// IPCLAB_GOPLS_IDLE without requests, and the next completion starts it
// again and is answered by it.
func TestGoplsStartsLazilyAndStopsWhenIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	if !hasGopls() {
		if os.Getenv("CI") == "true" {
			t.Fatal("gopls is not installed (make setup installs it)")
		}
		t.Skip("gopls is not installed")
	}
	t.Setenv("IPCLAB_GOPLS_IDLE", "3s")
	e, err := engine.New(engine.Options{Source: ipclab.Source, TempDir: t.TempDir(), WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	s := &session{t: t, e: e}
	s.ok("n := 1")
	if g := goplsChildren(); len(g) != 0 {
		t.Fatalf("gopls runs before any completion: %v", g)
	}
	for round := 1; round <= 2; round++ {
		c := completeWhenWarm(t, e, "fmt.Prin", e.Complete("fmt.Prin", len("fmt.Prin")))
		if c.Metadata["ipclab_source"] != "gopls" {
			t.Fatalf("round %d: completion answered by %v, want gopls", round, c.Metadata["ipclab_source"])
		}
		if g := goplsChildren(); len(g) != 1 {
			t.Fatalf("round %d: want one gopls process (no telemetry child), have %v", round, g)
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(goplsChildren()) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: gopls still runs 20 s after its last request: %v", round, goplsChildren())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// goplsChildren lists the gopls processes whose parent is this process.
func goplsChildren() []string {
	var out []string
	me := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(s[j+1:])
		if s[i+1:j] == "gopls" && len(f) > 1 && (f[1] == me || isChildOf(f[1], me)) {
			out = append(out, filepath.Base(filepath.Dir(st)))
		}
	}
	return out
}

// isChildOf reports whether pid's parent is parent (gopls's telemetry
// child would be a grandchild of the test).
func isChildOf(pid, parent string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 1 && f[1] == parent
}
