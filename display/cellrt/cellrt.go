// Package cellrt is the runtime that the ipclab kernel's generated code calls:
// it runs notebook cells loaded as Go plugins inside the long-lived session
// process, reports each cell's value and end, and makes interrupts, os.Exit
// and panics in goroutines stop a cell instead of the session.
//
// Users never import it; the kernel's generated code does. Its exported names
// are an implementation detail and may change with every ipclab version.
package cellrt

import (
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipclab/ipclab/display"
	"github.com/ipclab/ipclab/internal/cellio"
)

// interrupted is non-zero from an interrupt request until the cell ends.
var interrupted atomic.Int32

// cellThread is the OS thread id the running cell's main goroutine is locked to.
var cellThread atomic.Int64

// Interrupted is the panic value that unwinds a cell on interrupt.
type Interrupted struct{}

func (Interrupted) Error() string { return "interrupted" }

// ExitCalled is the panic value of a cell that called os.Exit or log.Fatal.
type ExitCalled struct{ Code int }

func (e ExitCalled) Error() string { return fmt.Sprintf("os.Exit(%d) called", e.Code) }

// Check ends the cell if an interrupt is pending and the caller is the cell's
// own goroutine. Generated code checks the Flag inline instead; Sleep uses it.
func Check() {
	if interrupted.Load() != 0 {
		checkpoint()
	}
}

// Flag returns the interrupt flag; generated code keeps it in a local and
// calls Checkpoint when it is set.
func Flag() *atomic.Int32 { return &interrupted }

// Checkpoint ends the cell if an interrupt is pending and the caller runs on
// the cell's own goroutine; other goroutines go on.
func Checkpoint() { checkpoint() }

func checkpoint() {
	if int64(gettid()) == cellThread.Load() {
		panic(Interrupted{})
	}
}

// Sleep replaces time.Sleep in cells so that an interrupt ends it early.
func Sleep(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		Check()
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		time.Sleep(min(left, 20*time.Millisecond))
	}
}

// Exit replaces os.Exit in cells: it ends the cell, not the session.
func Exit(code int) {
	os.Stdout.Sync()
	panic(ExitCalled{Code: code})
}

// Result shows v as the cell's execute_result. A nil value (such as the nil
// error display.Display returns) shows nothing.
func Result(v any) {
	if v == nil {
		return
	}
	d := display.Bundle(v)
	if err := cellio.Write(os.Stdout, cellio.Message{Kind: cellio.KindResult, Data: d.Data, Metadata: d.Metadata}); err != nil {
		fmt.Fprintf(os.Stderr, "ipclab: cannot show the cell's value: %v\n", err)
	}
}

// Ptr returns a pointer to a copy of v; generated code uses it for &T{…} of
// types declared in earlier cells.
func Ptr[T any](v T) *T { return &v }

var goPanics struct {
	sync.Mutex
	first *cellio.Message
}

// Go runs f on a new goroutine that reports a panic instead of ending the
// session; generated code rewrites a cell's go statements to call it.
func Go(f func()) {
	go func() {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if _, ok := r.(Interrupted); ok {
				return
			}
			msg := fmt.Sprintf("panic in goroutine: %v\n\n%s", r, debug.Stack())
			goPanics.Lock()
			if goPanics.first == nil {
				goPanics.first = &cellio.Message{Kind: cellio.KindDone, Extra: map[string]string{
					"ename": "panic", "evalue": fmt.Sprint(r), "stack": msg}}
			}
			goPanics.Unlock()
			fmt.Fprintf(os.Stderr, "%s\n", msg)
		}()
		f()
	}()
}

func takeGoroutinePanic() *cellio.Message {
	goPanics.Lock()
	defer goPanics.Unlock()
	m := goPanics.first
	goPanics.first = nil
	return m
}

// runCell calls run on a goroutine locked to its own OS thread (so that an
// interrupt can tell the cell's goroutine from the others) and returns how it
// ended.
func runCell(run func()) (out map[string]string) {
	done := make(chan map[string]string, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is never unlocked: it dies with the goroutine, taking any
		// state an interrupted cell left on it.
		cellThread.Store(int64(gettid()))
		defer func() {
			cellThread.Store(0)
			r := recover()
			if r == nil {
				done <- nil
				return
			}
			switch v := r.(type) {
			case Interrupted:
				done <- map[string]string{"ename": "KeyboardInterrupt", "evalue": "the cell was interrupted"}
			case ExitCalled:
				done <- map[string]string{"ename": "Exit", "evalue": fmt.Sprintf("the cell called os.Exit(%d); the session goes on", v.Code)}
			default:
				done <- map[string]string{"ename": "panic", "evalue": fmt.Sprint(r), "stack": string(debug.Stack())}
			}
		}()
		run()
	}()
	return <-done
}

// Zero sets *p to its zero value; generated code uses it for var x T.
func Zero[T any](p *T) {
	var z T
	*p = z
}

// Fatal replaces log.Fatal in cells.
func Fatal(v ...any) {
	log.Output(2, fmt.Sprint(v...))
	panic(ExitCalled{Code: 1})
}

// Fatalf replaces log.Fatalf in cells.
func Fatalf(format string, v ...any) {
	log.Output(2, fmt.Sprintf(format, v...))
	panic(ExitCalled{Code: 1})
}

// Fatalln replaces log.Fatalln in cells.
func Fatalln(v ...any) {
	log.Output(2, fmt.Sprintln(v...))
	panic(ExitCalled{Code: 1})
}

// Goexit replaces runtime.Goexit in cells: on the cell's own goroutine it
// ends the cell (a real Goexit would leave the session waiting forever).
func Goexit() {
	if int64(gettid()) == cellThread.Load() {
		panic(ExitCalled{Code: 0})
	}
	runtime.Goexit()
}
