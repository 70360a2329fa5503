package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// magicHelp lists the magics; the README documents the same.
const magicHelp = `ipclab magics (a line starting with % or !):
  %go get MODULE[@VERSION]   add or upgrade a module for later cells
  %env NAME=VALUE            set an environment variable in the session (%env alone lists them)
  %goflags FLAGS...          extra go build flags (e.g. -tags=foo, -race); restarts the session process; alone: none
  %reset                     forget all declarations and values (a fresh session)
  %time                      as the first line: report how long the cell took to build and run, and whether it was compiled
  %%writefile FILE           as the first line: write the rest of the cell to FILE
  !COMMAND                   run a shell command in the notebook's directory
  %help                      this list
`

// magics runs the cell's magic lines. It returns the Go code left to run, or
// handled when the cell is done.
func (e *Engine) magics(ctx context.Context, req Request, out Output) (code string, res Result, handled bool) {
	code = req.Code
	first, rest, _ := strings.Cut(strings.TrimLeft(code, "\n"), "\n")
	first = strings.TrimSpace(first)
	if name, ok := strings.CutPrefix(first, "%%writefile"); ok {
		name = strings.TrimSpace(name)
		if name == "" {
			return "", magicError("%%writefile needs a file name"), true
		}
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(e.opts.WorkDir, p)
		}
		if err := os.WriteFile(p, []byte(rest), 0o644); err != nil {
			return "", magicError(fmt.Sprintf("%%%%writefile: %v", err)), true
		}
		out.Stream("stdout", fmt.Sprintf("Wrote %d bytes to %s\n", len(rest), name))
		return "", Result{}, true
	}
	if strings.TrimSpace(first) == "%time" {
		start := time.Now()
		r := e.executeGo(ctx, req, blankFirstLine(code), out)
		how := "compiled"
		if r.Evaluated {
			how = "evaluated without a build"
		}
		out.Stream("stdout", fmt.Sprintf("%s: wall time %s (%s)\n", "%time", time.Since(start).Round(time.Millisecond), how))
		return "", r, true
	}

	// Line magics anywhere at the start of a line; they are blanked so that
	// the Go code keeps its line numbers.
	lines := strings.Split(code, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "%") && !strings.HasPrefix(t, "!") {
			continue
		}
		if strings.HasPrefix(t, "!=") || strings.HasPrefix(t, "%=") {
			continue // Go operators at a line start, inside an expression
		}
		lines[i] = ""
		if r, failed := e.lineMagic(ctx, t, out); failed {
			return "", r, true
		}
	}
	return strings.Join(lines, "\n"), Result{}, false
}

func blankFirstLine(code string) string {
	i := strings.IndexByte(code, '\n')
	if i < 0 {
		return ""
	}
	return code[i:]
}

func magicError(msg string) Result {
	return Result{Err: &CellError{Name: "MagicError", Value: msg, Traceback: []string{red + bold + "MagicError" + reset + ": " + msg}}}
}

// lineMagic runs one magic; failed is set when the cell must stop.
func (e *Engine) lineMagic(ctx context.Context, line string, out Output) (Result, bool) {
	if cmd, ok := strings.CutPrefix(line, "!"); ok {
		return e.shell(ctx, cmd, out)
	}
	name, arg, _ := strings.Cut(strings.TrimPrefix(line, "%"), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "help":
		out.Stream("stdout", magicHelp)
	case "env":
		if arg == "" {
			for _, k := range sortedKeys(e.env) {
				out.Stream("stdout", k+"="+e.env[k]+"\n")
			}
			return Result{}, false
		}
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			k, v, ok = strings.Cut(arg, " ")
		}
		if !ok || strings.TrimSpace(k) == "" {
			return magicError("%env needs NAME=VALUE"), true
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		e.env[k] = v
		if e.sess != nil {
			e.sess.send(setenvCommand(k, v))
		}
	case "goflags":
		e.goflags = strings.Fields(arg)
		e.restartForBuildChange("build flags changed")
		out.Stream("stdout", fmt.Sprintf("go build flags: %q (the session process restarts; earlier values are lost)\n", e.goflags))
		e.setRace(out) // race.go
	case "go":
		fields := strings.Fields(arg)
		if len(fields) < 2 || fields[0] != "get" {
			return magicError("usage: %go get MODULE[@VERSION]"), true
		}
		out.Stream("stdout", fmt.Sprintf("go get %s …\n", strings.Join(fields[1:], " ")))
		b, err := runGo(ctx, e.goTool, e.ws, e.goEnv(), append([]string{"get"}, fields[1:]...)...)
		if len(b) > 0 {
			out.Stream("stderr", string(b))
		}
		if err != nil {
			return magicError(fmt.Sprintf("go get %s: %v", strings.Join(fields[1:], " "), err)), true
		}
		e.imp.forget()
	case "reset":
		if e.sess != nil {
			e.sess.close()
			e.sess = nil
		}
		e.w = newWorld()
		out.Stream("stdout", "Session reset: every declaration, import and value is gone.\n")
	default:
		return magicError(fmt.Sprintf("unknown magic %%%s (see %%help)", name)), true
	}
	return Result{}, false
}

func (e *Engine) restartForBuildChange(why string) {
	if e.sess != nil {
		e.restartLost(e.sess, why)
	}
}

func (e *Engine) shell(ctx context.Context, command string, out Output) (Result, bool) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Dir = e.opts.WorkDir
	cmd.Env = e.sessionEnv()
	// In the session's process group when there is a session, so that what
	// the command leaves running (cmd &) ends with the session, and with the
	// kernel (see hygiene.go); else in a group of its own, killed at Close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if e.sess != nil && e.sess.alive() {
		cmd.SysProcAttr.Pgid = e.sess.cmd.Process.Pid
	}
	// An interrupt kills the command and everything it started.
	cmd.Cancel = func() error { killTree(cmd.Process.Pid); return nil }
	// A background child (cmd &) keeps the output pipes open: the cell ends
	// when the shell does, plus a moment for the last output, not when
	// every child has closed them.
	cmd.WaitDelay = shellWaitDelay
	cmd.Stdout = streamWriter{out, "stdout"}
	cmd.Stderr = streamWriter{out, "stderr"}
	err := cmd.Start()
	if err == nil {
		if cmd.SysProcAttr.Pgid == 0 {
			e.shellGroups = append(e.shellGroups, cmd.Process.Pid)
		}
		err = cmd.Wait()
		if errors.Is(err, exec.ErrWaitDelay) {
			err = nil // the shell succeeded; its background children go on
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return Result{Err: interruptedError("the shell command was interrupted")}, true
		}
		return Result{Err: &CellError{Name: "ShellError", Value: fmt.Sprintf("!%s: %v", command, err),
			Traceback: []string{red + bold + "ShellError" + reset + fmt.Sprintf(": !%s: %v", command, err)}}}, true
	}
	return Result{}, false
}

// shellWaitDelay is how long a !command's output is still passed on after
// its shell has exited while a background child holds the output open.
const shellWaitDelay = 500 * time.Millisecond

type streamWriter struct {
	out  Output
	name string
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.out.Stream(w.name, string(p))
	return len(p), nil
}
