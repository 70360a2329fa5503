package ipc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipclab/ipclab/internal/sessionhook"
)

// Go cannot fork, so the far end of a cross-process transport runs in a
// re-execution of the running executable (/proc/self/exe) with the variable
// IPCLAB_IPC_WORKER set to a JSON description of its role. This package's
// init function checks that variable: when it is set, the process becomes
// the worker and exits without running main. Any program that links
// package ipc can therefore serve as its own worker: a go test binary, the
// ipclab command, the kernel's session process.
//
// Descriptors reach the child through exec.Cmd.ExtraFiles: descriptor 3 is
// a control socket (JSON lines), 4 and up are the transport's (pipe ends,
// the memfd of an anonymous mapping). The child dies with its parent
// (PR_SET_PDEATHSIG = SIGKILL, and it exits when the control socket closes);
// the parent reaps the child at once and turns its exit into ErrPeerDied for
// every wait in progress.

const workerEnv = "IPCLAB_IPC_WORKER"

// WorkerFunc is the body of a worker process started by Spawn: it talks to
// the parent through c. arg is what the parent passed to Spawn. Its error,
// if any, is returned by the parent's Peer.Wait.
type WorkerFunc func(ctx context.Context, c Conn, arg []byte) error

var workers = struct {
	sync.Mutex
	m       map[string]WorkerFunc
	pending *childSpec // set in a worker process whose role is registered later
}{m: map[string]WorkerFunc{}}

// RegisterWorker makes fn available to Spawn under name. Call it from an
// init function: in a worker process, the worker starts as soon as its
// name is registered, before main. (Built-in workers: "echo" sends every
// message back; "sink" receives until the parent closes.)
func RegisterWorker(name string, fn WorkerFunc) {
	workers.Lock()
	workers.m[name] = fn
	p := workers.pending
	workers.Unlock()
	if p != nil && p.Role == name && !sessionhook.Deferred() {
		os.Exit(runChild(p))
	}
}

