package kernel

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/ipclab/ipclab/kernel/engine"
)

// Engine runs cells and answers questions about code. The kernel calls
// Execute, Complete, Inspect and IsComplete from one goroutine, one call at a
// time, in the order the front end asked; Close once, at shutdown.
type Engine interface {
	// Execute runs one cell, sending its output to out. ctx is cancelled
	// when the user interrupts the cell (or the kernel shuts down);
	// Execute must then return within about a second.
	Execute(ctx context.Context, req engine.Request, out engine.Output) engine.Result
	// Complete returns completions at cursor (in Unicode code points).
	Complete(code string, cursor int) engine.Completion
	// Inspect returns documentation for what is at cursor; detail is 0 or 1.
	Inspect(code string, cursor, detail int) engine.Inspection
	// IsComplete tells a console whether code is ready to run.
	IsComplete(code string) engine.Completeness
	// Close stops every process the engine started and removes its files.
	Close() error
}

// Options configure Serve. The zero value is usable.
type Options struct {
	// Logger receives the kernel's log; nil means slog.Default().
	Logger *slog.Logger
	// LanguageVersion is the Go version cells are built with, as shown in
	// kernel_info (default: the version of this binary's runtime, "1.26.8").
	LanguageVersion string
	// ImplementationVersion is ipclab's version (default "dev").
	ImplementationVersion string
	// Banner is the text a console shows at start.
	Banner string
	// HelpLinks are listed in the front end's Help menu (default: Go
	// documentation and the ipclab README).
	HelpLinks []HelpLink
	// NoSignals keeps Serve from handling SIGINT. By default SIGINT
	// interrupts the running cell instead of stopping the process, as a
	// Jupyter kernel must (a terminal's Ctrl-C reaches the kernel too).
	NoSignals bool
}

// HelpLink is one entry of kernel_info's help_links.
type HelpLink struct {
	Text string `json:"text"`
	URL  string `json:"url"`
}

var defaultHelpLinks = []HelpLink{
	{"Go documentation", "https://go.dev/doc/"},
	{"Go standard library", "https://pkg.go.dev/std"},
	{"ipclab README", "https://github.com/ipclab/ipclab#readme"},
}

// Serve runs a kernel: it binds the sockets info names (only on info.IP),
// answers requests until a shutdown_request arrives or ctx is cancelled,
// and then closes eng (also when it fails to start). Binding errors name the
// socket and port. SIGINT interrupts the running cell (see
// Options.NoSignals). When JPY_PARENT_PID names the Jupyter process that
// started the kernel (jupyter_client sets it), the kernel also shuts down
// once that process is gone. Serve returns nil after an orderly shutdown.
func Serve(ctx context.Context, info ConnectionInfo, eng Engine, opts Options) error {
	if eng == nil {
		return errors.New("kernel: Serve needs an engine")
	}
	if info.Transport == "" {
		info.Transport = "tcp"
	}
	if info.SignatureScheme == "" {
		info.SignatureScheme = "hmac-sha256"
	}
	if err := info.check(); err != nil {
		return errors.Join(fmt.Errorf("connection info: %w", err), closeEngine(eng))
	}
	k := newKernel(info, eng, opts)
	if err := k.bind(); err != nil {
		return errors.Join(err, closeEngine(eng))
	}
	return k.run(ctx)
}

func closeEngine(eng Engine) error {
	if err := eng.Close(); err != nil {
		return fmt.Errorf("close engine: %w", err)
	}
	return nil
}

// kernel is one running session.
type kernel struct {
	info    ConnectionInfo
	eng     Engine
	opts    Options
	log     *slog.Logger
	sign    signer
	session string
	user    string

	shell, control, stdin, hb zmq4.Socket
	pub                       *publisher
	iopub                     *iopub

	ctx    context.Context // cancelled when the kernel stops
	cancel context.CancelFunc

	shellQ, controlQ chan *message
	shellSeq         atomic.Uint64 // last sequence number the shell reader gave out
	inputReplies     chan string
	inputSlot        chan struct{} // one input_request at a time

	// shell worker only
	count       int    // execution counter
	abortBefore uint64 // execute_requests up to this sequence number are aborted

	hist history

	mu      sync.Mutex
	running *execution // the cell being executed, nil between cells
	last    *execution // the most recent execute_request that was not silent

	shutdownOnce sync.Once
	shutdown     chan struct{}
	replays      replayGuard // guards.go
	wg           sync.WaitGroup
}

