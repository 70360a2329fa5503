package ipc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/go-zeromq/zmq4"
)

func init() {
	register(&transport{
		name: "zmq-ipc", reach: sameHost,
		about:  "ZeroMQ PAIR sockets over ipc:// (go-zeromq/zmq4, pure Go)",
		listen: func(o Options) (*endpoint, error) { return listenZMQ("zmq-ipc", o) },
		attach: attachZMQ,
	})
	register(&transport{
		name: "zmq-tcp", reach: network,
		about:  "ZeroMQ PAIR sockets over tcp:// (go-zeromq/zmq4, pure Go)",
		listen: func(o Options) (*endpoint, error) { return listenZMQ("zmq-tcp", o) },
		attach: attachZMQ,
	})
}

// zmqConn wraps a zmq4 PAIR socket. zmq4 calls take no context: the socket
// lives in a context of its own, which a Send/Recv context that ends (or a
// peer that dies) cancels, closing the socket.
type zmqConn struct {
	name     string
	sock     zmq4.Socket
	sctx     context.Context // the socket's; cancelled when the Conn is broken
	cancel   context.CancelFunc
	peerDead atomic.Bool
	once     sync.Once
	cleanup  func() error
}

func newZMQ(name string) (*zmqConn, context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &zmqConn{name: name, sctx: ctx, cancel: cancel}
	c.sock = zmq4.NewPair(ctx, zmq4.WithDialerMaxRetries(200), zmq4.WithAutomaticReconnect(false))
	return c, ctx
}

func listenZMQ(name string, o Options) (*endpoint, error) {
	c, _ := newZMQ(name)
	var ep string
	var remove func() error
	if name == "zmq-ipc" {
		if err := ensureDir(o.Dir); err != nil {
			return nil, fmt.Errorf("make socket directory: %w", err)
		}
		path := filepath.Join(o.Dir, newName("zmq"))
		if err := track(resPath, path); err != nil {
			return nil, err
		}
		remove = func() error { return release(resPath, path) }
		ep = "ipc://" + path
	} else {
		ep = "tcp://" + o.Addr
	}
	if err := c.sock.Listen(ep); err != nil {
		c.Close()
		if remove != nil {
			remove()
		}
		return nil, fmt.Errorf("%s: listen on %s: %w", name, ep, err)
	}
	if name == "zmq-tcp" {
		ep = "tcp://" + c.sock.Addr().String()
	}
	c.cleanup = remove
	e := &endpoint{spec: spec{Addr: ep}}
	e.abort = c.Close
	e.accept = func(ctx context.Context) (Conn, error) { return c, nil }
	return e, nil
}

func attachZMQ(ctx context.Context, s spec, files []*os.File) (Conn, error) {
	c, _ := newZMQ(s.Transport)
	if err := c.sock.Dial(s.Addr); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: dial %s: %w", s.Transport, s.Addr, err)
	}
	return c, nil
}

// watch cancels the socket if ctx ends during the call about to be made;
// the returned function disarms it.
func (c *zmqConn) watch(ctx context.Context) func() bool {
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, c.cancel)
}

func (c *zmqConn) fail(op string, ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if c.peerDead.Load() {
		return fmt.Errorf("%s: %s: %w", c.name, op, ErrPeerDied)
	}
	// The connection to the one peer ended under zmq4: the peer is gone.
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%s: %s: %w: %w", c.name, op, ErrPeerDied, err)
	}
	return fmt.Errorf("%s: %s: %w", c.name, op, err)
}

func (c *zmqConn) Send(ctx context.Context, msg []byte) error {
	defer c.watch(ctx)()
	// zmq4 drops messages silently when no peer is connected; a cancelled
	// socket has no peer: report it instead.
	if err := c.sctx.Err(); err != nil {
		return c.fail("send", ctx, err)
	}
	// zmq4 may keep the frame after Send returns: give it its own copy.
	if err := c.sock.Send(zmq4.NewMsg(append([]byte(nil), msg...))); err != nil {
		return c.fail("send", ctx, err)
	}
	return nil
}

func (c *zmqConn) Recv(ctx context.Context, buf []byte) (int, error) {
	defer c.watch(ctx)()
	if err := c.sctx.Err(); err != nil {
		return 0, c.fail("receive", ctx, err)
	}
	m, err := c.sock.Recv()
	if err != nil {
		return 0, c.fail("receive", ctx, err)
	}
	if len(m.Frames) == 0 {
		return 0, nil
	}
	f := m.Frames[0]
	if len(f) > len(buf) {
		return 0, fmt.Errorf("%s: receive %d-byte message: %w: buffer has %d bytes", c.name, len(f), ErrMessageTooLarge, len(buf))
	}
	return copy(buf, f), nil
}

func (c *zmqConn) PeerDied() {
	c.peerDead.Store(true)
	c.cancel()
}

func (c *zmqConn) Close() error {
	var err error
	c.once.Do(func() {
		err = c.sock.Close()
		c.cancel()
		if err != nil && strings.Contains(err.Error(), "use of closed") {
			err = nil
		}
		if c.cleanup != nil {
			if cerr := c.cleanup(); err == nil {
				err = cerr
			}
		}
	})
	return err
}
