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
			reportDone(c.ID, runPlugin(c.Plugin))
		case "preload":
			// Nobody waits for it: a plugin that does not load only leaves
			// its symbols out, and evaluated cells then fall back to compiling.
			if _, err := plugin.Open(c.Plugin); err != nil {
				fmt.Fprintf(os.Stderr, "ipclab session: preload %s: %v\n", c.Plugin, err)
			}
		case "eval":
			reportDone(c.ID, evalProgram(c.Program))
		}
	}
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

func runPlugin(path string) map[string]string {
	p, err := plugin.Open(path)
	if err != nil {
		return map[string]string{"ename": "LoadError", "evalue": err.Error()}
	}
	loaded = append(loaded, path)
	os.Setenv(sessionhook.PluginsEnv, strings.Join(loaded, string(os.PathListSeparator)))
	sym, err := p.Lookup("Run")
	if err != nil {
		return map[string]string{"ename": "LoadError", "evalue": err.Error()}
	}
	run, ok := sym.(func())
	if !ok {
		return map[string]string{"ename": "LoadError", "evalue": fmt.Sprintf("Run has type %T, want func()", sym)}
	}
	return runCell(run)
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
		extra = runCell(cell)
	}
	reportDone(c.ID, extra)
}

// reportDone writes the end-of-cell records: on standard output with how
// the cell ended (extra, or a panic a goroutine of the cell reported), and
// on standard error so that the kernel knows it has all of both streams.
func reportDone(id int, extra map[string]string) {
	if extra == nil {
		if m := takeGoroutinePanic(); m != nil {
			extra = m.Extra
		}
	}
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
		if out := runCell(run); out != nil && out["ename"] != "panic" && out["ename"] != "Exit" {
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

var goPanics struct {
	sync.Mutex
	first *cellio.Message
}

// goroutinePanicked keeps the first panic of a cell's goroutines for the
// cell's report and prints every one on standard error.
func goroutinePanicked(r any, stack []byte) {
	msg := fmt.Sprintf("panic in goroutine: %v\n\n%s", r, stack)
	goPanics.Lock()
	if goPanics.first == nil {
		goPanics.first = &cellio.Message{Kind: cellio.KindDone, Extra: map[string]string{
			"ename": "panic", "evalue": fmt.Sprint(r), "stack": msg}}
	}
	goPanics.Unlock()
	fmt.Fprintf(os.Stderr, "%s\n", msg)
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
		cellrt.SetCellThread(int64(gettid()))
		sessionhook.SetCellThread(int64(gettid()))
		defer func() {
			cellrt.SetCellThread(0)
			sessionhook.SetCellThread(0)
			r := recover()
			if r == nil {
				done <- nil
				return
			}
			switch v := r.(type) {
			case cellrt.Interrupted:
				done <- map[string]string{"ename": "KeyboardInterrupt", "evalue": "the cell was interrupted"}
			case cellrt.ExitCalled:
				os.Stdout.Sync()
				done <- map[string]string{"ename": "Exit", "evalue": fmt.Sprintf("the cell called os.Exit(%d); the session goes on", v.Code)}
			default:
				done <- map[string]string{"ename": "panic", "evalue": fmt.Sprint(r), "stack": string(cellrt.Stack())}
			}
		}()
		run()
	}()
	out = <-done
	sessionhook.End() // stops the workers an interrupted cell spawned
	return out
}