func newKernel(info ConnectionInfo, eng Engine, opts Options) *kernel {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = slog.New(truncatingHandler{logger.Handler()}) // guards.go
	if opts.LanguageVersion == "" {
		opts.LanguageVersion = strings.TrimPrefix(runtime.Version(), "go")
	}
	if opts.ImplementationVersion == "" {
		opts.ImplementationVersion = "dev"
	}
	if opts.Banner == "" {
		opts.Banner = fmt.Sprintf("ipclab %s: Go %s in Jupyter", opts.ImplementationVersion, opts.LanguageVersion)
	}
	if opts.HelpLinks == nil {
		opts.HelpLinks = defaultHelpLinks
	}
	sign, _ := newSigner(info.SignatureScheme, info.Key) // checked by Serve
	user := os.Getenv("USER")
	if user == "" {
		user = "kernel"
	}
	k := &kernel{
		info: info, eng: eng, opts: opts, log: logger, sign: sign,
		session:      newID(),
		user:         user,
		shellQ:       make(chan *message, 1024),
		controlQ:     make(chan *message, 64),
		inputReplies: make(chan string, 1),
		inputSlot:    make(chan struct{}, 1),
		shutdown:     make(chan struct{}),
	}
	k.hist.session = 1
	k.ctx, k.cancel = context.WithCancel(context.Background())
	return k
}

func (k *kernel) newHeader(msgType string) header {
	return header{
		MsgID: newID(), Session: k.session, Username: k.user,
		Date: timestamp(time.Now()), MsgType: msgType, Version: protocolVersion,
	}
}

// bind creates and binds the five sockets; on failure it closes those it
// made and says which socket and port failed.
func (k *kernel) bind() error {
	guardLog.Store(k.log)
	bindRouter := func(name string, port int) (zmq4.Socket, error) {
		// The sockets outlive k.ctx (cancelled first at shutdown, to stop the
		// cell) so that the last replies still go out; run closes them.
		// Through the guarded transport (zmtp.go): zmq4 never sees an
		// unchecked handshake or an oversized frame.
		ep, err := guardedEndpoint(k.info.endpoint(port))
		if err != nil {
			return nil, err
		}
		s := zmq4.NewRouter(context.Background(), zmq4.WithTimeout(10*time.Second), zmq4.WithLogger(log.New(zmqLog{k.log}, "", 0)))
		if err := s.Listen(ep); err != nil {
			s.Close()
			return nil, bindError(name, k.info.endpoint(port), port, err)
		}
		return s, nil
	}
	var err error
	fail := func(e error) error {
		for _, s := range []zmq4.Socket{k.shell, k.control, k.stdin, k.hb} {
			if s != nil {
				s.Close()
			}
		}
		if k.pub != nil {
			k.pub.close(0)
		}
		k.cancel()
		return e
	}
	if k.shell, err = bindRouter("shell", k.info.ShellPort); err != nil {
		return fail(err)
	}
	if k.control, err = bindRouter("control", k.info.ControlPort); err != nil {
		return fail(err)
	}
	if k.stdin, err = bindRouter("stdin", k.info.StdinPort); err != nil {
		return fail(err)
	}
	// The heartbeat is a ROUTER that echoes every message back to its
	// sender, as ipykernel's is; a REP socket would serve one peer at a time.
	if k.hb, err = bindRouter("heartbeat", k.info.HBPort); err != nil {
		return fail(err)
	}
	network, addr := k.info.listenAddr(k.info.IOPubPort)
	if k.pub, err = listenPublisher(network, addr, k.log); err != nil {
		return fail(bindError("iopub", k.info.endpoint(k.info.IOPubPort), k.info.IOPubPort, err))
	}
	k.iopub = newIOPub(k.pub, k.sign, k.newHeader, k.session, k.log)
	return nil
}