func init() {
	workers.m["echo"] = func(ctx context.Context, c Conn, arg []byte) error {
		buf := make([]byte, 16<<20+64)
		for {
			n, err := c.Recv(ctx, buf)
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if err := c.Send(ctx, buf[:n]); err != nil {
				return err
			}
		}
	}
	workers.m["sink"] = func(ctx context.Context, c Conn, arg []byte) error {
		buf := make([]byte, 16<<20+64)
		for {
			if _, err := c.Recv(ctx, buf); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	}
}

// childSpec is the JSON in IPCLAB_IPC_WORKER.
type childSpec struct {
	Role   string `json:"role"` // "harness" or a registered worker
	Spec   spec   `json:"spec"`
	NFiles int    `json:"nfiles"`
	NExtra int    `json:"nextra,omitempty"`
	Arg    []byte `json:"arg,omitempty"`
	CPU    int    `json:"cpu"` // pin the worker's thread to this CPU; -1: no
}

// workerDispatch runs in every process at init: in a worker it never returns.
func workerDispatch() {
	v, ok := os.LookupEnv(workerEnv)
	if !ok {
		return
	}
	os.Unsetenv(workerEnv)
	var cs childSpec
	if err := json.Unmarshal([]byte(v), &cs); err != nil {
		fmt.Fprintf(os.Stderr, "ipc worker: bad %s: %v\n", workerEnv, err)
		os.Exit(2)
	}
	workers.Lock()
	_, known := workers.m[cs.Role]
	if !known && cs.Role != harnessRole {
		// A later init will RegisterWorker it; in ipclab's session program,
		// the cells' plugins will, and the program then runs it.
		workers.pending = &cs
		workers.Unlock()
		sessionhook.SetPendingWorker(func() int { return runChild(&cs) })
		return
	}
	workers.Unlock()
	os.Exit(runChild(&cs))
}

// report is what a worker tells its parent on the control socket.
type report struct {
	Op      string `json:"op"` // hello, ready, done, error
	Got     int64  `json:"got,omitempty"`
	Lost    int64  `json:"lost,omitempty"`
	Corrupt int64  `json:"corrupt,omitempty"`
	Error   string `json:"error,omitempty"`
	Addr    string `json:"addr,omitempty"`
	PID     int    `json:"pid,omitempty"`
	Cost    *usage `json:"cost,omitempty"` // "done": what the peer spent (cost.go)
}

// control is one end of a control connection: JSON values, one per line.
type control struct {
	rw  io.ReadWriteCloser
	enc *json.Encoder
	dec *json.Decoder
	mu  sync.Mutex
}

func newControl(rw io.ReadWriteCloser) *control {
	return &control{rw: rw, enc: json.NewEncoder(rw), dec: json.NewDecoder(bufio.NewReader(rw))}
}

func (c *control) send(v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enc.Encode(v)
}

func (c *control) recv(v any) error { return c.dec.Decode(v) }

func runChild(cs *childSpec) int {
	ctlFile := os.NewFile(3, "control")
	ctlConn, err := net.FileConn(ctlFile)
	ctlFile.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipc worker: control socket: %v\n", err)
		return 2
	}
	ctl := newControl(ctlConn)
	if cs.CPU >= 0 {
		runtime.LockOSThread()
		pin(cs.CPU)
	}
	var files []*os.File
	for i := 0; i < cs.NFiles; i++ {
		files = append(files, os.NewFile(uintptr(4+i), fmt.Sprintf("fd%d", 4+i)))
	}
	for i := 0; i < cs.NExtra; i++ {
		fd := 4 + cs.NFiles + i
		inherited = append(inherited, os.NewFile(uintptr(fd), fmt.Sprintf("fd%d", fd)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t, err := lookup(cs.Spec.Transport)
	var c Conn
	if err == nil {
		c, err = t.attach(ctx, cs.Spec, files)
	}
	if err != nil {
		ctl.send(report{Op: "error", Error: err.Error()})
		return 1
	}
	defer c.Close()
	ctl.send(report{Op: "hello", PID: os.Getpid()})
	if cs.Role == harnessRole {
		err = serveHarness(ctx, ctl, c)
	} else {
		workers.Lock()
		fn := workers.m[cs.Role]
		workers.Unlock()
		// The parent closing the control socket (or dying) ends the worker.
		go func() {
			var v json.RawMessage
			ctl.recv(&v)
			os.Exit(3)
		}()
		err = callWorker(ctx, cs.Role, fn, c, cs.Arg)
	}
	if err != nil {
		ctl.send(report{Op: "error", Error: err.Error()})
		return 1
	}
	ctl.send(report{Op: "done"})
	return 0
}

// callWorker runs a registered worker, turning a panic into an error that
// names it and shows where it happened.
func callWorker(ctx context.Context, name string, fn WorkerFunc, c Conn, arg []byte) (err error) {
	if fn == nil {
		return fmt.Errorf("worker %q: %w in the worker process (a cell registers a worker for worker processes only "+
			"at its top level or in its init, with a function declared in a cell, not from inside a function or goroutine)", name, ErrUnknownWorker)
	}
	defer func() {
		if r := recover(); r != nil {
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			err = fmt.Errorf("worker %q panicked: %v\n\n%s", name, r, buf)
		}
	}()
	return fn(ctx, c, arg)
}

// pin binds the calling thread to cpu (the goroutine must be locked to it).
func pin(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu % runtime.NumCPU())
	return unix.SchedSetaffinity(0, &set)
}

// unpin lets the calling thread run on every CPU again.
func unpin() {
	var set unix.CPUSet
	for i := 0; i < runtime.NumCPU(); i++ {
		set.Set(i)
	}
	unix.SchedSetaffinity(0, &set)
}

// The spawner goroutine is locked to its thread for the life of the
// process: PR_SET_PDEATHSIG fires when the thread that started the child
// exits, not only the process, and a locked thread never exits under us.
var spawner = struct {
	once sync.Once
	reqs chan func()
}{reqs: make(chan func())}

func onSpawnerThread(f func()) {
	spawner.once.Do(func() {
		go func() {
			runtime.LockOSThread()
			for f := range spawner.reqs {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawner.reqs <- func() { f(); close(done) }
	<-done
}

// Peer is a worker process connected to this one by a transport.
type Peer struct {
	// Conn is this process's end of the transport.
	Conn Conn

	cmd     *exec.Cmd
	ctl     *control
	reports chan report
	exited  chan struct{}
	waitErr error
	cancel  context.CancelFunc
	once    sync.Once
	closeMu sync.Mutex
}

// Spawn starts the registered worker in a new process (a re-execution of
// this executable) and connects it to this one with the named transport.
// files, if any, are inherited by the worker, which finds them with
// Inherited (to hand it an anonymous shared mapping, pass the memfd of an
// Anonymous segment). Spawn returns once both ends are connected.
func Spawn(ctx context.Context, transportName string, o Options, worker string, arg []byte, files ...*os.File) (*Peer, error) {
	workers.Lock()
	_, ok := workers.m[worker]
	workers.Unlock()
	if !ok {
		return nil, fmt.Errorf("spawn %q: %w", worker, ErrUnknownWorker)
	}
	inCell := sessionhook.Context() != nil
	ctx, release := interruptible(ctx)
	defer release()
	p, err := spawn(ctx, transportName, o, childSpec{Role: worker, Arg: arg, CPU: -1}, files...)
	if err != nil {
		return nil, fmt.Errorf("spawn %q: %w", worker, err)
	}
	if inCell {
		// When the cell that spawned the worker is interrupted, the worker
		// is stopped and its connection's resources removed once the cell
		// has ended (not before: the cell may still be inside Recv).
		sessionhook.AfterInterrupt(p.abort)
	}
	return p, nil
}

// inherited holds the files a worker process received beyond its transport's.
var inherited []*os.File

// Inherited returns, in a worker process, the files its parent passed to
// Spawn, in order (nil elsewhere).
func Inherited() []*os.File { return inherited }

func spawn(ctx context.Context, transportName string, o Options, cs childSpec, extra ...*os.File) (*Peer, error) {
	t, err := lookup(transportName)
	if err != nil {
		return nil, err
	}
	if t.reach == inProcess {
		return nil, fmt.Errorf("spawn a worker over %s: %w", transportName, ErrNotLocal)
	}
	o = o.withDefaults()
	ep, err := t.listen(o)
	if err != nil {
		return nil, fmt.Errorf("set up %s: %w", transportName, err)
	}
	ep.spec.Transport, ep.spec.Options = transportName, o
	cs.Spec, cs.NFiles, cs.NExtra = ep.spec, len(ep.files), len(extra)
	fail := func(err error) (*Peer, error) {
		ep.abort()
		for _, f := range ep.files {
			f.Close()
		}
		return nil, err
	}
	js, err := json.Marshal(cs)
	if err != nil {
		return fail(err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("control socket: %w", err))
	}
	childCtl := os.NewFile(uintptr(pair[1]), "control")
	parentCtlFile := os.NewFile(uintptr(pair[0]), "control")
	ctlConn, err := net.FileConn(parentCtlFile)
	parentCtlFile.Close()
	if err != nil {
		childCtl.Close()
		return fail(fmt.Errorf("control socket: %w", err))
	}
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{exe, "ipc-worker:" + cs.Role}
	cmd.Env = append(os.Environ(), workerEnv+"="+string(js))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.ExtraFiles = append(append([]*os.File{childCtl}, ep.files...), extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	onSpawnerThread(func() { err = cmd.Start() })
	childCtl.Close()
	for _, f := range ep.files {
		f.Close()
	}
	ep.files = nil
	if err != nil {
		ctlConn.Close()
		return fail(fmt.Errorf("start worker process: %w", err))
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &Peer{cmd: cmd, ctl: newControl(ctlConn), reports: make(chan report, 4), exited: make(chan struct{}), cancel: cancel}
	go func() {
		err := cmd.Wait()
		p.closeMu.Lock()
		p.waitErr = err
		p.closeMu.Unlock()
		close(p.exited)
		cancel()
	}()
	go func() {
		defer close(p.reports)
		for {
			var r report
			if err := p.ctl.recv(&r); err != nil {
				return
			}
			p.reports <- r
		}
	}()
	c, err := ep.accept(pctx)
	if err == nil {
		var r report
		r, err = p.next(pctx, 30*time.Second)
		if err == nil && r.Op != "hello" {
			err = fmt.Errorf("worker said %q: %s", r.Op, r.Error)
		}
		if err != nil {
			c.Close()
		}
	} else {
		ep.abort()
	}
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("connect to worker process %d over %s: %w", cmd.Process.Pid, transportName, p.explain(err))
	}
	p.Conn = c
	go func() {
		<-p.exited
		if pd, ok := c.(interface{ PeerDied() }); ok {
			pd.PeerDied()
		}
	}()
	return p, nil
}

// PID is the worker's process id.
func (p *Peer) PID() int { return p.cmd.Process.Pid }

// Exited is closed when the worker process has exited.
func (p *Peer) Exited() <-chan struct{} { return p.exited }

// next waits for the worker's next report.
func (p *Peer) next(ctx context.Context, timeout time.Duration) (report, error) {
	return nextReport(ctx, fmt.Sprintf("worker process %d", p.PID()), p.reports, p.exited, p.died, timeout)
}

func (p *Peer) died() error {
	select { // the control socket may close just before the exit is reaped
	case <-p.exited:
	case <-time.After(time.Second):
	}
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	return fmt.Errorf("worker process %d: %w (%v)", p.PID(), ErrPeerDied, p.waitErr)
}

// explain turns an error seen while the worker was dying into ErrPeerDied.
func (p *Peer) explain(err error) error {
	select {
	case <-p.exited:
		if !errors.Is(err, ErrPeerDied) {
			return fmt.Errorf("%w; %w", p.died(), err)
		}
	default:
	}
	return err
}

// Wait waits for the worker function to return and returns its error.
func (p *Peer) Wait(ctx context.Context) error {
	ctx, release := interruptible(ctx)
	defer release()
	for {
		r, err := p.next(ctx, 24*time.Hour)
		if err != nil {
			return err
		}
		if r.Op == "done" {
			<-p.exited
			return nil
		}
	}
}

// abort kills the worker at once and closes this end.
func (p *Peer) abort() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	p.Close()
}

func (p *Peer) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	<-p.exited
	p.ctl.rw.Close()
}

// Close closes this end of the transport (removing its resources), tells
// the worker to stop (closing the control socket), and kills it if it has
// not exited within a second.
func (p *Peer) Close() error {
	var err error
	p.once.Do(func() {
		if p.Conn != nil {
			err = p.Conn.Close()
		}
		p.ctl.rw.Close()
		select {
		case <-p.exited:
		case <-time.After(time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
		p.cancel()
	})
	return err
}

// lockAndPin locks the calling goroutine to its thread and pins the thread.
func lockAndPin(cpu int) {
	runtime.LockOSThread()
	pin(cpu)
}
