package kernel

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
)

// The kernel's ports are open to anyone who can reach them, and ZeroMQ's
// handshake comes before any message signature can be checked. go-zeromq/zmq4
// (v0.17.0, the newest) trusts the wire: a peer that announces an unknown
// Socket-Type makes it panic, a frame header announcing 2^62 bytes makes
// make() panic and one announcing 2^40 bytes exhausts memory (a fatal error,
// not a panic), a malformed READY property indexes out of range, and its
// accept loop runs the handshake inline, so one silent connection blocks
// every later one. See docs/zmq4-bugs.md.
//
// guardListener is the seam that keeps those bytes away from zmq4. It
// wraps the net.Listener a zmq4 socket accepts from (through a transport
// registered as "ipclab-tcp" and "ipclab-ipc", see guardedEndpoint) and the
// IOPub publisher's. Each accepted connection is handed on only after this
// side has done the handshake's first half itself, in its own goroutine and
// under a deadline: it sends the server greeting, then reads and checks the
// peer's greeting (ZMTP 3.x, NULL mechanism) and its READY command (well
// formed, a Socket-Type this socket can talk to, an identity of at most 255
// bytes). zmq4 then runs its handshake on a connection that replays those
// checked bytes and swallows zmq4's duplicate greeting. After the handshake
// every frame is read whole, as its bytes arrive, before zmq4 sees its
// header: memory follows what a peer sends, not what it announces, and a
// frame above maxFrame or a message above maxMessage ends the connection.

const (
	zmtpHandshakeTimeout = 10 * time.Second
	maxPendingHandshakes = 64
	maxReady             = 4096      // a READY command: Socket-Type, Identity (≤255), a few properties
	maxFrame             = 128 << 20 // one frame of a message
	maxMessage           = 512 << 20 // all frames of one message
)

// errZMTP marks a peer rejected for what it sent.
var errZMTP = errors.New("malformed ZMTP")

// zmtpGreeting is the 64-byte greeting zmq4 sends (ZMTP 3.0, NULL, not
// as-server); the guard sends it for zmq4 and drops zmq4's own.
var zmtpGreeting = func() []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:32], "NULL")
	return g
}()

// guardLog is where guards log rejected peers (set by the kernel at bind).
var guardLog atomic.Pointer[slog.Logger]

func guardLogger() *slog.Logger {
	if l := guardLog.Load(); l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// guardedTransport is the zmq4 transport for the kernel's ROUTER sockets.
type guardedTransport struct {
	network string // "tcp" or "unix"
	base    transport.Transport
}

func (t guardedTransport) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn, error) {
	return t.base.Dial(ctx, d, addr)
}

func (t guardedTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	ln, err := net.Listen(t.network, addr)
	if err != nil {
		return nil, err
	}
	return guardListener(ln, zmq4.Router, guardLogger()), nil
}

func (t guardedTransport) Addr(ep string) (string, error) { return t.base.Addr(ep) }

var registerGuard = sync.OnceValue(func() error {
	return errors.Join(
		zmq4.RegisterTransport("ipclab-tcp", guardedTransport{"tcp", transport.New("tcp")}),
		zmq4.RegisterTransport("ipclab-ipc", guardedTransport{"unix", transport.New("unix")}),
	)
})

// guardedEndpoint turns tcp://… and ipc://… into the guarded transports.
func guardedEndpoint(ep string) (string, error) {
	if err := registerGuard(); err != nil {
		return "", fmt.Errorf("register the guarded ZeroMQ transport: %w", err)
	}
	return "ipclab-" + ep, nil
}

// compatible lists the peer socket types each guarded socket accepts (the
// pairs of ZMTP's socket-type table).
var compatible = map[zmq4.SocketType][]zmq4.SocketType{
	zmq4.Router: {zmq4.Dealer, zmq4.Req, zmq4.Router},
	zmq4.Pub:    {zmq4.Sub, zmq4.XSub},
}

type guardedListener struct {
	net.Listener
	typ     zmq4.SocketType
	log     *slog.Logger
	ready   chan net.Conn
	pending chan struct{}
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool // in handshake, ended by Close
}

