package ipc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipclab/ipclab/internal/proctab"
)

// Workers used by the tests below. Registered from init, so that a
// re-executed test binary becomes them before any test runs.
func init() {
	// test-grandparent starts an echo worker over shm-ring (so it owns a
	// /dev/shm segment), reports the worker's PID, and then waits to be killed.
	RegisterWorker("test-grandparent", func(ctx context.Context, c Conn, arg []byte) error {
		p, err := Spawn(ctx, string(arg), Options{MaxMessage: 64}, "echo", nil)
		if err != nil {
			return err
		}
		if err := c.Send(ctx, []byte(strconv.Itoa(p.PID()))); err != nil {
			return err
		}
		buf := make([]byte, 64)
		_, err = c.Recv(ctx, buf) // blocks until killed
		return err
	})
	// test-long-run runs a long experiment; it reports once its consumer
	// has started, and then waits for a signal.
	RegisterWorker("test-long-run", func(ctx context.Context, c Conn, arg []byte) error {
		testHookPeerStarted = func(pid int) { c.Send(ctx, []byte(strconv.Itoa(pid))) }
		_, err := Run(ctx, Experiment{Transports: []string{string(arg)}, Sizes: []int{64}, Duration: time.Minute, Warmup: -1, Count: 1 << 40, Options: Options{Wait: Futex}})
		return err
	})
}

