package ipc

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// Transports whose harness loops block in the kernel in blocking mode
// (blocking.go): raw calls that a kernel timer's kicks end.
var blockingTransports = []string{"pipe", "fifo", "posix-mq", "sysv-mq", "unix-stream", "unix-seqpacket", "unix-dgram", "tcp"}

// TestOneCallPerMessage: in a ping-pong each side makes one write and one
// read per round trip, as a C program with blocking descriptors does (the
// poll path made read, poll, read: about 3.8 per round trip).
func TestOneCallPerMessage(t *testing.T) {
	checkNoLeftovers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tr := range blockingTransports {
		const count = 2000
		rs, err := Run(ctx, Experiment{Transports: []string{tr}, Sizes: []int{64}, Mode: PingPong, Count: count, Warmup: -1, Trials: 1})
		if err != nil {
			t.Fatal(err)
		}
		r := rs[0]
		// A kick (every kickPeriod) or a socket timeout adds a call now and
		// then: allow two per kick the trial can have seen (the consumer is
		// in blocking mode a little before and after it), and one in 50.
		trial := time.Duration(float64(count) / r.MessagesPerSecond * float64(time.Second))
		allowed := 2.02 + 2*(float64(trial/kickPeriod)+1)/count
		t.Logf("%s: %.3f / %.3f system calls per round trip (trial %v, %.3f allowed)", tr, r.Producer.Syscalls, r.Consumer.Syscalls, trial.Round(time.Millisecond), allowed)
		if r.Producer.Syscalls > allowed || r.Consumer.Syscalls > allowed {
			t.Errorf("%s: %.3f / %.3f system calls per round trip, want 2 (one write, one read)", tr, r.Producer.Syscalls, r.Consumer.Syscalls)
		}
	}
}

// TestBlockedCallEnds stops the peer (SIGSTOP) so that the driver's call
// blocks in the kernel — a full pipe or queue in a stream, an empty one in
// a ping-pong — then cancels the run: a kick must end the call.
func TestBlockedCallEnds(t *testing.T) {
	for _, tr := range blockingTransports {
		for _, mode := range []Mode{Stream, PingPong} {
			t.Run(fmt.Sprintf("%s/%s", tr, mode), func(t *testing.T) {
				checkNoLeftovers(t)
				pids := make(chan int, 1)
				testHookPeerStarted = func(pid int) { pids <- pid }
				t.Cleanup(func() { testHookPeerStarted = nil })
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				errc := make(chan error, 1)
				go func() {
					_, err := Run(ctx, Experiment{Transports: []string{tr}, Sizes: []int{256}, Mode: mode,
						Count: 1 << 40, Warmup: -1, Trials: 1, Options: Options{Dir: t.TempDir()}})
					errc <- err
				}()
				var pid int
				select {
				case pid = <-pids:
				case err := <-errc:
					t.Fatalf("run ended before its peer was stopped: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
				syscall.Kill(pid, syscall.SIGSTOP)
				defer syscall.Kill(pid, syscall.SIGCONT)
				time.Sleep(300 * time.Millisecond) // the driver is asleep in the kernel by now
				cancel()
				start := time.Now()
				select {
				case err := <-errc:
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("err = %v, want context.Canceled", err)
					}
					t.Logf("cancel → return: %v", time.Since(start).Round(time.Millisecond))
				case <-time.After(10 * time.Second):
					t.Fatal("Run still blocked 10 s after its context was cancelled")
				}
			})
		}
	}
}

// TestBigMessageOneWrite: during a trial a 1 MiB message goes into a pipe or
// FIFO in one blocking writev (and two fcntl around it), not in a
// non-blocking write per 64 KiB the reader frees (about 17 calls before).
func TestBigMessageOneWrite(t *testing.T) {
	checkNoLeftovers(t)
	for _, tr := range []string{"pipe", "fifo"} {
		const count = 50
		rs, err := Run(context.Background(), Experiment{Transports: []string{tr}, Sizes: []int{1 << 20}, Count: count, Warmup: -1, Trials: 1, Options: Options{Dir: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		// A kick (every kickPeriod) that lands during a writev splits it in
		// two: allow a call or two for each kick the trial can have seen,
		// so that a slow machine does not fail the test.
		r := rs[0]
		trial := time.Duration(float64(count) / r.MessagesPerSecond * float64(time.Second))
		allowed := 3 + 2*(float64(trial/kickPeriod)+1)/count
		t.Logf("%s: %.2f system calls per 1 MiB message (trial %v, %.2f allowed)", tr, r.Producer.Syscalls, trial.Round(time.Millisecond), allowed)
		if r.Producer.Syscalls > allowed {
			t.Errorf("%s: the producer made %.2f system calls per 1 MiB message, want 3 (%.2f with kicks)", tr, r.Producer.Syscalls, allowed)
		}
	}
}
