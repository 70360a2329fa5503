package engine_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipclab/ipclab"
	"github.com/ipclab/ipclab/ipc"
	"github.com/ipclab/ipclab/kernel/engine"
)

// processGone waits up to 5 s for pid to be gone (or a zombie).
func processGone(t *testing.T, pid int, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("%s (pid %d) still runs 5 s later", what, pid)
		}
	}
}

func firstInt(t *testing.T, s string) int {
	t.Helper()
	f := strings.Fields(s)
	if len(f) == 0 {
		t.Fatalf("no pid in %q", s)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		t.Fatalf("no pid in %q", s)
	}
	return n
}

// TestShellBackground: `!sleep 1000 &` ends the cell at once, and the
// background process ends when the engine closes, with or without a
// session process.
func TestShellBackground(t *testing.T) {
	for _, withSession := range []bool{false, true} {
		t.Run(fmt.Sprintf("session=%v", withSession), func(t *testing.T) {
			e, err := engine.New(engine.Options{Source: ipclab.Source, TempDir: t.TempDir(), WorkDir: t.TempDir(), Gopls: "none"})
			if err != nil {
				t.Fatal(err)
			}
			s := &session{t: t, e: e}
			t.Cleanup(func() { e.Close() })
			if withSession {
				s.ok(`1 + 1`)
			}
			start := time.Now()
			rec, res := s.run("!sleep 1000 & echo $!")
			if res.Err != nil {
				t.Fatalf("!sleep 1000 &: %v", res.Err.Value)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("the cell took %v", d)
			}
			pid := firstInt(t, rec.out())
			e.Close()
			processGone(t, pid, "the background sleep")
		})
	}
}

// TestShellInterrupt: an interrupt ends a running !command and what it
// started.
func TestShellInterrupt(t *testing.T) {
	s := newSession(t)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan engine.Result, 1)
	go func() {
		done <- s.e.Execute(ctx, engine.Request{Code: "!sleep 1000 & echo $!; sleep 1000", Count: 1}, rec)
	}()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		if out := rec.out(); out != "" {
			pid = firstInt(t, out)
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell printed nothing")
		}
	}
	cancel()
	select {
	case res := <-done:
		if res.Err == nil {
			t.Fatal("an interrupted !command succeeded")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the interrupt did not end the !command within 3 s")
	}
	processGone(t, pid, "the interrupted command's child")
}

// TestHelperKernel is the kernel that TestKill9 kills: an engine that runs
// a cell which starts a process and makes a shared-memory segment.
func TestHelperKernel(t *testing.T) {
	out := os.Getenv("IPCLAB_HELPER_KERNEL")
	if out == "" {
		t.Skip("run by TestKill9")
	}
	s := newSession(t)
	s.ok(fmt.Sprintf(`import ("os/exec"; "os"; "fmt"; "github.com/ipclab/ipclab/ipc")
c := exec.Command("sleep", "1000")
if err := c.Start(); err != nil { panic(err) }
seg, err := ipc.CreateSegment(ipc.PosixShm, 4096)
if err != nil { panic(err) }
_ = seg
os.WriteFile(%q, []byte(fmt.Sprintf("%%d %%d %%s", c.Process.Pid, os.Getpid(), ipc.Prefix())), 0o644)`, out))
	time.Sleep(time.Hour)
}

// TestKill9: kill -9 of the kernel ends what its cells started, and the
// next kernel removes the dead session's ipc objects when it starts.
func TestKill9(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pids")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKernel$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), "IPCLAB_HELPER_KERNEL="+file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var b []byte
	for deadline := time.Now().Add(3 * time.Minute); len(b) == 0; time.Sleep(50 * time.Millisecond) {
		b, _ = os.ReadFile(file)
		if time.Now().After(deadline) {
			t.Fatal("the helper kernel did not run its cell")
		}
	}
	var sleepPID, sessionPID int
	var prefix string
	fmt.Sscan(string(b), &sleepPID, &sessionPID, &prefix)
	segs, _ := filepath.Glob("/dev/shm/" + prefix + "*")
	if len(segs) == 0 {
		t.Fatalf("no segment of %s in /dev/shm", prefix)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	processGone(t, sessionPID, "the session process")
	processGone(t, sleepPID, "the process the cell started")
	e, err := engine.New(engine.Options{Source: ipclab.Source, TempDir: t.TempDir(), WorkDir: t.TempDir(), Gopls: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if left, _ := filepath.Glob("/dev/shm/" + prefix + "*"); len(left) > 0 {
		t.Fatalf("the next kernel left the dead session's %v", left)
	}
	if _, err := os.Stat(filepath.Join(ipc.Dir(), prefix+".ledger")); err == nil {
		t.Fatal("the dead session's ledger is still there")
	}
}

// TestShutdownRemovesIPC: closing the engine (shutdown, restart) removes
// every ipc object a cell left open.
func TestShutdownRemovesIPC(t *testing.T) {
	s := newSession(t)
	_, out := s.ok(`import ("os"; "fmt"; "context"; "github.com/ipclab/ipclab/ipc")
var keep []any
for _, k := range []ipc.SegmentKind{ipc.PosixShm, ipc.SysvShm, ipc.MappedFile} {
	seg, err := ipc.CreateSegment(k, 4096)
	if err != nil { panic(err) }
	keep = append(keep, seg)
}
for _, name := range []string{"fifo", "posix-mq", "sysv-mq", "unix-stream", "zmq-ipc"} {
	a, b, err := ipc.Open(context.Background(), name, ipc.Options{MaxMessage: 64})
	if err != nil { panic(fmt.Sprint(name, err)) }
	keep = append(keep, a, b)
}
fmt.Println(os.Getpid(), ipc.Prefix())`)
	var pid int
	var prefix string
	fmt.Sscan(out, &pid, &prefix)
	if prefix == "" {
		t.Fatalf("cell printed %q", out)
	}
	var before []string
	for _, dir := range []string{"/dev/shm", ipc.Dir()} {
		m, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
		before = append(before, m...)
	}
	if len(before) < 3 {
		t.Fatalf("the cell's objects are not there: %v", before)
	}
	s.e.Close()
	for _, dir := range []string{"/dev/shm", ipc.Dir(), "/dev/mqueue"} {
		if m, _ := filepath.Glob(filepath.Join(dir, prefix+"*")); len(m) > 0 {
			t.Errorf("left after shutdown: %v", m)
		}
	}
	for _, f := range []string{"/proc/sysvipc/shm", "/proc/sysvipc/msg"} {
		b, _ := os.ReadFile(f)
		lines := strings.Split(string(b), "\n")
		col := -1
		for i, h := range strings.Fields(lines[0]) {
			if h == "cpid" || (h == "lspid" && col < 0 && strings.HasSuffix(f, "msg")) {
				col = i
			}
		}
		for _, l := range lines[1:] {
			if fl := strings.Fields(l); col >= 0 && col < len(fl) && fl[col] == strconv.Itoa(pid) {
				t.Errorf("SysV object of the session left in %s: %s", f, l)
			}
		}
	}
}
