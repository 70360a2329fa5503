package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipclab/ipclab/display/cellhost"
	"github.com/ipclab/ipclab/internal/cellio"
)

// session is the long-lived process that loads each cell's plugin, so that
// what cells create stays alive between them.
type session struct {
	cmd    *exec.Cmd
	cmds   *os.File // command channel (the process's fd 3)
	stdin  *os.File // the process's standard input
	exited chan struct{}
	// preludeLoaded is set once the prelude plugin was sent to the process.
	preludeLoaded bool
	sendMu        sync.Mutex // one command line at a time
	waitErr       error
	maxRSS        int64 // bytes, once the process has ended

	mu      sync.Mutex
	sink    Output       // where output goes now
	cell    *runningCell // the cell running now, if any
	stderr  tail         // the last stderr text, for crash reports
	readers sync.WaitGroup
}

// runningCell collects what one cell's run reports besides its stream output.
type runningCell struct {
	id      int
	result  *cellio.Message
	done    map[string]string
	doneOut chan struct{} // closed when stdout's done record arrives
	doneErr chan struct{} // closed when stderr's done record arrives
	// refusedInput is set when the cell read standard input that the front
	// end could not provide.
	refusedInput bool
}

// tail keeps the end of a stream for error reports.
type tail struct{ b []byte }

func (t *tail) write(p []byte) {
	t.b = append(t.b, p...)
	if len(t.b) > 64<<10 {
		t.b = t.b[len(t.b)-32<<10:]
	}
}

func startSession(host, dir string, env []string, sink Output, lim Limits) (*session, error) {
	stdinR, stdinW, err := blockingPipe()
	if err != nil {
		return nil, err
	}
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	cmd := exec.Command(host)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, outW, errW
	cmd.ExtraFiles = []*os.File{cmdR} // fd 3 = cellhost.CommandFD
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start session process %s: %w", host, err)
	}
	if err := lim.apply(cmd.Process.Pid); err != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		return nil, err
	}
	for _, f := range []*os.File{stdinR, cmdR, outW, errW} {
		f.Close()
	}
	s := &session{cmd: cmd, cmds: cmdW, stdin: stdinW, exited: make(chan struct{}), sink: sink}
	s.readers.Add(2)
	go s.read(outR, "stdout")
	go s.read(errR, "stderr")
	go func() {
		s.waitErr = cmd.Wait()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.maxRSS = ru.Maxrss << 10
		}
		// Workers the cells started share the process group: end them too,
		// then give the readers a moment to pass on the last output.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		readers := make(chan struct{})
		go func() { s.readers.Wait(); close(readers) }()
		select {
		case <-readers:
		case <-time.After(time.Second):
		}
		close(s.exited)
	}()
	return s, nil
}

// blockingPipe makes a pipe whose read end stays in blocking mode, so that a
// cell reading standard input sits in a read system call the kernel can see.
func blockingPipe() (r, w *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("make stdin pipe: %w", err)
	}
	return os.NewFile(uintptr(p[0]), "session-stdin"), os.NewFile(uintptr(p[1]), "session-stdin-w"), nil
}

func (s *session) setSink(o Output) {
	s.mu.Lock()
	s.sink = o
	s.mu.Unlock()
}

// read passes one of the session's output streams on, picking rich-output
// records out of it.
func (s *session) read(r io.ReadCloser, name string) {
	defer s.readers.Done()
	defer r.Close()
	var sp cellio.Splitter
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			for _, it := range sp.Feed(buf[:n]) {
				s.deliver(name, it)
			}
		}
		if err != nil {
			if rest := sp.Flush(); len(rest) > 0 {
				s.deliver(name, cellio.Item{Text: rest})
			}
			return
		}
	}
}

