// Package cellhost is the main loop of ipclab's session process, the
// long-lived program into which the kernel loads every cell: it reads the
// kernel's commands, loads each cell's plugin and runs it (or evaluates a
// lowered cell, see Program), and reports each cell's value and end on
// standard output, framed by internal/cellio so that they stay in order with
// what the cell printed. It installs itself into package cellrt, which is
// all that generated cells link. Neither users nor cells import it.
package cellhost

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"plugin"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/ipclab/ipclab/display"
	"github.com/ipclab/ipclab/display/cellrt"
	"github.com/ipclab/ipclab/internal/cellio"
	"github.com/ipclab/ipclab/internal/sessionhook"
)

// The session program's main runs a worker process's worker itself, after
// loading the cells (Serve, Replay).
func init() { sessionhook.MainRunsWorkers() }

// CommandFD is the descriptor on which the session process reads the kernel's
// commands, one JSON object a line.
const CommandFD = 3

// Command is one request from the kernel to the session process.
type Command struct {
	Op     string `json:"op"` // "run", "eval", "preload", "interrupt" or "setenv"
	ID     int    `json:"id"`
	Label  string `json:"label,omitempty"`  // run, eval: the cell's name for messages ("cell 7")
	Plugin string `json:"plugin,omitempty"` // run, preload
	// Program is the cell to evaluate (eval). A done record whose ename is
	// "Unresolved" means nothing ran: the kernel compiles the cell instead.
	Program *Program `json:"program,omitempty"`
	Name    string   `json:"name,omitempty"`  // setenv
	Value   string   `json:"value,omitempty"` // setenv
}

// Serve is the main loop of the session process: it loads each cell's plugin
// and runs it, one at a time, until the kernel closes the command channel.
// After each cell it writes a done record on standard output and standard
// error, so that the kernel knows it has all the cell's output.
//
// In a worker process that ipc.Spawn started from a cell, Serve instead
// loads the plugins the session had loaded when it spawned the worker (so
// that the cells' RegisterWorker calls run again, the last one for a name
// counting) and runs the worker.
func Serve() {
	guardOrphans() // orphans_linux.go: nothing outlives the kernel
	install()
	if run := sessionhook.TakePendingWorker(); run != nil {
		loadSessionPlugins()
		os.Exit(run())
	}
	cmds := make(chan Command)
	go readCommands(cmds)
	for c := range cmds {
		cellrt.Interrupt(false)
		sessionhook.Begin()
		switch c.Op {
		case "run":
			startCell(c)
			reportDone(c.ID, runPlugin(c.Plugin))
		case "preload":
			// Nobody waits for it: a plugin that does not load only leaves
			// its symbols out, and evaluated cells then fall back to compiling.
			if _, err := plugin.Open(c.Plugin); err != nil {
				fmt.Fprintf(os.Stderr, "ipclab session: preload %s: %v\n", c.Plugin, err)
			}
		case "eval":
			startCell(c)
			reportDone(c.ID, evalProgram(c.Program))
		}
	}
	endDescendants() // the kernel closed the channel or died: nothing outlives it
}

func readCommands(cmds chan<- Command) {
	defer close(cmds)
	sc := bufio.NewScanner(os.NewFile(CommandFD, "ipclab-commands"))
	for sc.Scan() {
		var c Command
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			fmt.Fprintf(os.Stderr, "ipclab session: bad command %q: %v\n", sc.Text(), err)
			continue
		}
		switch c.Op {
		case "interrupt":
			cellrt.Interrupt(true)
			sessionhook.Fire() // ipc's blocking calls watch this
			continue
		case "setenv":
			os.Setenv(c.Name, c.Value)
			continue
		}
		cmds <- c
	}
}

// loaded lists the cell plugins loaded, in order, for worker processes.
var loaded []string