func TestSpawnEcho(t *testing.T) {
	for _, name := range []string{"shm-ring", "pipe", "fifo", "unix-stream", "unix-dgram", "unix-seqpacket", "tcp", "posix-mq", "sysv-mq", "zmq-ipc", "zmq-tcp"} {
		t.Run(name, func(t *testing.T) {
			checkNoLeftovers(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p, err := Spawn(ctx, name, Options{MaxMessage: 1024, Dir: t.TempDir()}, "echo", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			src := newSource(1024)
			msg, buf := make([]byte, 1000), make([]byte, 1024)
			for i := range 50 {
				src.fill(msg, uint32(i))
				if err := p.Conn.Send(ctx, msg); err != nil {
					t.Fatal(err)
				}
				n, err := p.Conn.Recv(ctx, buf)
				if err != nil {
					t.Fatal(err)
				}
				if seq, ok := check(buf[:n]); !ok || seq != uint32(i) || n != len(msg) {
					t.Fatalf("echo %d: seq %d ok %v len %d", i, seq, ok, n)
				}
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSpawnUnknownWorker(t *testing.T) {
	_, err := Spawn(context.Background(), "pipe", Options{}, "no-such-worker", nil)
	if !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("err = %v, want ErrUnknownWorker", err)
	}
	_, err = Spawn(context.Background(), "chan", Options{}, "echo", nil)
	if !errors.Is(err, ErrNotLocal) {
		t.Fatalf("err = %v, want ErrNotLocal", err)
	}
}

// TestKillConsumerMidRun kills the consumer process of a running experiment
// and checks that Run fails promptly with ErrPeerDied, in both modes, with
// every cross-process transport and every wait strategy of the ring.
func TestKillConsumerMidRun(t *testing.T) {
	type tc struct {
		transport string
		wait      Wait
		mode      Mode
	}
	var cases []tc
	for _, w := range []Wait{Spin, Yield, Futex, Adaptive} {
		cases = append(cases, tc{"shm-ring", w, Stream}, tc{"shm-ring", w, PingPong})
	}
	for _, n := range []string{"pipe", "fifo", "unix-stream", "unix-dgram", "unix-seqpacket", "tcp", "posix-mq", "sysv-mq", "zmq-ipc", "zmq-tcp"} {
		cases = append(cases, tc{n, Adaptive, Stream}, tc{n, Adaptive, PingPong})
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s/%s", c.transport, c.wait, c.mode), func(t *testing.T) {
			checkNoLeftovers(t)
			pids := make(chan int, 1)
			testHookPeerStarted = func(pid int) { pids <- pid }
			t.Cleanup(func() { testHookPeerStarted = nil })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := Run(ctx, Experiment{Transports: []string{c.transport}, Sizes: []int{256}, Mode: c.mode,
					Count: 1 << 40, Warmup: -1, Trials: 1, Options: Options{Wait: c.wait, Dir: t.TempDir()}})
				errc <- err
			}()
			var pid int
			select {
			case pid = <-pids:
			case err := <-errc:
				t.Fatalf("run ended before its consumer was killed: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
			syscall.Kill(pid, syscall.SIGKILL)
			start := time.Now()
			select {
			case err := <-errc:
				if !errors.Is(err, ErrPeerDied) {
					t.Fatalf("err = %v, want ErrPeerDied", err)
				}
				t.Logf("noticed in %v: %v", time.Since(start).Round(time.Millisecond), err)
			case <-time.After(10 * time.Second):
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Fatalf("Run still running 10 s after its consumer was killed\n%s", buf[:n])
			}
		})
	}
}

// TestKillProducer kills a process that owns a transport to a worker (the
// producer side): the worker must die with it (PR_SET_PDEATHSIG), and what
// the dead process left in /dev/shm and Dir() must be removed by the next
// Sweep.
func TestKillProducer(t *testing.T) {
	for _, transport := range []string{"shm-ring", "fifo", "posix-mq", "sysv-mq"} {
		t.Run(transport, func(t *testing.T) {
			checkNoLeftovers(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			gp, err := Spawn(ctx, "pipe", Options{}, "test-grandparent", []byte(transport))
			if err != nil {
				t.Fatal(err)
			}
			defer gp.Close()
			buf := make([]byte, 64)
			n, err := gp.Conn.Recv(ctx, buf)
			if err != nil {
				t.Fatal(err)
			}
			grandchild, _ := strconv.Atoi(string(buf[:n]))
			left := ownedBy(gp.PID())
			if len(left) == 0 && (transport == "shm-ring" || transport == "fifo") {
				t.Fatalf("no resources of process %d found before the kill", gp.PID())
			}
			ledger := filepath.Join(Dir(), fmt.Sprintf("ipclab-%d-", gp.PID()))
			syscall.Kill(gp.PID(), syscall.SIGKILL)
			<-gp.Exited()
			deadline := time.Now().Add(5 * time.Second)
			for proctab.Alive(grandchild) && !isZombie(grandchild) {
				if time.Now().After(deadline) {
					t.Fatalf("worker %d still alive 5 s after its parent was killed", grandchild)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if len(ownedBy(gp.PID())) == 0 {
				t.Fatalf("the killed process left nothing to sweep (ledger %s*)", ledger)
			}
			if _, err := Sweep(); err != nil {
				t.Fatal(err)
			}
			if l := ownedBy(gp.PID()); len(l) > 0 {
				t.Fatalf("after Sweep, still there: %v", l)
			}
			for _, f := range []string{"/proc/sysvipc/shm", "/proc/sysvipc/msg"} {
				if n := sysvCreatedBy(f, gp.PID()); n > 0 {
					t.Fatalf("after Sweep, %d SysV objects of %d in %s", n, gp.PID(), f)
				}
			}
		})
	}
}

// ownedBy lists /dev/shm and Dir() entries (ledgers included) named for pid.
func ownedBy(pid int) []string {
	var out []string
	prefix := fmt.Sprintf("ipclab-%d-", pid)
	for _, dir := range []string{"/dev/shm", Dir()} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix) {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	return out
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// TestSignalCleanup sends SIGTERM to a process in the middle of Run and
// checks that it removed everything it had made before it exited.
func TestSignalCleanup(t *testing.T) {
	for _, transport := range []string{"shm-ring", "fifo", "sysv-mq", "posix-mq"} {
		t.Run(transport, func(t *testing.T) {
			checkNoLeftovers(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p, err := Spawn(ctx, "pipe", Options{}, "test-long-run", []byte(transport))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			buf := make([]byte, 64)
			if _, err := p.Conn.Recv(ctx, buf); err != nil {
				t.Fatal(err)
			}
			if transport == "shm-ring" || transport == "fifo" {
				if len(ownedBy(p.PID())) == 0 {
					t.Fatal("no resources found while the run is going")
				}
			}
			syscall.Kill(p.PID(), syscall.SIGTERM)
			werr := p.Wait(ctx)
			if werr == nil || !strings.Contains(werr.Error(), "terminated") {
				t.Fatalf("worker ended with %v, want the run cancelled by SIGTERM", werr)
			}
			if l := ownedBy(p.PID()); len(l) > 0 {
				t.Fatalf("left behind after SIGTERM: %v", l)
			}
			for _, f := range []string{"/proc/sysvipc/shm", "/proc/sysvipc/msg"} {
				if n := sysvCreatedBy(f, p.PID()); n > 0 {
					t.Fatalf("%d SysV objects left in %s", n, f)
				}
			}
		})
	}
}

// TestBadParameters checks that the errors name the limit.
func TestBadParameters(t *testing.T) {
	cases := []struct {
		e        Experiment
		sentinel error
		mention  string
	}{
		{Experiment{Transports: []string{"pipe"}, Sizes: []int{0}}, ErrBadParameter, "smallest size is 8"},
		{Experiment{Transports: []string{"pipe"}, Sizes: []int{MaxSize + 1}}, ErrMessageTooLarge, "16 MiB"},
		{Experiment{Transports: []string{"carrier-pigeon"}, Sizes: []int{64}}, ErrUnknownTransport, "carrier-pigeon"},
		{Experiment{Transports: []string{"shm-ring"}, Sizes: []int{8192}, Options: Options{RingCapacity: 4096}}, ErrMessageTooLarge, "holds messages of at most 2040 bytes"},
		{Experiment{Transports: []string{"sysv-mq"}, Sizes: []int{1 << 20}}, ErrMessageTooLarge, "/proc/sys/kernel/msgmax"},
		{Experiment{Transports: []string{"posix-mq"}, Sizes: []int{MaxSize}}, ErrMessageTooLarge, "/proc/sys/fs/mqueue/msgsize_max"},
		{Experiment{Transports: []string{"shm-ring"}, Sizes: []int{64}, Options: Options{Wait: "nap"}}, ErrBadParameter, "unknown wait strategy"},
		{Experiment{Transports: []string{"pipe"}, Sizes: []int{64}, Remote: "tcp://127.0.0.1:1"}, ErrBadParameter, "cannot reach another host"},
		{Experiment{Transports: []string{"pipe"}, Sizes: []int{64}, Mode: "sideways"}, ErrBadParameter, "sideways"},
	}
	for _, c := range cases {
		_, err := Run(context.Background(), c.e)
		if !errors.Is(err, c.sentinel) || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%+v:\n  err = %v\n  want %v mentioning %q", c.e, err, c.sentinel, c.mention)
		}
	}
	if l := Leftovers(); len(l) > 0 {
		t.Fatalf("leftovers after failed validation: %v", l)
	}
}

// TestRunVerifiesEverything runs every transport in both modes at a few
// sizes, including wrapped and 3 MiB messages, and requires zero lost and
// zero corrupt messages.
func TestRunVerifiesEverything(t *testing.T) {
	checkNoLeftovers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for _, mode := range []Mode{Stream, PingPong} {
		rs, err := Run(ctx, Experiment{Transports: Transports(), Sizes: []int{8, 1000}, Mode: mode, Count: 300, Trials: 2, Options: Options{Dir: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 2*len(Transports()) {
			t.Fatalf("%d results, want %d", len(rs), 2*len(Transports()))
		}
		for _, r := range rs {
			if r.Lost != 0 || r.Corrupt != 0 || r.Messages != 600 || r.MessagesPerSecond <= 0 {
				t.Errorf("%s %s %d: messages %d lost %d corrupt %d rate %.0f", r.Transport, r.Mode, r.SizeBytes, r.Messages, r.Lost, r.Corrupt, r.MessagesPerSecond)
			}
			if mode == PingPong && (r.RTTp50 <= 0 || r.RTTp99 < r.RTTp50 || r.RTTMax < r.RTTp99 || len(r.RTTQuantiles) != 101) {
				t.Errorf("%s: bad latency summary p50 %v p99 %v max %v", r.Transport, r.RTTp50, r.RTTp99, r.RTTMax)
			}
			if r.Environment.GoVersion == "" || r.Environment.CPUs == 0 || r.Environment.Parameters["mode"] != string(mode) {
				t.Errorf("%s: environment missing: %+v", r.Transport, r.Environment)
			}
		}
	}
	// Big messages: the ring and a stream, checksums over 3 MiB, wrap-around.
	rs, err := Run(ctx, Experiment{Transports: []string{"shm-ring", "pipe", "unix-stream"}, Sizes: []int{3 << 20}, Count: 6, Trials: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Lost != 0 || r.Corrupt != 0 || r.Messages != 6 {
			t.Errorf("%s 3 MiB: %+v", r.Transport, r)
		}
	}
	// Every segment kind behind the ring, pinned.
	for _, k := range SegmentKinds() {
		rs, err := Run(ctx, Experiment{Transports: []string{"shm-ring"}, Sizes: []int{64}, Count: 1000, Trials: 1, Pin: true, Options: Options{Segment: k, Dir: t.TempDir()}})
		if err != nil {
			t.Fatalf("segment %s: %v", k, err)
		}
		if rs[0].Lost != 0 || rs[0].Corrupt != 0 || rs[0].Messages != 1000 || !rs[0].Environment.Pinned {
			t.Errorf("segment %s: %+v", k, rs[0])
		}
	}
}

// TestCorruptionIsCounted makes sure the consumer's check can fail: a
// transport that flips a bit must show up as corrupt, and one that drops a
// message as lost.
func TestCorruptionIsCounted(t *testing.T) {
	src := newSource(100)
	var tl tally
	m := make([]byte, 100)
	for i := range 10 {
		if i == 3 {
			continue // lost
		}
		src.fill(m, uint32(i))
		if i == 6 {
			m[50] ^= 1
		}
		tl.see(m, 100)
	}
	if tl.got != 9 || tl.lost != 1 || tl.corrupt != 1 {
		t.Fatalf("got %d lost %d corrupt %d, want 9 1 1", tl.got, tl.lost, tl.corrupt)
	}
}