// guardListener returns a listener whose Accept yields only connections
// that have passed the first half of the handshake for a socket of type typ.
func guardListener(ln net.Listener, typ zmq4.SocketType, log *slog.Logger) net.Listener {
	g := &guardedListener{Listener: ln, typ: typ, log: log,
		ready: make(chan net.Conn), pending: make(chan struct{}, maxPendingHandshakes), done: make(chan struct{})}
	g.wg.Add(1)
	go g.loop()
	return g
}

func (g *guardedListener) loop() {
	defer g.wg.Done()
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			select {
			case <-g.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			g.log.Warn("zmtp: accept failed", "err", err)
			select {
			case <-time.After(50 * time.Millisecond):
			case <-g.done:
				return
			}
			continue
		}
		select {
		case g.pending <- struct{}{}:
		default:
			g.log.Warn("zmtp: too many connections in handshake, refused one", "peer", c.RemoteAddr().String(), "limit", maxPendingHandshakes)
			c.Close()
			continue
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			gc, err := g.handshake(c)
			<-g.pending
			if err != nil {
				g.log.Warn("zmtp: rejected a peer before its handshake", "peer", c.RemoteAddr().String(), "err", err)
				c.Close()
				return
			}
			select {
			case g.ready <- gc:
			case <-g.done:
				c.Close()
			}
		}()
	}
}

func (g *guardedListener) Accept() (net.Conn, error) {
	select {
	case c := <-g.ready:
		return c, nil
	case <-g.done:
		return nil, net.ErrClosed
	}
}

func (g *guardedListener) Close() error {
	var err error
	g.once.Do(func() {
		g.mu.Lock()
		close(g.done)
		err = g.Listener.Close()
		for c := range g.conns {
			c.SetDeadline(time.Now())
		}
		g.mu.Unlock()
	})
	return err
}

// handshake sends the greeting, checks the peer's greeting and READY, and
// returns the connection zmq4 is to run its handshake on.
func (g *guardedListener) handshake(c net.Conn) (net.Conn, error) {
	g.mu.Lock()
	select {
	case <-g.done:
		g.mu.Unlock()
		return nil, net.ErrClosed
	default:
	}
	if g.conns == nil {
		g.conns = map[net.Conn]bool{}
	}
	g.conns[c] = true
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
	}()
	if err := c.SetDeadline(time.Now().Add(zmtpHandshakeTimeout)); err != nil {
		return nil, err
	}
	if _, err := c.Write(zmtpGreeting); err != nil {
		return nil, fmt.Errorf("send greeting: %w", err)
	}
	replay := make([]byte, 64, 64+9+maxReady)
	if _, err := io.ReadFull(c, replay); err != nil {
		return nil, fmt.Errorf("read greeting: %w", err)
	}
	if err := checkGreeting(replay); err != nil {
		return nil, err
	}
	frame, body, err := readFrame(c, maxReady)
	if err != nil {
		return nil, fmt.Errorf("read READY: %w", err)
	}
	if frame[0] != 0x04 && frame[0] != 0x06 {
		return nil, fmt.Errorf("%w: first frame after the greeting has flags %#x, want a single READY command", errZMTP, frame[0])
	}
	if err := checkReady(body, compatible[g.typ]); err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return &guardedConn{Conn: c, in: *bytes.NewBuffer(append(replay, frame...)), drop: len(zmtpGreeting)}, nil
}

// checkGreeting accepts what zmq4 accepts without misbehaving: the ZMTP
// signature, version 3.0 or later, the NULL mechanism, an as-server of 0 or 1.
func checkGreeting(g []byte) error {
	switch {
	case g[0] != 0xff || g[9] != 0x7f:
		return fmt.Errorf("%w: not a ZMTP 3 signature", errZMTP)
	case g[10] < 3:
		return fmt.Errorf("%w: ZMTP version %d.%d, want 3.0 or later", errZMTP, g[10], g[11])
	case string(bytes.TrimRight(g[12:32], "\x00")) != "NULL":
		return fmt.Errorf("%w: security mechanism %q, want NULL", errZMTP, bytes.TrimRight(g[12:32], "\x00"))
	case g[32] > 1:
		return fmt.Errorf("%w: as-server flag %d", errZMTP, g[32])
	}
	return nil
}

