package cellrt

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"plugin"
	"strconv"
	"syscall"

	"github.com/ipclab/ipclab/internal/cellio"
)

// CommandFD is the descriptor on which the session process reads the kernel's
// commands, one JSON object a line.
const CommandFD = 3

// Command is one request from the kernel to the session process.
type Command struct {
	Op     string `json:"op"` // "run", "load", "eval", "interrupt" or "setenv"
	ID     int    `json:"id"`
	Plugin string `json:"plugin,omitempty"` // run, load
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
func Serve() {
	cmds := make(chan Command)
	go readCommands(cmds)
	for c := range cmds {
		interrupted.Store(0)
		switch c.Op {
		case "run":
			reportDone(c.ID, runPlugin(c.Plugin))
		case "load":
			reportDone(c.ID, loadPlugin(c.Plugin))
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
			interrupted.Store(1)
			continue
		case "setenv":
			os.Setenv(c.Name, c.Value)
			continue
		}
		cmds <- c
	}
}

// loadPlugin loads a plugin that only exports symbols (its init functions
// call Export) and has nothing to run.
func loadPlugin(path string) map[string]string {
	if _, err := plugin.Open(path); err != nil {
		return map[string]string{"ename": "LoadError", "evalue": err.Error()}
	}
	return nil
}

func runPlugin(path string) map[string]string {
	p, err := plugin.Open(path)
	if err != nil {
		return map[string]string{"ename": "LoadError", "evalue": err.Error()}
	}
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

// Replay is the main loop of a rebuild-per-cell program, used where Go
// plugins are not available: it waits for the kernel's run command, runs the
// earlier cells again with their output discarded (recomputing their
// values), then runs the new cell and reports its end as Serve does.
func Replay(earlier []func(), cell func()) {
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
