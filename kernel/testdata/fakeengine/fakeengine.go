// Package fakeengine is a scripted stand-in for the ipclab engine, for
// testing the kernel's protocol layer without building Go code. A cell is a
// list of commands, one per line:
//
//	print TEXT          TEXT and a newline on stdout
//	eprint TEXT         TEXT and a newline on stderr
//	write N SIZE        N writes of SIZE bytes on stdout (letters a..z, then a newline)
//	display MIME TEXT   display_data {MIME: TEXT}
//	show ID TEXT        display_data text/plain with display id ID
//	update ID TEXT      update_display_data for ID
//	clear               clear_output
//	input PROMPT        ask for a line; prints "got VALUE" (or fails the cell)
//	password PROMPT     the same, as a password
//	sleep               block until interrupted; the cell fails with "Interrupted"
//	gate                block until Engine.Gate is closed (or interrupted)
//	later TEXT          after the cell, once Engine.Later is closed (or after 50 ms), print TEXT
//	panic TEXT          fail the cell with a traceback naming the line
//	result TEXT         the cell's value is text/plain TEXT
//	crash               panic inside Execute (an engine bug)
//
// Complete offers fmt.Print, fmt.Printf, fmt.Println and fmt.Sprintf;
// Inspect finds any identifier; IsComplete checks braces.
package fakeengine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/ipclab/ipclab/kernel/engine"
)

// Engine is the fake engine. Gate and Later, when set, are closed by a test
// to release "gate" and "later" commands.
type Engine struct {
	Gate   chan struct{}
	Later  chan struct{}
	Closed atomic.Bool
	Cells  atomic.Int64 // Execute calls
	// LastRequest is the most recent Request Execute got.
	LastRequest atomic.Pointer[engine.Request]
}

// Execute runs a script cell.
func (e *Engine) Execute(ctx context.Context, req engine.Request, out engine.Output) engine.Result {
	e.Cells.Add(1)
	e.LastRequest.Store(&req)
	var res engine.Result
	for i, line := range strings.Split(req.Code, "\n") {
		cmd, arg, _ := strings.Cut(strings.TrimRight(strings.TrimLeft(line, " \t"), "\r"), " ")
		fail := func(name, value string) engine.Result {
			return engine.Result{Err: &engine.CellError{Name: name, Value: value, Traceback: []string{
				fmt.Sprintf("%s: %s", name, value),
				fmt.Sprintf("cell %d, line %d: %s", req.Count, i+1, strings.TrimSpace(line)),
			}}}
		}
		switch cmd {
		case "":
		case "print":
			out.Stream("stdout", arg+"\n")
		case "eprint":
			out.Stream("stderr", arg+"\n")
		case "write":
			ns, sizes, _ := strings.Cut(arg, " ")
			n, _ := strconv.Atoi(ns)
			size, _ := strconv.Atoi(sizes)
			for j := 0; j < n; j++ {
				out.Stream("stdout", Chunk(j, size))
			}
		case "display":
			mime, text, _ := strings.Cut(arg, " ")
			out.Display(map[string]any{mime: text}, nil, "", false)
		case "show", "update":
			id, text, _ := strings.Cut(arg, " ")
			out.Display(map[string]any{"text/plain": text}, nil, id, cmd == "update")
		case "clear":
			out.ClearOutput(false)
		case "input", "password":
			v, err := out.Input(ctx, arg, cmd == "password")
			if err != nil {
				if errors.Is(err, engine.ErrNoStdin) {
					return fail("NoStdin", err.Error())
				}
				return fail("InputError", err.Error())
			}
			out.Stream("stdout", "got "+v+"\n")
		case "sleep":
			<-ctx.Done()
			return fail("Interrupted", "the cell was interrupted")
		case "gate":
			select {
			case <-e.Gate:
			case <-ctx.Done():
				return fail("Interrupted", "the cell was interrupted")
			}
		case "later":
			go func() {
				if e.Later != nil {
					<-e.Later
				} else {
					time.Sleep(50 * time.Millisecond)
				}
				out.Stream("stdout", arg+"\n")
			}()
		case "panic":
			return fail("panic", arg)
		case "result":
			res.Data = map[string]any{"text/plain": arg}
		case "crash":
			panic("fake engine crashed")
		default:
			return fail("SyntaxError", "unknown command "+cmd)
		}
	}
	return res
}

// Chunk is the j-th chunk the write command prints: size bytes, letters
// then a newline.
func Chunk(j, size int) string {
	if size <= 0 {
		return ""
	}
	return strings.Repeat(string(rune('a'+j%26)), size-1) + "\n"
}

var words = []string{"fmt.Print", "fmt.Printf", "fmt.Println", "fmt.Sprintf"}

// Complete completes the identifier before cursor (in code points).
func (e *Engine) Complete(code string, cursor int) engine.Completion {
	r := []rune(code)
	start := cursor
	for start > 0 && (unicode.IsLetter(r[start-1]) || unicode.IsDigit(r[start-1]) || r[start-1] == '.' || r[start-1] == '_') {
		start--
	}
	prefix := string(r[start:cursor])
	var m []string
	for _, w := range words {
		if prefix != "" && strings.HasPrefix(w, prefix) {
			m = append(m, w)
		}
	}
	return engine.Completion{Matches: m, CursorStart: start, CursorEnd: cursor}
}

// Inspect finds any non-empty code.
func (e *Engine) Inspect(code string, cursor, detail int) engine.Inspection {
	if strings.TrimSpace(code) == "" {
		return engine.Inspection{}
	}
	return engine.Inspection{Found: true, Data: map[string]any{"text/plain": fmt.Sprintf("doc for %s (detail %d)", strings.TrimSpace(code), detail)}}
}

// IsComplete checks braces: more { than } is incomplete, a leading ) or
// "invalid" is invalid.
func (e *Engine) IsComplete(code string) engine.Completeness {
	t := strings.TrimSpace(code)
	switch {
	case strings.Contains(t, "invalid"), strings.HasPrefix(t, ")"), strings.Contains(t, ":= )"):
		return engine.Completeness{Status: "invalid"}
	case strings.Count(t, "{") > strings.Count(t, "}"):
		return engine.Completeness{Status: "incomplete", Indent: "\t"}
	case t == "?":
		return engine.Completeness{Status: "unknown"}
	}
	return engine.Completeness{Status: "complete"}
}

// Close records that it was called.
func (e *Engine) Close() error {
	e.Closed.Store(true)
	return nil
}
