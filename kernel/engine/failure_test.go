package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipclab/ipclab"
	"github.com/ipclab/ipclab/kernel/engine"
)

func TestCrashesRestartTheSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	s := newSession(t)
	s.ok("before := 7")
	// A cgo cell is built by go build, next to packages the direct path built.
	if v, _ := s.ok("/*\nstatic int twice(int x) { return 2 * x; }\n*/\nimport \"C\"\nint(C.twice(C.int(before)))"); v != "14" {
		t.Fatalf("cgo cell = %q, want 14", v)
	}
	runSteps(t, s, []step{
		{code: "/*\nvoid crash(void) { *(volatile int*)0 = 1; }\n*/\nimport \"C\"\nC.crash()", errName: "SessionDied", errHas: "cell 3, line 5"},
		{code: "fmt.Println(\"alive\", before)", out: "alive 0"},
		{code: "syscall.Kill(os.Getpid(), syscall.SIGKILL)", errName: "SessionDied", errHas: "killed"},
		{code: "1 + 2", want: "3"},
	})
}

func TestInterruptBlockedCellRestartsSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	s := newSession(t)
	s.ok("v := 5")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan engine.Result)
	go func() { done <- s.e.Execute(ctx, engine.Request{Code: "<-make(chan int)", Count: 2}, &recorder{}) }()
	time.Sleep(3 * time.Second)
	start := time.Now()
	cancel()
	res := <-done
	if res.Err == nil || res.Err.Name != "KeyboardInterrupt" || !strings.Contains(res.Err.Value, "restarted") {
		t.Fatalf("want KeyboardInterrupt with a restart, got %+v", res.Err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("interrupt of a blocked cell took %v", d)
	}
	s.count = 2
	rec, res := s.run("v")
	if res.Err != nil || text(res) != "0" || !strings.Contains(rec.stderr.String(), "zero values") {
		t.Fatalf("after restart: value %q err %v stderr %q", text(res), res.Err, rec.stderr.String())
	}
}

func TestHugeOutputArrivesWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	s := newSession(t)
	_, out := s.ok(`line := strings.Repeat("x", 99) + "\n"
for i := 0; i < 100000; i++ { os.Stdout.WriteString(line) }`)
	if len(out) != 100*100000 {
		t.Fatalf("got %d bytes of output, want %d", len(out), 100*100000)
	}
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	tmp := t.TempDir()
	// What a kernel killed with SIGKILL left behind: a dead pid's session dir.
	stale := filepath.Join(tmp, "ipclab-session-999999999-dead")
	os.MkdirAll(stale, 0o755)
	e, err := engine.New(engine.Options{Source: ipclab.Source, TempDir: tmp, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a dead kernel's session dir survived the next start: %v", err)
	}
	rec := &recorder{}
	res := e.Execute(context.Background(), engine.Request{Code: "os.Getpid()", Count: 1}, rec)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var pid int
	if _, err := fmtSscan(text(res), &pid); err != nil || pid <= 0 {
		t.Fatalf("pid %q", text(res))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("session process %d still alive after Close", pid)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "ipclab-session-*"))
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