func bindError(name, endpoint string, port int, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("bind %s socket to %s: port %d is already in use: %w", name, endpoint, port, err)
	}
	return fmt.Errorf("bind %s socket to %s (port %d): %w", name, endpoint, port, err)
}

// run serves until shutdown or ctx ends, then tears everything down.
func (k *kernel) run(ctx context.Context) error {
	k.log.Info("ipclab kernel started",
		"shell", k.info.endpoint(k.info.ShellPort), "iopub", k.info.endpoint(k.info.IOPubPort),
		"control", k.info.endpoint(k.info.ControlPort), "stdin", k.info.endpoint(k.info.StdinPort),
		"hb", k.info.endpoint(k.info.HBPort), "signed", k.sign.enabled(), "protocol", protocolVersion)
	if !k.sign.enabled() {
		k.log.Warn("the connection file has an empty key: messages are neither signed nor checked")
	}

	iopubDone := make(chan struct{})
	go func() { defer close(iopubDone); k.iopub.run() }()
	k.iopub.status(nil, "starting")

	k.spawn(func() { k.receive(k.shell, "shell", k.shellQ, &k.shellSeq) })
	var controlSeq atomic.Uint64
	k.spawn(func() { k.receive(k.control, "control", k.controlQ, &controlSeq) })
	k.spawn(k.receiveStdin)
	k.spawn(k.heartbeat)
	k.spawn(k.serveControl)
	shellDone := make(chan struct{})
	go func() { defer close(shellDone); k.serveShell() }()

	if ppid := parentToWatch(); ppid > 0 {
		k.spawn(func() { k.watchParent(ppid) })
	}
	if !k.opts.NoSignals {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt)
		defer signal.Stop(sigs)
		k.spawn(func() {
			for {
				select {
				case <-sigs:
					k.interrupt("SIGINT")
				case <-k.ctx.Done():
					return
				}
			}
		})
	}

	select {
	case <-ctx.Done():
		k.log.Info("stopping: context ended", "cause", context.Cause(ctx))
	case <-k.shutdown:
		k.log.Info("stopping: shutdown requested")
	}

	// Stop the cell (its context derives from k.ctx), then wait for the
	// shell worker to send the cell's reply.
	k.cancel()
	select {
	case <-shellDone:
	case <-time.After(5 * time.Second):
		k.log.Warn("the engine did not return from the interrupted cell within 5s; closing anyway")
	}
	closeErr := closeEngine(k.eng)
	if closeErr != nil {
		k.log.Warn("closing the engine failed", "err", closeErr)
	}
	k.iopub.stop()
	<-iopubDone
	k.pub.close(time.Second)
	for _, s := range []zmq4.Socket{k.shell, k.control, k.stdin, k.hb} {
		s.Close()
	}
	k.wg.Wait()
	k.log.Info("ipclab kernel stopped")
	return closeErr
}

func (k *kernel) spawn(f func()) {
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		f()
	}()
}

// requestShutdown ends run.
func (k *kernel) requestShutdown() {
	k.shutdownOnce.Do(func() { close(k.shutdown) })
}

// receive reads one ROUTER socket, decodes and checks each message and
// queues it. Messages that fail are logged and dropped.
func (k *kernel) receive(sock zmq4.Socket, name string, out chan<- *message, seq *atomic.Uint64) {
	for {
		zm, err := sock.Recv()
		if err != nil {
			if k.ctx.Err() == nil {
				k.log.Error("receive failed; no longer reading this socket", "socket", name, "err", err)
			}
			return
		}
		if zm.Type == zmq4.CmdMsg {
			continue
		}
		m, err := decode(zm.Frames, k.sign)
		if err != nil {
			if errors.Is(err, errBadSignature) {
				k.log.Warn("dropped a message with a bad signature", "socket", name, "frames", len(zm.Frames))
			} else {
				k.log.Warn("dropped a malformed message", "socket", name, "frames", len(zm.Frames), "err", err)
			}
			continue
		}
		// Keyed on the signature, as jupyter_client's digest_history is: the
		// msg_id alone is not unique (jupyter_client's KernelManager and its
		// client count msg_ids separately under one session id).
		if m.signature != "" && !k.replays.fresh(m.signature) {
			k.log.Warn("dropped a replayed message (a signature already seen)", "socket", name, "msg_type", m.header.MsgType, "msg_id", m.header.MsgID)
			continue
		}
		m.seq = seq.Add(1)
		k.log.Debug("received", "socket", name, "msg_type", m.header.MsgType, "msg_id", m.header.MsgID)
		select {
		case out <- m:
		case <-k.ctx.Done():
			return
		}
	}
}

