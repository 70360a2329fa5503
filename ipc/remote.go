package ipc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// A remote worker serves experiments for drivers on other hosts: the
// driver opens a control connection (TCP) to the worker's address and names
// a transport; the worker listens for the data connection on the address of
// that control connection, tells the driver where, accepts it, and then
// consumes or echoes as the driver commands — the same harness protocol as
// a local child process. Only transports that span hosts (tcp, zmq-tcp)
// are served.

type remoteHello struct {
	Transport string  `json:"transport"`
	Options   Options `json:"options"`
}

type remoteReply struct {
	Error string `json:"error,omitempty"`
	Spec  *spec  `json:"spec,omitempty"`
}

// Serve listens on addr ("tcp://HOST:PORT" or "HOST:PORT") and serves
// remote experiments until ctx ends. ready, if not nil, is called with the
// address actually bound (useful with port 0).
func Serve(ctx context.Context, addr string, ready func(addr string)) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", trimScheme(addr))
	if err != nil {
		return fmt.Errorf("worker: listen on %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	if ready != nil {
		ready("tcp://" + l.Addr().String())
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("worker: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveRemote(ctx, c)
		}()
	}
}

func serveRemote(ctx context.Context, c net.Conn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	ctl := newControl(c)
	var hello remoteHello
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := ctl.recv(&hello); err != nil {
		return err
	}
	c.SetReadDeadline(time.Time{})
	reply := func(err error) error {
		ctl.send(remoteReply{Error: err.Error()})
		return err
	}
	t, err := lookup(hello.Transport)
	if err != nil {
		return reply(err)
	}
	if t.reach != network {
		return reply(fmt.Errorf("transport %s: %w: a remote worker serves only tcp and zmq-tcp", t.name, ErrBadParameter))
	}
	o := hello.Options
	o.Addr = net.JoinHostPort(c.LocalAddr().(*net.TCPAddr).IP.String(), "0")
	if o.MaxMessage > MaxSize {
		return reply(fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, o.MaxMessage))
	}
	o = o.withDefaults()
	ep, err := t.listen(o)
	if err != nil {
		return reply(err)
	}
	ep.spec.Transport, ep.spec.Options = t.name, o
	if err := ctl.send(remoteReply{Spec: &ep.spec}); err != nil {
		ep.abort()
		return err
	}
	actx, acancel := context.WithTimeout(ctx, 30*time.Second)
	conn, err := ep.accept(actx)
	acancel()
	if err != nil {
		ep.abort()
		return err
	}
	defer conn.Close()
	stopConn := context.AfterFunc(ctx, func() {
		if pd, ok := conn.(interface{ PeerDied() }); ok {
			pd.PeerDied()
		}
	})
	defer stopConn()
	err = serveHarness(ctx, ctl, conn)
	if err != nil {
		ctl.send(report{Op: "error", Error: err.Error()})
	}
	return err
}

// dialRemote connects to a remote worker and makes it the peer.
func dialRemote(ctx context.Context, addr, name string, o Options) (*peer, error) {
	t, err := lookup(name)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := d.DialContext(dctx, "tcp", trimScheme(addr))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("connect to remote worker %s: %w", addr, err)
	}
	ctl := newControl(c)
	o = o.withDefaults()
	o.Addr = ""
	if err := ctl.send(remoteHello{Transport: name, Options: o}); err != nil {
		c.Close()
		return nil, fmt.Errorf("remote worker %s: %w", addr, err)
	}
	var r remoteReply
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	err = ctl.recv(&r)
	c.SetReadDeadline(time.Time{})
	if err == nil && r.Error != "" {
		err = errors.New(r.Error)
	}
	if err == nil && r.Spec == nil {
		err = errors.New("no transport description")
	}
	if err != nil {
		c.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			// The worker went away while it was being asked.
			return nil, fmt.Errorf("remote worker %s: %w: %w", addr, ErrPeerDied, err)
		}
		return nil, fmt.Errorf("remote worker %s: %w", addr, err)
	}
	actx, acancel := context.WithTimeout(ctx, 30*time.Second)
	conn, err := t.attach(actx, *r.Spec, nil)
	acancel()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("remote worker %s: %w", addr, err)
	}
	dead := make(chan struct{})
	reports := make(chan report, 4)
	go func() {
		defer close(dead)
		defer close(reports)
		for {
			var r report
			if err := ctl.recv(&r); err != nil {
				return
			}
			reports <- r
		}
	}()
	p := &peer{conn: conn, ctl: ctl, dead: dead, remote: true}
	p.died = func() error {
		return fmt.Errorf("remote worker %s: %w: the control connection closed", addr, ErrPeerDied)
	}
	p.next = func(ctx context.Context, timeout time.Duration) (report, error) {
		return nextReport(ctx, "remote worker "+addr, reports, dead, p.died, timeout)
	}
	go func() {
		<-dead
		if pd, ok := conn.(interface{ PeerDied() }); ok {
			pd.PeerDied()
		}
	}()
	var once sync.Once
	p.close = func() error {
		var err error
		once.Do(func() {
			err = conn.Close()
			c.Close()
			<-dead
		})
		return err
	}
	return p, nil
}
