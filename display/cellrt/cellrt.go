// Package cellrt is what the ipclab kernel's generated code calls: the
// interrupt flag and checks, replacements for os.Exit, log.Fatal,
// time.Sleep and runtime.Goexit that end a cell instead of the session, the
// cell's value (Result), goroutines that report their panics (Go), and the
// export of a cell's symbols to evaluated cells (Export).
//
// Every cell's plugin links it, so it imports nothing heavier than sync and
// time: the work behind Result, Go and Fatal is done by the session process's
// main loop (package cellhost), which installs itself with Install. Users
// never import cellrt; its exported names may change with every version.
package cellrt

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// interrupted is non-zero from an interrupt request until the cell ends.
var interrupted atomic.Int32

// cellThread is the OS thread id the running cell's main goroutine is locked to.
var cellThread atomic.Int64

// Interrupted is the panic value that unwinds a cell on interrupt.
type Interrupted struct{}

func (Interrupted) Error() string { return "interrupted" }

// ExitCalled is how a goroutine ended that called os.Exit or log.Fatal
// (Code is the status) or runtime.Goexit (Goexit is set); see TakeEnd.
type ExitCalled struct {
	Code   int
	Goexit bool
}

func (e ExitCalled) Error() string {
	if e.Goexit {
		return "runtime.Goexit called"
	}
	return "os.Exit(" + strconv.Itoa(e.Code) + ") called"
}

// ends holds, per goroutine id, how a goroutine that called Exit or Goexit
// is ending: they end it with runtime.Goexit, which runs its deferred calls
// but which no recover can stop, as nothing can stop os.Exit.
var ends sync.Map // int64 → ExitCalled

// TakeEnd returns (and forgets) how the calling goroutine is ending, if it
// called Exit, Fatal or Goexit; the session's deferred handlers ask it.
func TakeEnd() (ExitCalled, bool) {
	v, ok := ends.LoadAndDelete(goid())
	if !ok {
		return ExitCalled{}, false
	}
	return v.(ExitCalled), true
}

func endGoroutine(e ExitCalled) {
	id := goid()
	var tracked bool
	raceQuiet(func() { _, tracked = origins.Load(id) })
	if !tracked && !e.Goexit && !onCellThread() {
		// A goroutine no cell's go statement started (a library's): nobody
		// reports how it ended, so say it here.
		if host.GoroutinePanic != nil {
			host.GoroutinePanic(0, e, Stack())
		}
	} else {
		raceQuiet(func() { ends.Store(id, e) })
	}
	runtime.Goexit()
}

// goid is the calling goroutine's id, from the first line of its stack
// ("goroutine 18 [running]:").
func goid() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = b[len("goroutine "):]
	var id int64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + int64(c-'0')
	}
	return id
}

// current is the id of the cell running now (0 between cells); origins maps
// the goroutines Go started to the cell that started them.
var (
	current atomic.Int64
	origins sync.Map // goroutine id → cell id
)

// SetCell records the cell now running (0: none), for Go's attribution.
func SetCell(id int64) { current.Store(id) }

// CurrentCell is the id of the cell running now, 0 between cells.
func CurrentCell() int64 { return current.Load() }

// Host is what the session process does for cells; see Install.
type Host struct {
	// Result shows a cell's value.
	Result func(v any)
	// GoroutinePanic reports a panic in a goroutine that cell started, or
	// (r is an ExitCalled) its call of os.Exit or log.Fatal.
	GoroutinePanic func(cell int64, r any, stack []byte)
	// Log writes a log.Fatal* message: kind is "", "f" or "ln".
	Log func(kind, format string, v []any)
	// ThreadID is the caller's OS thread id.
	ThreadID func() int64
}

var host Host

// Install is called once by the session process before any cell runs.
func Install(h Host) { host = h }

// Interrupt sets or clears the pending interrupt.
func Interrupt(on bool) {
	if on {
		interrupted.Store(1)
	} else {
		interrupted.Store(0)
	}
}

// SetCellThread records the OS thread of the running cell (0: none).
func SetCellThread(tid int64) { cellThread.Store(tid) }

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

// OnCellThread reports whether the caller runs on the running cell's own
// thread (package check hands that role to the goroutine it guards).
func OnCellThread() bool { return onCellThread() }

// Interrupting reports whether an interrupt is pending.
func Interrupting() bool { return interrupted.Load() != 0 }

func onCellThread() bool { return host.ThreadID != nil && host.ThreadID() == cellThread.Load() }

