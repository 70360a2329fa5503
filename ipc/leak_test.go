package ipc

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// checkNoLeftovers registers a cleanup that fails the test if this process
// still holds resources when the test ends: ledger entries, /dev/shm
// entries with our prefix, files in Dir() with our prefix, and SysV objects
// created by this process (from /proc/sysvipc).
func checkNoLeftovers(t *testing.T) {
	t.Helper()
	var mu sync.Mutex
	var made [][2]string
	trackHook = func(kind, name string) {
		mu.Lock()
		made = append(made, [2]string{kind, name})
		mu.Unlock()
	}
	t.Cleanup(func() {
		trackHook = nil
		// Every resource made during the test, looked up by name: POSIX
		// queues too, which cannot be listed where /dev/mqueue is not mounted.
		mu.Lock()
		for _, r := range made {
			if exists(r[0], r[1]) {
				t.Errorf("leftover %s %s", r[0], r[1])
			}
		}
		mu.Unlock()
		if l := Leftovers(); len(l) > 0 {
			t.Errorf("leftover resources: %v", l)
		}
		for _, dir := range []string{"/dev/shm", Dir(), "/dev/mqueue"} {
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), Prefix()) {
					t.Errorf("leftover %s/%s", dir, e.Name())
				}
			}
		}
		for _, f := range []string{"/proc/sysvipc/shm", "/proc/sysvipc/msg"} {
			if n := sysvCreatedBy(f, os.Getpid()); n > 0 {
				t.Errorf("%d SysV objects in %s created by this process", n, f)
			}
		}
	})
}

// sysvCreatedBy counts the entries of a /proc/sysvipc table whose creator
// PID (column "cpid") is pid.
func sysvCreatedBy(path string, pid int) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return 0
	}
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "cpid" {
			col = i
		}
	}
	n := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if col >= 0 && col < len(f) && f[col] == itoa(pid) {
			n++
		}
	}
	return n
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestLeakCheckSees proves the leftover check is not vacuous: a queue, a
// SysV queue and a FIFO that were forgotten are seen by exists, and are gone
// once removed.
func TestLeakCheckSees(t *testing.T) {
	o := Options{MaxMessage: 64, Dir: t.TempDir()}.withDefaults()
	for _, name := range []string{"posix-mq", "sysv-mq", "fifo", "shm-ring"} {
		tr, _ := lookup(name)
		var made [][2]string
		trackHook = func(kind, n string) { made = append(made, [2]string{kind, n}) }
		ep, err := tr.listen(o)
		trackHook = nil
		if err != nil {
			t.Fatal(err)
		}
		if len(made) == 0 {
			t.Fatalf("%s: nothing tracked", name)
		}
		for _, r := range made {
			if !exists(r[0], r[1]) {
				t.Fatalf("%s: %s %s does not exist right after it was made", name, r[0], r[1])
			}
		}
		if err := ep.abort(); err != nil {
			t.Fatal(err)
		}
		for _, r := range made {
			if exists(r[0], r[1]) {
				t.Fatalf("%s: %s %s still exists after abort", name, r[0], r[1])
			}
		}
	}
}
