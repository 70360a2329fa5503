package kernel

import (
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
)

// publisher is the IOPub PUB socket. It is written here on top of zmq4's
// ZMTP connection rather than with zmq4.NewPub because the latter queues
// without bound (memory grows with a slow front end) or, given a high-water
// mark, drops silently. Here every subscriber has a short queue; when it is
// full Publish waits, which slows the cell's output down to what the front
// end can take. A subscriber that reads nothing for stallTimeout is treated
// as libzmq treats one past its high-water mark: messages for it are dropped
// (with a warning) until it catches up, so one stuck client cannot stop the
// kernel.
type publisher struct {
	ln    net.Listener
	log   *slog.Logger
	stall time.Duration

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
	wg     sync.WaitGroup
}

const (
	subscriberQueue  = 64
	handshakeTimeout = 10 * time.Second
	stallTimeout     = 10 * time.Second
)

type subscriber struct {
	conn    *zmq4.Conn
	raw     net.Conn
	remote  string
	queue   chan [][]byte
	pending atomic.Int64 // queued or being written
	stalled atomic.Bool
	dropped atomic.Int64

	mu     sync.Mutex
	topics map[string]int

	once sync.Once
	done chan struct{}
}

// listenPublisher binds the IOPub socket.
func listenPublisher(network, addr string, log *slog.Logger) (*publisher, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	ln = guardListener(ln, zmq4.Pub, log) // see zmtp.go
	p := &publisher{ln: ln, log: log, stall: stallTimeout, subs: map[*subscriber]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *publisher) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			p.log.Warn("iopub: accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve runs one subscriber's connection: the ZMTP handshake, then its
// subscriptions (read here) and its queue (written by another goroutine).
func (p *publisher) serve(c net.Conn) {
	defer p.wg.Done()
	defer func() {
		// zmq4 panics on a peer that announces an unknown socket type.
		if r := recover(); r != nil {
			p.log.Warn("iopub: rejected a peer", "peer", c.RemoteAddr().String(), "panic", r)
			c.Close()
		}
	}()
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	zc, err := zmq4.Open(c, nullSecurity{}, zmq4.Pub, zmq4.SocketIdentity(newID()), true, nil)
	if err != nil {
		p.log.Warn("iopub: ZMTP handshake failed", "peer", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	s := &subscriber{
		conn: zc, raw: c, remote: c.RemoteAddr().String(),
		queue:  make(chan [][]byte, subscriberQueue),
		topics: map[string]int{},
		done:   make(chan struct{}),
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.subs[s] = struct{}{}
	p.mu.Unlock()
	p.log.Debug("iopub: subscriber connected", "peer", s.remote)

	p.wg.Add(1)
	go p.write(s)
	for {
		msg, err := zc.RecvMsg()
		if err != nil {
			break
		}
		if msg.Type == zmq4.CmdMsg || len(msg.Frames) != 1 || len(msg.Frames[0]) == 0 {
			continue // PING (answered by zmq4) or something a SUB never sends
		}
		f := msg.Frames[0]
		s.mu.Lock()
		switch f[0] {
		case 1:
			s.topics[string(f[1:])]++
		case 0:
			if s.topics[string(f[1:])]--; s.topics[string(f[1:])] <= 0 {
				delete(s.topics, string(f[1:]))
			}
		}
		s.mu.Unlock()
	}
	s.close()
	p.mu.Lock()
	delete(p.subs, s)
	p.mu.Unlock()
	p.log.Debug("iopub: subscriber left", "peer", s.remote)
}

func (p *publisher) write(s *subscriber) {
	defer p.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case frames := <-s.queue:
			err := s.conn.SendMsg(zmq4.NewMsgFrom(frames...))
			s.pending.Add(-1)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					p.log.Debug("iopub: write failed", "peer", s.remote, "err", err)
				}
				s.close()
				return
			}
			if len(s.queue) == 0 && s.stalled.Load() {
				s.stalled.Store(false)
				p.log.Info("iopub: subscriber caught up", "peer", s.remote, "dropped", s.dropped.Swap(0))
			}
		}
	}
}

func (s *subscriber) close() {
	s.once.Do(func() {
		close(s.done)
		s.raw.Close()
	})
}

func (s *subscriber) subscribed(topic []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.topics {
		if strings.HasPrefix(string(topic), t) {
			return true
		}
	}
	return false
}

// publish queues frames (frames[0] is the topic) for every subscriber whose
// subscriptions match, waiting while a live subscriber's queue is full. It
// is called from one goroutine only (the iopub owner).
func (p *publisher) publish(frames [][]byte) {
	p.mu.Lock()
	subs := make([]*subscriber, 0, len(p.subs))
	for s := range p.subs {
		subs = append(subs, s)
	}
	p.mu.Unlock()
	for _, s := range subs {
		if !s.subscribed(frames[0]) {
			continue
		}
		s.pending.Add(1)
		select {
		case s.queue <- frames:
			continue
		case <-s.done:
			s.pending.Add(-1)
			continue
		default:
		}
		if s.stalled.Load() {
			s.pending.Add(-1)
			s.dropped.Add(1)
			continue
		}
		t := time.NewTimer(p.stall)
		select {
		case s.queue <- frames:
		case <-s.done:
			s.pending.Add(-1)
		case <-t.C:
			s.pending.Add(-1)
			s.dropped.Add(1)
			s.stalled.Store(true)
			p.log.Warn("iopub: subscriber has read nothing for a while; dropping its messages until it catches up",
				"peer", s.remote, "waited", p.stall)
		}
		t.Stop()
	}
}

// close waits up to drain for queued messages to be written, then closes the
// listener and every connection.
func (p *publisher) close(drain time.Duration) {
	p.ln.Close()
	deadline := time.Now().Add(drain)
	for time.Now().Before(deadline) {
		busy := false
		p.mu.Lock()
		for s := range p.subs {
			if s.pending.Load() > 0 {
				busy = true
			}
		}
		p.mu.Unlock()
		if !busy {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.mu.Lock()
	p.closed = true
	for s := range p.subs {
		s.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// nullSecurity is ZMTP's NULL mechanism (no authentication, no encryption),
// which Jupyter uses: Jupyter authenticates messages with HMAC instead.
// zmq4 does not export its own.
type nullSecurity struct{}

func (nullSecurity) Type() zmq4.SecurityType { return zmq4.NullSecurity }

func (nullSecurity) Handshake(conn *zmq4.Conn, server bool) error {
	raw, err := conn.Meta.MarshalZMTP()
	if err != nil {
		return fmt.Errorf("marshal ZMTP metadata: %w", err)
	}
	if err := conn.SendCmd(zmq4.CmdReady, raw); err != nil {
		return fmt.Errorf("send READY: %w", err)
	}
	cmd, err := conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("receive READY: %w", err)
	}
	if cmd.Name != zmq4.CmdReady {
		return fmt.Errorf("peer sent %q, want READY", cmd.Name)
	}
	return conn.Peer.Meta.UnmarshalZMTP(cmd.Body)
}

func (nullSecurity) Encrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }
func (nullSecurity) Decrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }
