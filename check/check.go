// Package check is what the test cells of an ipclab assignment call. Every
// check prints one line, "PASS name: what was seen", or ends the cell with a
// Failure, "FAIL name: what was expected, what was seen", so that the cell
// gets an error output and loses its points under nbgrader's rule (a grade
// cell earns its points when it runs without an error).
//
//	check.Equal("sum of 1..10", sum(10), 55)
//	check.That("ring is empty", r.Len() == 0, "Len() = %d", r.Len())
//	check.Run("every message arrives", 20*time.Second, func(ctx context.Context) error {
//		return sendAll(ctx, 1000) // the student's code
//	})
//	check.Faster("ring beats pipe", 60*time.Second, 2, ringTransfer, pipeTransfer)
//
// Run and Faster call the student's code under a time limit, on a goroutine
// of their own: a panic, an os.Exit or log.Fatal, a returned error, a loop
// that does not end or a deadlock becomes a FAIL of that check, never a
// stopped notebook or session. Loops written in cells stop at the limit (the
// kernel's interrupt checks); code blocked where no check runs (a lock, a
// channel, a system call) is abandoned, and the context passed to it is
// cancelled so that ipc calls return.
//
// Checks on measurements compare mechanisms measured in the same run,
// interleaved, by the ratio of their medians (Faster): never an absolute
// number, which would depend on the grading machine and its load.
package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ipclab/ipclab/display/cellrt"
	"github.com/ipclab/ipclab/internal/sessionhook"
	"golang.org/x/sys/unix"
)

// Failure is the panic value of a failed check; its message starts "FAIL".
type Failure struct {
	Name string // the check's name
	Msg  string // what was expected and what was seen
}

func (f Failure) Error() string { return "FAIL " + f.Name + ": " + f.Msg }

// ErrTimeLimit is the error of code that did not finish within its limit.
var ErrTimeLimit = errors.New("time limit exceeded")

func pass(name, format string, args ...any) {
	msg := ""
	if format != "" {
		msg = ": " + fmt.Sprintf(format, args...)
	}
	fmt.Fprintf(os.Stdout, "PASS %s%s\n", name, msg)
}

func fail(name, format string, args ...any) {
	f := Failure{Name: name, Msg: fmt.Sprintf(format, args...)}
	fmt.Fprintln(os.Stdout, f.Error())
	panic(f)
}

// That passes when ok is true; format and args describe what was seen.
func That(name string, ok bool, format string, args ...any) {
	if !ok {
		fail(name, format, args...)
	}
	pass(name, format, args...)
}

// Equal passes when got equals want (reflect.DeepEqual).
func Equal[T any](name string, got, want T) {
	if !reflect.DeepEqual(got, want) {
		fail(name, "want %s, got %s", show(want), show(got))
	}
	pass(name, "%s", show(got))
}

// NoError passes when err is nil.
func NoError(name string, err error) {
	if err != nil {
		fail(name, "unexpected error: %v", err)
	}
	pass(name, "")
}

func show(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Run calls f under the time limit and passes when it returns nil. A
// panic, os.Exit, log.Fatal, an error, or not finishing within limit (an
// endless loop, a deadlock) fails the check; ctx is cancelled at the limit.
func Run(name string, limit time.Duration, f func(ctx context.Context) error) {
	start := time.Now()
	if err := Guard(limit, f); err != nil {
		fail(name, "%v", err)
	}
	pass(name, "finished in %v", time.Since(start).Round(time.Millisecond))
}

// Faster runs fast and slow alternately, five times each, all within
// limit, and passes when the median time of slow is at least factor times
// the median time of fast. Each function returns how long the part to
// compare took (leaving out setup such as starting processes). Both run on
// the same machine in the same minute, so the ratio holds wherever the
// check runs; choose a factor well below what a correct solution reaches.
func Faster(name string, limit time.Duration, factor float64, fast, slow func(ctx context.Context) (time.Duration, error)) {
	const rounds = 5
	var tf, ts []time.Duration
	err := Guard(limit, func(ctx context.Context) error {
		fns := [2]func(context.Context) (time.Duration, error){fast, slow}
		for i := 0; i < rounds; i++ {
			order := [2]int{0, 1}
			if i%2 == 1 { // alternate which goes first
				order = [2]int{1, 0}
			}
			for _, j := range order {
				d, err := fns[j](ctx)
				if err != nil {
					return fmt.Errorf("%s run %d: %w", [2]string{"first", "second"}[j], i+1, err)
				}
				if j == 0 {
					tf = append(tf, d)
				} else {
					ts = append(ts, d)
				}
			}
		}
		return nil
	})
	if err != nil {
		fail(name, "%v", err)
	}
	mf, ms := median(tf), median(ts)
	ratio := float64(ms) / float64(max(mf, 1))
	if ratio < factor {
		fail(name, "want the first %.2f× as fast as the second or better, got %.2f× (medians of %d runs: %v vs %v)",
			factor, ratio, rounds, mf.Round(time.Microsecond), ms.Round(time.Microsecond))
	}
	pass(name, "%.2f× as fast (needs %.2f×; medians of %d runs: %v vs %v)",
		ratio, factor, rounds, mf.Round(time.Microsecond), ms.Round(time.Microsecond))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// Guard calls f on a goroutine of its own and returns its error, or an
// error saying why it did not return: a panic (with its value), os.Exit
// or log.Fatal, or ErrTimeLimit. It is what Run and Faster use; call it
// when a check needs the result of code that may misbehave.
func Guard(limit time.Duration, f func(ctx context.Context) error) error {
	parent := context.Background()
	if hc := sessionhook.Context(); hc != nil {
		parent = hc // the kernel's interrupt of the cell reaches f's ipc calls too
	}
	ctx, cancel := context.WithTimeout(parent, limit)
	defer cancel()
	// In the kernel, the interrupt checks compiled into cells' loops stop
	// only the goroutine registered as the cell's thread: f's goroutine
	// takes that role while it runs, so that an interrupt at the time
	// limit stops an endless loop in the student's code.
	caller := int64(unix.Gettid())
	onCell := cellrt.OnCellThread()
	var timedOut atomic.Bool
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: an interrupted thread dies with its goroutine
		if onCell {
			cellrt.SetCellThread(int64(unix.Gettid()))
		}
		forget := cellrt.Watch()
		defer forget()
		returned := false
		defer func() {
			r := recover()
			switch v := r.(type) {
			case nil:
				if returned {
					break
				}
				// os.Exit and log.Fatal end the goroutine with runtime.Goexit.
				if end, ok := cellrt.TakeEnd(); ok && !end.Goexit {
					done <- fmt.Errorf("the code called os.Exit(%d)", end.Code)
				} else {
					done <- errors.New("the code called runtime.Goexit")
				}
			case cellrt.Interrupted:
				if timedOut.Load() {
					done <- fmt.Errorf("%w (%v): an endless loop?", ErrTimeLimit, limit)
				} else {
					done <- v // the user interrupted the cell
				}
			case Failure:
				done <- fmt.Errorf("%s", v.Error())
			default:
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		err := f(ctx)
		returned = true
		done <- err
	}()
	restore := func() {
		if onCell {
			cellrt.SetCellThread(caller)
		}
	}
	select {
	case err := <-done:
		restore()
		if _, ok := err.(cellrt.Interrupted); ok {
			panic(err) // end the cell as the user asked
		}
		if err != nil && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w (%v): %v", ErrTimeLimit, limit, err)
		}
		return err
	case <-ctx.Done():
	}
	// Stop an endless loop compiled in a cell, then give up on code that
	// is blocked where no interrupt check runs.
	timedOut.Store(true)
	raised := false
	if onCell && !cellrt.Interrupting() {
		cellrt.Interrupt(true)
		raised = true
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Second):
		err = fmt.Errorf("%w (%v): the code is blocked (a deadlock: a lock never unlocked, a channel nobody sends on?)", ErrTimeLimit, limit)
	}
	if raised {
		cellrt.Interrupt(false)
	}
	restore()
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w (%v)", ErrTimeLimit, limit)
	}
	return err
}