// receiveStdin reads input_reply messages and hands them to a waiting Input.
func (k *kernel) receiveStdin() {
	for {
		zm, err := k.stdin.Recv()
		if err != nil {
			return
		}
		if zm.Type == zmq4.CmdMsg {
			continue
		}
		m, err := decode(zm.Frames, k.sign)
		if err != nil {
			if errors.Is(err, errBadSignature) {
				k.log.Warn("dropped a message with a bad signature", "socket", "stdin", "frames", len(zm.Frames))
			} else {
				k.log.Warn("dropped a malformed message", "socket", "stdin", "err", err)
			}
			continue
		}
		if m.header.MsgType != "input_reply" {
			k.log.Info("ignored a message on the stdin channel", "msg_type", m.header.MsgType)
			continue
		}
		var c struct {
			Value string `json:"value"`
		}
		if err := unmarshalContent(m, &c); err != nil {
			k.log.Warn("dropped an input_reply", "err", err)
			continue
		}
		select {
		case k.inputReplies <- c.Value:
		default:
			k.log.Info("dropped an input_reply nobody asked for")
		}
	}
}

// heartbeat echoes every message back to its sender.
func (k *kernel) heartbeat() {
	for {
		zm, err := k.hb.Recv()
		if err != nil {
			return
		}
		if zm.Type == zmq4.CmdMsg || len(zm.Frames) == 0 {
			continue
		}
		if err := k.hb.Send(zm); err != nil && k.ctx.Err() == nil {
			k.log.Debug("heartbeat echo failed", "err", err)
		}
	}
}

// serveShell handles shell requests one at a time, in arrival order.
func (k *kernel) serveShell() {
	for {
		select {
		case <-k.ctx.Done():
			return
		case m := <-k.shellQ:
			k.handle(channel{"shell", k.shell}, m)
		}
	}
}

// serveControl handles control requests as they come, also while a cell runs.
func (k *kernel) serveControl() {
	for {
		select {
		case <-k.ctx.Done():
			return
		case m := <-k.controlQ:
			k.handle(channel{"control", k.control}, m)
		}
	}
}

// interrupt cancels the running cell, if any.
func (k *kernel) interrupt(why string) {
	k.mu.Lock()
	ex := k.running
	k.mu.Unlock()
	if ex == nil {
		k.log.Info("interrupt: no cell is running", "by", why)
		return
	}
	k.log.Info("interrupting the running cell", "by", why, "msg_id", ex.req.header.MsgID)
	ex.interrupted.CompareAndSwap(0, time.Now().UnixNano())
	ex.cancel()
}

// parentToWatch is the pid of the Jupyter process that started the kernel,
// from JPY_PARENT_PID (which jupyter_client sets), or 0.
func parentToWatch() int {
	pid, err := strconv.Atoi(os.Getenv("JPY_PARENT_PID"))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// watchParent shuts the kernel down when the Jupyter process that started
// it is gone, so that a Jupyter that crashed or was killed does not leave
// kernels and their cell processes behind. Gone means: it was the kernel's
// parent and the kernel has been re-parented, or the process no longer
// exists (when a wrapper stands between them).
func (k *kernel) watchParent(pid int) {
	ppid := os.Getppid()
	gone := func() bool {
		return (ppid == pid && os.Getppid() != pid) || processGone(pid)
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if gone() {
			k.log.Warn("the process that started the kernel has exited; shutting down", "parent_pid", pid)
			k.requestShutdown()
			return
		}
		select {
		case <-k.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// zmqLog turns zmq4's log.Logger output (connection noise) into slog
// debug records.
type zmqLog struct{ log *slog.Logger }

func (z zmqLog) Write(p []byte) (int, error) {
	z.log.Debug("zmq4: " + strings.TrimSpace(string(p)))
	return len(p), nil
}