// runPlugin loads a cell's plugin and runs it. Loading runs the cell's init
// functions, so it happens on the cell's thread too: an init that panics,
// calls os.Exit or is interrupted ends the cell as its statements would.
func runPlugin(path string) map[string]string {
	var loadErr map[string]string
	out := runCell(func() {
		p, err := plugin.Open(path)
		if err != nil {
			loadErr = map[string]string{"ename": "LoadError", "evalue": err.Error()}
			return
		}
		loaded = append(loaded, path)
		os.Setenv(sessionhook.PluginsEnv, strings.Join(loaded, string(os.PathListSeparator)))
		sym, err := p.Lookup("Run")
		if err != nil {
			loadErr = map[string]string{"ename": "LoadError", "evalue": err.Error()}
			return
		}
		run, ok := sym.(func())
		if !ok {
			loadErr = map[string]string{"ename": "LoadError", "evalue": fmt.Sprintf("Run has type %T, want func()", sym)}
			return
		}
		run()
	})
	if loadErr != nil {
		return loadErr
	}
	return out
}

// loadSessionPlugins loads, in a worker process, the cells' plugins its
// session had loaded: their package initialisation registers the workers
// that cells declared. A plugin that no longer loads is reported and
// skipped.
func loadSessionPlugins() {
	for _, p := range filepath.SplitList(os.Getenv(sessionhook.PluginsEnv)) {
		if _, err := plugin.Open(p); err != nil {
			fmt.Fprintf(os.Stderr, "ipclab worker: load %s: %v\n", p, err)
		}
	}
}

// Replay is the main loop of a rebuild-per-cell program, used where Go
// plugins are not available and while %goflags has -race: it waits for the kernel's run command, runs the
// earlier cells again with their output discarded (recomputing their
// values), then runs the new cell and reports its end as Serve does.
func Replay(earlier []func(), cell func()) {
	install()
	if run := sessionhook.TakePendingWorker(); run != nil {
		// A worker no cell's init registered: run reports it unknown.
		os.Exit(run())
	}
	sessionhook.Begin()
	cmds := make(chan Command)
	go readCommands(cmds)
	c, ok := <-cmds
	if !ok {
		return
	}
	extra := replaySilently(earlier)
	if extra == nil {
		startCell(c)
		extra = runCell(cell)
	}
	reportDone(c.ID, extra)
}

// reportDone writes the end-of-cell records: on standard output with how
// the cell ended (extra, or a panic or os.Exit of a goroutine the cell
// started, which wins over the interrupt it caused), and on standard error
// so that the kernel knows it has all of both streams. From then on the
// cell's goroutines report on standard error.
func reportDone(id int, extra map[string]string) {
	goPanics.Lock()
	cellrt.SetCell(0)
	first := goPanics.first
	goPanics.first = nil
	goPanics.Unlock()
	if first != nil && (extra == nil || extra["ename"] == "KeyboardInterrupt" && goPanics.interrupted) {
		extra = first
	}
	goPanics.interrupted = false
	if extra == nil {
		extra = map[string]string{}
	}
	extra["id"] = strconv.Itoa(id)
	_ = cellio.Write(os.Stdout, cellio.Message{Kind: cellio.KindDone, Extra: extra})
	_ = cellio.Write(os.Stderr, cellio.Message{Kind: cellio.KindDone, Extra: map[string]string{"id": extra["id"]}})
}

func replaySilently(earlier []func()) map[string]string {
	if len(earlier) == 0 {
		return nil
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return map[string]string{"ename": "ReplayError", "evalue": err.Error()}
	}
	defer null.Close()
	saved := [2]int{}
	for i, fd := range []int{1, 2} {
		saved[i], _ = syscall.Dup(fd)
		syscall.Dup3(int(null.Fd()), fd, 0)
	}
	defer func() {
		for i, fd := range []int{1, 2} {
			syscall.Dup3(saved[i], fd, 0)
			syscall.Close(saved[i])
		}
	}()
	for i, run := range earlier {
		if out := runCell(run); out != nil && out["ename"] != "panic" && out["ename"] != "Exit" && out["ename"] != "Goexit" {
			out["evalue"] = fmt.Sprintf("while recomputing earlier cell #%d: %s", i+1, out["evalue"])
			return out
		}
	}
	return nil
}

// install makes this process the host of cellrt's cells.
func install() {
	cellrt.Install(cellrt.Host{
		Result:         showResult,
		GoroutinePanic: goroutinePanicked,
		Log: func(kind, format string, v []any) {
			switch kind {
			case "f":
				log.Output(4, fmt.Sprintf(format, v...))
			case "ln":
				log.Output(4, fmt.Sprintln(v...))
			default:
				log.Output(4, fmt.Sprint(v...))
			}
		},
		ThreadID: func() int64 { return int64(gettid()) },
	})
}

