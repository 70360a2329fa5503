package engine

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

const (
	red   = "\x1b[31m"
	bold  = "\x1b[1m"
	dim   = "\x1b[2m"
	reset = "\x1b[0m"
)

// quote returns the traceback lines that show a cell's line with a caret
// under column col (0 for no caret).
func quote(src string, line, col int) []string {
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) {
		return nil
	}
	text := strings.ReplaceAll(lines[line-1], "\t", "    ")
	out := []string{fmt.Sprintf("%s%5d |%s %s", dim, line, reset, text)}
	if col > 0 {
		prefix := lines[line-1][:min(col-1, len(lines[line-1]))]
		width := len(strings.ReplaceAll(prefix, "\t", "    "))
		out = append(out, fmt.Sprintf("%s      |%s %s%s^%s", dim, reset, strings.Repeat(" ", width), red, reset))
	}
	return out
}

// compileError reports problems the type checker found in the cell.
func compileError(label, src string, errs []sourceError) *CellError {
	var tb []string
	first := ""
	for i, e := range errs {
		if i == 10 {
			tb = append(tb, fmt.Sprintf("… and %d more errors", len(errs)-10))
			break
		}
		line, col := lineCol(src, min(e.offset, len(src)))
		msg := fmt.Sprintf("%s, line %d: %s", label, line, cleanMessage(e.msg))
		if first == "" {
			first = msg
		}
		tb = append(tb, red+bold+"CompileError"+reset+": "+msg)
		tb = append(tb, quote(src, line, col)...)
	}
	return &CellError{Name: "CompileError", Value: first, Traceback: tb}
}

var (
	generatedName = regexp.MustCompile(`ipclab\.cell/c[0-9]{4}\.|\bc[0-9]{4}\.|Ξ(f|g|lit|keyed|zero)_[A-Za-z0-9_]+|Ξ`)
	buildLine     = regexp.MustCompile(`^(?:\S*/)?((?:cell|silent)[0-9]+\.go):([0-9]+)(?::([0-9]+))?: (.*)$`)
	generatedLine = regexp.MustCompile(`^\S+\.go:[0-9]+(?::[0-9]+)?: (.*)$`)
	stackLine     = regexp.MustCompile(`^\s+((?:cell|silent)[0-9]+\.go):([0-9]+)`)
)

// cleanMessage removes the names generated code uses from a message, so it
// speaks of what the user wrote.
func cleanMessage(msg string) string {
	return generatedName.ReplaceAllStringFunc(msg, func(s string) string {
		if strings.HasPrefix(s, "Ξ") && len(s) > len("Ξ") {
			return "(accessor)"
		}
		return ""
	})
}

// buildError maps the go command's errors back to cells.
func (e *Engine) buildError(label, out string) *CellError {
	var tb []string
	first := ""
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		m := buildLine.FindStringSubmatch(l)
		if m == nil {
			msg := cleanMessage(l)
			if g := generatedLine.FindStringSubmatch(l); g != nil {
				// Code ipclab wrote around the cell: no line of the cell to
				// show, and no temporary path either.
				msg = fmt.Sprintf("%s: %s (in the code ipclab generates for the cell: a bug in ipclab, please report it with the cell)", label, cleanMessage(g[1]))
			}
			tb = append(tb, msg)
			if first == "" {
				first = msg
			}
			continue
		}
		cs := e.cells[m[1]]
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		where := m[1]
		if cs != nil {
			where = cs.label
		}
		msg := fmt.Sprintf("%s, line %d: %s", where, line, cleanMessage(m[4]))
		if first == "" {
			first = msg
		}
		tb = append(tb, red+bold+"CompileError"+reset+": "+msg)
		if cs != nil {
			tb = append(tb, quote(cs.src, line, col)...)
		}
	}
	if first == "" {
		first = "the build failed"
	}
	return &CellError{Name: "CompileError", Value: first, Traceback: tb}
}

// runtimeError reports how a cell's run ended: a panic (with the stack
// mapped to cells), an interrupt, or a call of os.Exit.
func (e *Engine) runtimeError(label string, done map[string]string) *CellError {
	name, value := done["ename"], done["evalue"]
	switch name {
	case "KeyboardInterrupt":
		return interruptedError(value)
	case "Exit", "Goexit":
		return &CellError{Name: name, Value: value, Traceback: []string{red + bold + name + reset + ": " + value}}
	case "LoadError":
		return &CellError{Name: "LoadError", Value: value, Traceback: []string{red + bold + "LoadError" + reset + ": " + value,
			"The cell's plugin could not be loaded into the session; restart the kernel if modules or build flags changed."}}
	}
	tb := []string{red + bold + "panic" + reset + ": " + value}
	tb = append(tb, e.stackLines(done["stack"])...)
	return &CellError{Name: "panic", Value: value, Traceback: tb}
}

// stackLines turns a Go stack trace into "at cell N, line M" lines that
// quote the source; frames outside cells are left out.
func (e *Engine) stackLines(stack string) []string {
	var out []string
	lines := strings.Split(stack, "\n")
	for i, l := range lines {
		m := stackLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		cs := e.cells[m[1]]
		if cs == nil {
			continue
		}
		line, _ := strconv.Atoi(m[2])
		fn := ""
		if i > 0 {
			fn = strings.TrimSpace(lines[i-1])
			if p := strings.LastIndex(fn, "("); p > 0 {
				fn = fn[:p]
			}
			fn = cleanMessage(fn)
			if fn == "Run" {
				fn = ""
			}
		}
		where := fmt.Sprintf("at %s, line %d", cs.label, line)
		if fn != "" && !strings.HasPrefix(fn, "Run.func") {
			where += " in " + fn
		}
		out = append(out, where+":")
		out = append(out, quote(cs.src, line, 0)...)
	}
	return out
}

// crashError reports a session process that died while a cell ran: a panic
// in a goroutine the cell did not start itself, a fatal runtime error, a
// signal such as SIGSEGV from C code.
func (e *Engine) crashError(label string, waitErr error, stderr string) *CellError {
	status := "it exited"
	if waitErr != nil {
		status = waitErr.Error()
	}
	if hint := e.opts.Limits.crashHint(stderr); hint != "" {
		status += "; " + hint
	}
	value := fmt.Sprintf("the session process died while %s ran (%s); values from earlier cells are lost, declarations remain", label, status)
	tb := []string{red + bold + "SessionDied" + reset + ": " + value}
	if s := strings.TrimSpace(stderr); s != "" {
		firstLine, _, _ := strings.Cut(s, "\n")
		tb = append(tb, cleanMessage(firstLine))
		tb = append(tb, e.stackLines(s)...)
	}
	return &CellError{Name: "SessionDied", Value: value, Traceback: tb}
}