func (s *session) deliver(stream string, it cellio.Item) {
	s.mu.Lock()
	sink, cell := s.sink, s.cell
	if stream == "stderr" && len(it.Text) > 0 {
		s.stderr.write(it.Text)
	}
	s.mu.Unlock()
	switch {
	case it.Err != nil:
		if sink != nil {
			sink.Stream("stderr", "ipclab: "+it.Err.Error()+"\n")
		}
	case it.Message == nil:
		if sink != nil && len(it.Text) > 0 {
			sink.Stream(stream, string(it.Text))
		}
	default:
		m := it.Message
		switch m.Kind {
		case cellio.KindDone:
			if cell != nil && m.Extra["id"] == fmt.Sprint(cell.id) {
				if stream == "stdout" {
					cell.done = m.Extra
					close(cell.doneOut)
				} else {
					close(cell.doneErr)
				}
			}
		case cellio.KindResult:
			if cell != nil {
				cell.result = m
			}
		case cellio.KindDisplay, cellio.KindUpdate:
			if sink != nil {
				sink.Display(m.Data, m.Metadata, m.DisplayID, m.Kind == cellio.KindUpdate)
			}
		case cellio.KindClear:
			if sink != nil {
				sink.ClearOutput(m.Wait)
			}
		}
	}
}

// errSessionDied is returned by run when the session process ends mid-cell.
var errSessionDied = errors.New("the session process ended")

// run sends one command (run a plugin or evaluate a program)
// and answers the cell's reads of standard input until the cell ends, ctx is
// cancelled (interrupt) or the process dies.
func (s *session) run(ctx context.Context, cmd cellhost.Command, out Output, allowStdin bool) (*runningCell, error) {
	cell := &runningCell{id: cmd.ID, doneOut: make(chan struct{}), doneErr: make(chan struct{})}
	s.mu.Lock()
	s.cell, s.sink = cell, out
	s.stderr.b = nil
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cell = nil
		s.mu.Unlock()
	}()
	if err := s.send(cmd); err != nil {
		return nil, err
	}
	both := make(chan struct{})
	go func() {
		<-cell.doneOut
		<-cell.doneErr
		close(both)
	}()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	interrupted := false
	var grace <-chan time.Time
	for {
		select {
		case <-both:
			if interrupted && cell.done["ename"] == "" {
				cell.done = map[string]string{"ename": "KeyboardInterrupt", "evalue": "interrupted"}
			}
			return cell, nil
		case <-s.exited:
			// A program that ends right after its cell (the rebuild fallback)
			// has delivered its done records before its output closed.
			if closed(cell.doneOut) && closed(cell.doneErr) {
				return cell, nil
			}
			return cell, errSessionDied
		case <-ctx.Done():
			if !interrupted {
				interrupted = true
				s.send(cellhost.Command{Op: "interrupt"})
				grace = time.After(600 * time.Millisecond)
			}
		case <-grace:
			// The cell is blocked where an interrupt cannot reach it (a channel,
			// a lock, a system call): only ending the process stops it.
			s.kill()
			<-s.exited
			return cell, context.Canceled
		case <-poll.C:
			if s.readingStdin() && !s.answerInput(ctx, out, allowStdin) {
				cell.refusedInput = true
			}
		}
	}
}

func (s *session) send(c cellhost.Command) error {
	b, _ := json.Marshal(c)
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if _, err := s.cmds.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("send %s to the session process: %w", c.Op, err)
	}
	return nil
}

// readingStdin reports whether a thread of the session process is blocked
// reading its standard input, from /proc/PID/task/*/syscall.
func (s *session) readingStdin() bool {
	pid := s.cmd.Process.Pid
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	want := fmt.Sprintf("%d 0x0 ", unix.SYS_READ)
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err == nil && strings.HasPrefix(string(b), want) {
			return true
		}
	}
	return false
}

// answerInput gives a cell waiting on standard input a line from the front
// end; where there is none it gives an empty line so that the cell does not
// hang, and reports false.
func (s *session) answerInput(ctx context.Context, out Output, allowStdin bool) bool {
	if allowStdin {
		line, err := out.Input(ctx, "", false)
		if err == nil {
			s.stdin.Write([]byte(line + "\n"))
			return true
		}
		if !errors.Is(err, ErrNoStdin) {
			return true // interrupted: the cell is being stopped
		}
	}
	s.stdin.Write([]byte("\n"))
	return false
}

// kill ends the session process and everything it started.
func (s *session) kill() {
	if s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (s *session) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// close ends the session process: politely first, then by force.
func (s *session) close() {
	s.cmds.Close()
	select {
	case <-s.exited:
	case <-time.After(2 * time.Second):
		s.kill()
		<-s.exited
	}
	s.stdin.Close()
}

func (s *session) stderrTail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.stderr.b)
}

func setenvCommand(name, value string) cellhost.Command {
	return cellhost.Command{Op: "setenv", Name: name, Value: value}
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