// showResult writes v as the cell's execute_result.
func showResult(v any) {
	d := display.Bundle(v)
	if err := cellio.Write(os.Stdout, cellio.Message{Kind: cellio.KindResult, Data: d.Data, Metadata: d.Metadata}); err != nil {
		fmt.Fprintf(os.Stderr, "ipclab: cannot show the cell's value: %v\n", err)
	}
}

// labels names the cells that ran, by id, for reports of their goroutines.
var labels sync.Map // int64 → string

func startCell(c Command) {
	label := c.Label
	if label == "" {
		label = fmt.Sprintf("cell #%d", c.ID)
	}
	labels.Store(int64(c.ID), label)
	cellrt.SetCell(int64(c.ID))
}

var goPanics struct {
	sync.Mutex
	first map[string]string // how the running cell's first failing goroutine ended
	// interrupted is set when a goroutine's os.Exit stopped the cell.
	interrupted bool
}

// goroutinePanicked reports a goroutine that panicked or called os.Exit,
// once: while the cell that started it runs, the first one becomes the
// cell's error (an os.Exit also stops the cell, as it would stop a Go
// program); afterwards, and for the others, a message on standard error,
// which the kernel shows under the most recent cell.
func goroutinePanicked(cell int64, r any, stack []byte) {
	ename, evalue := "panic", fmt.Sprint(r)
	exit, isExit := r.(cellrt.ExitCalled)
	if isExit {
		ename = "Exit"
		evalue = fmt.Sprintf("os.Exit(%d) was called in a goroutine the cell started: that goroutine ended and the cell was stopped; the session goes on", exit.Code)
		stack = nil
	}
	goPanics.Lock()
	if cell != 0 && cell == cellrt.CurrentCell() && goPanics.first == nil {
		goPanics.first = map[string]string{"ename": ename, "evalue": evalue, "stack": string(stack)}
		if isExit {
			goPanics.interrupted = true
			cellrt.Interrupt(true)
		}
		goPanics.Unlock()
		return
	}
	goPanics.Unlock()
	who := "a goroutine"
	if cell != 0 {
		label, _ := labels.Load(cell)
		who = fmt.Sprintf("a goroutine started by %v", label)
		if cell != cellrt.CurrentCell() {
			who += ", which has ended,"
		}
	}
	if isExit {
		fmt.Fprintf(os.Stderr, "ipclab: %s called os.Exit(%d): that goroutine ended; the session goes on\n", who, exit.Code)
		return
	}
	fmt.Fprintf(os.Stderr, "ipclab: %s panicked: %s\n\n%s\n", who, evalue, stack)
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
		cellrt.SetCellThread(int64(gettid()))
		sessionhook.SetCellThread(int64(gettid()))
		returned := false
		defer func() {
			cellrt.SetCellThread(0)
			sessionhook.SetCellThread(0)
			r := recover()
			end, ended := cellrt.TakeEnd()
			switch {
			case r == nil && ended && !end.Goexit:
				// os.Exit, log.Fatal: they end the goroutine with
				// runtime.Goexit, so no recover in the cell could stop them.
				done <- map[string]string{"ename": "Exit", "evalue": fmt.Sprintf("the cell called os.Exit(%d); the session goes on", end.Code)}
			case r == nil && !returned:
				done <- map[string]string{"ename": "Goexit", "evalue": "the cell called runtime.Goexit: its deferred calls ran and it ended there; the session goes on"}
			case r == nil:
				done <- nil
			default:
				if _, ok := r.(cellrt.Interrupted); ok {
					done <- map[string]string{"ename": "KeyboardInterrupt", "evalue": "the cell was interrupted"}
					return
				}
				done <- map[string]string{"ename": "panic", "evalue": fmt.Sprint(r), "stack": string(cellrt.Stack())}
			}
		}()
		run()
		returned = true
	}()
	out = <-done
	sessionhook.End() // stops the workers an interrupted cell spawned
	return out
}