// checkReady checks a READY command's body: its name, then properties
// (name-length, name, 4-byte value-length, value) that exactly fill it, a
// Socket-Type among peers, an Identity of at most 255 bytes.
func checkReady(b []byte, peers []zmq4.SocketType) error {
	if len(b) < 6 || b[0] != 5 || string(b[1:6]) != zmq4.CmdReady {
		return fmt.Errorf("%w: the first command is not READY", errZMTP)
	}
	props := map[string]string{}
	for p := b[6:]; len(p) > 0; {
		n := int(p[0])
		if n == 0 || len(p) < 1+n+4 {
			return fmt.Errorf("%w: READY property cut short", errZMTP)
		}
		name := strings.ToLower(string(p[1 : 1+n]))
		vlen := binary.BigEndian.Uint32(p[1+n:])
		p = p[1+n+4:]
		if uint64(vlen) > uint64(len(p)) {
			return fmt.Errorf("%w: READY property %q longer than the command", errZMTP, name)
		}
		props[name] = string(p[:vlen])
		p = p[vlen:]
	}
	if len(props["identity"]) > 255 {
		return fmt.Errorf("%w: identity of %d bytes (at most 255)", errZMTP, len(props["identity"]))
	}
	st, ok := props["socket-type"]
	if !ok {
		return fmt.Errorf("%w: READY without Socket-Type", errZMTP)
	}
	for _, t := range peers {
		if st == string(t) {
			return nil
		}
	}
	if len(st) > 32 {
		st = st[:32] + "…"
	}
	return fmt.Errorf("%w: peer socket type %q cannot talk to this socket (want one of %v)", errZMTP, st, peers)
}

// readFrame reads one whole frame: its header (flags, 1- or 8-byte size)
// and body. The body is read as it arrives, never allocated on the peer's
// word; a size above limit is an error before any of it is read.
func readFrame(r io.Reader, limit int64) (frame, body []byte, err error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return nil, nil, err
	}
	flags := hdr[0]
	if flags&^0x07 != 0 {
		return nil, nil, fmt.Errorf("%w: reserved frame flag bits set (%#x)", errZMTP, flags)
	}
	n := 2
	size := uint64(hdr[1])
	if flags&0x02 != 0 {
		if _, err := io.ReadFull(r, hdr[2:9]); err != nil {
			return nil, nil, err
		}
		n = 9
		size = binary.BigEndian.Uint64(hdr[1:9])
	}
	if size > uint64(limit) {
		return nil, nil, fmt.Errorf("%w: a frame of %d bytes (at most %d)", errZMTP, size, limit)
	}
	var buf bytes.Buffer
	buf.Write(hdr[:n])
	if _, err := io.CopyN(&buf, r, int64(size)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, err
	}
	frame = buf.Bytes()
	return frame, frame[n:], nil
}

// guardedConn is what zmq4 reads and writes after the guard's checks: it
// first replays the peer's greeting and READY, then hands out whole frames
// of bounded size; it drops zmq4's greeting, which the guard already sent.
type guardedConn struct {
	net.Conn
	mu   sync.Mutex // zmq4 reads from one goroutine; the lock keeps it honest
	in   bytes.Buffer
	msg  int64 // bytes of the message being received so far
	wmu  sync.Mutex
	drop int
	rerr error
}

func (c *guardedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in.Len() == 0 {
		if c.rerr != nil {
			return 0, c.rerr
		}
		frame, body, err := readFrame(c.Conn, maxFrame)
		if err == nil {
			c.msg += int64(len(body))
			if c.msg > maxMessage {
				err = fmt.Errorf("%w: a message of more than %d bytes", errZMTP, maxMessage)
			}
			if frame[0]&0x01 == 0 { // last frame of the message
				c.msg = 0
			}
		}
		if err != nil {
			if errors.Is(err, errZMTP) {
				guardLogger().Warn("zmtp: dropped a peer", "peer", c.RemoteAddr().String(), "err", err)
				c.Conn.Close()
			}
			c.rerr = err
			return 0, err
		}
		c.in.Write(frame)
	}
	return c.in.Read(p)
}

func (c *guardedConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	skipped := 0
	if c.drop > 0 {
		skipped = min(c.drop, len(p))
		c.drop -= skipped
		p = p[skipped:]
		if len(p) == 0 {
			return skipped, nil
		}
	}
	n, err := c.Conn.Write(p)
	return skipped + n, err
}