func checkpoint() {
	if onCellThread() {
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

// Exit replaces os.Exit in cells: it ends the calling goroutine (the cell,
// when called from it), running deferred calls, and no recover stops it.
// The session goes on.
func Exit(code int) { endGoroutine(ExitCalled{Code: code}) }

// Result shows v as the cell's execute_result. A nil value (such as the nil
// error display.Display returns) shows nothing.
func Result(v any) {
	if v != nil && host.Result != nil {
		host.Result(v)
	}
}

// Ptr returns a pointer to a copy of v; generated code uses it for &T{…} of
// types declared in earlier cells.
func Ptr[T any](v T) *T { return &v }

// Zero sets *p to its zero value; generated code uses it for var x T.
func Zero[T any](p *T) {
	var z T
	*p = z
}

// Go runs f on a new goroutine that reports a panic or an os.Exit instead
// of ending the session; generated code rewrites a cell's go statements to
// call it. The goroutine belongs to the cell that started it: the one
// running now, or, for a goroutine started by another one, that one's cell.
func Go(f func()) {
	cell := current.Load()
	raceQuiet(func() {
		if o, ok := origins.Load(goid()); ok {
			cell = o.(int64)
		}
	})
	go func() {
		id := goid()
		raceQuiet(func() { origins.Store(id, cell) })
		returned := false
		defer func() {
			raceQuiet(func() { origins.Delete(id) })
			r := recover()
			if r == nil {
				var end ExitCalled
				var ok bool
				raceQuiet(func() { end, ok = TakeEnd() })
				if returned || !ok || end.Goexit {
					return // runtime.Goexit ends a goroutine quietly, as in Go
				}
				r = end
			}
			if _, ok := r.(Interrupted); ok {
				return
			}
			if host.GoroutinePanic != nil {
				host.GoroutinePanic(cell, r, Stack())
			}
		}()
		f()
		returned = true
	}()
}

// Watch has the calling goroutine's os.Exit, log.Fatal or runtime.Goexit
// kept for its own deferred TakeEnd, as a cell goroutine's is, rather than
// reported as a library goroutine's; forget undoes it. Package check runs a
// student's function this way and says how it ended.
func Watch() (forget func()) {
	id := goid()
	origins.Store(id, current.Load())
	return func() { origins.Delete(id) }
}

// Stack is the calling goroutine's stack, as runtime/debug.Stack gives it.
func Stack() []byte {
	buf := make([]byte, 4096)
	for {
		n := runtime.Stack(buf, false)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Fatal replaces log.Fatal in cells.
func Fatal(v ...any) { fatal("", "", v) }

// Fatalf replaces log.Fatalf in cells.
func Fatalf(format string, v ...any) { fatal("f", format, v) }

// Fatalln replaces log.Fatalln in cells.
func Fatalln(v ...any) { fatal("ln", "", v) }

func fatal(kind, format string, v []any) {
	if host.Log != nil {
		host.Log(kind, format, v)
	}
	Exit(1)
}

// Goexit replaces runtime.Goexit in cells: it ends the calling goroutine as
// runtime.Goexit does; on the cell's own goroutine that ends the cell.
func Goexit() { endGoroutine(ExitCalled{Goexit: true}) }

var registry struct {
	sync.RWMutex
	syms map[string]map[string]any // package path → name → value (a pointer for variables)
}

// Export makes a package's functions, variables (as pointers) and typed
// constants available to evaluated cells; generated cell packages call it
// for themselves, and generated plugins for the packages they import.
func Export(pkg string, syms map[string]any) {
	registry.Lock()
	defer registry.Unlock()
	t := table(pkg)
	for k, v := range syms {
		t[k] = v
	}
}

// table is pkg's symbols; registry is locked.
func table(pkg string) map[string]any {
	if registry.syms == nil {
		registry.syms = map[string]map[string]any{}
	}
	if registry.syms[pkg] == nil {
		registry.syms[pkg] = map[string]any{}
	}
	return registry.syms[pkg]
}

// Symbol returns what Export registered for pkg and name.
func Symbol(pkg, name string) (any, bool) {
	registry.RLock()
	defer registry.RUnlock()
	v, ok := registry.syms[pkg][name]
	return v, ok
}

func init() {
	Export("github.com/ipclab/ipclab/display/cellrt", map[string]any{
		"Sleep": Sleep, "Exit": Exit, "Fatal": Fatal, "Fatalf": Fatalf, "Fatalln": Fatalln, "Goexit": Goexit,
	})
}

// VarOf returns the variable an evaluated cell declared, for compiled cells
// that use it. A session process started since has no such variable: it is
// made then, with its zero value, as compiled cells' variables start again.
func VarOf[T any](pkg, name string) *T {
	registry.Lock()
	defer registry.Unlock()
	t := table(pkg)
	switch v := t[name].(type) {
	case *T:
		return v
	case nil:
	default:
		// The evaluator made the variable with reflect.New, whose pointer
		// type reflect may have built at run time: a *T the compiler's
		// assertion does not recognise. The kernel made it of type T, so
		// take the pointer out of the interface.
		return (*T)((*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1])
	}
	p := new(T)
	t[name] = p
	return p
}
