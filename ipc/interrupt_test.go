package ipc

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipclab/ipclab/internal/sessionhook"
)

func init() {
	RegisterWorker("test-panics", func(ctx context.Context, c Conn, arg []byte) error {
		var m map[string]int
		m["boom"]++
		return nil
	})
}

// asCell runs f as the session process runs a cell (on a goroutine locked
// to its thread, known to internal/sessionhook), interrupts it after d, and
// returns f's error and the time from the interrupt to f's return.
func asCell(t *testing.T, d time.Duration, f func() error) (error, time.Duration) {
	t.Helper()
	sessionhook.Begin()
	type result struct {
		err   error
		fired time.Time
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		sessionhook.SetCellThread(int64(unix.Gettid()))
		var fired time.Time
		timer := time.AfterFunc(d, func() { fired = time.Now(); sessionhook.Fire() })
		err := f()
		timer.Stop()
		sessionhook.SetCellThread(0)
		sessionhook.End()
		done <- result{err, fired}
	}()
	select {
	case r := <-done:
		if r.fired.IsZero() {
			t.Fatalf("returned before the interrupt: %v", r.err)
		}
		return r.err, time.Since(r.fired)
	case <-time.After(d + 30*time.Second):
		t.Fatal("the interrupt did not stop the call")
		return nil, 0
	}
}

// TestInterruptInsideCalls interrupts each of ipc's blocking calls as the
// kernel interrupts a cell: each returns an error wrapping
// context.Canceled, promptly, with no process or segment left behind.
func TestInterruptInsideCalls(t *testing.T) {
	ctx := context.Background()
	var peers []*Peer
	calls := map[string]func() error{
		"Run": func() error {
			_, err := Run(ctx, Experiment{Transports: []string{"pipe"}, Sizes: []int{64}, Duration: 20 * time.Second})
			return err
		},
		"CountTogether": func() error {
			_, err := CountTogether(ctx, 2, 2_000_000_000, Locked)
			return err
		},
	}
	for _, tr := range []string{"pipe", "shm-ring", "unix-stream"} {
		calls["Recv/"+tr] = func() error {
			p, err := Spawn(ctx, tr, Options{}, "sink", nil)
			if err != nil {
				return err
			}
			peers = append(peers, p)
			_, err = p.Conn.Recv(ctx, make([]byte, 64))
			return err
		}
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			checkNoLeftovers(t)
			peers = nil
			err, took := asCell(t, 300*time.Millisecond, call)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			t.Logf("interrupt → return: %v (%v)", took, err)
			if took > 5*time.Second {
				t.Errorf("took %v to stop", took)
			}
			for _, p := range peers { // spawned by the interrupted "cell": stopped at its end
				select {
				case <-p.Exited():
				case <-time.After(2 * time.Second):
					t.Errorf("worker %d still runs after the interrupted cell ended", p.PID())
				}
			}
		})
	}
}

// TestInterruptSparesOtherGoroutines: only the cell's own goroutine is
// interrupted; goroutines it started keep their calls.
func TestInterruptSparesOtherGoroutines(t *testing.T) {
	checkNoLeftovers(t)
	p, err := Spawn(context.Background(), "pipe", Options{}, "sink", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	other := make(chan error, 1)
	err, _ = asCell(t, 100*time.Millisecond, func() error {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := p.Conn.Recv(ctx, make([]byte, 64))
			other <- err
		}()
		return sleepCtx(context.Background(), 300*time.Millisecond)
	})
	if err := <-other; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the other goroutine's Recv ended with %v, want its own deadline", err)
	}
	select {
	case <-p.Exited():
		t.Error("a worker spawned outside the interrupted cell was stopped")
	default:
	}
}

func TestWorkerPanicNamesIt(t *testing.T) {
	checkNoLeftovers(t)
	p, err := Spawn(context.Background(), "pipe", Options{}, "test-panics", nil)
	if err == nil {
		err = p.Wait(context.Background())
		p.Close()
	}
	if err == nil || !strings.Contains(err.Error(), `worker "test-panics" panicked: assignment to entry in nil map`) ||
		!strings.Contains(err.Error(), "interrupt_test.go") {
		t.Fatalf("err = %v", err)
	}
}
