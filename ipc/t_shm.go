package ipc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

func init() {
	register(&transport{
		name: "shm-ring", reach: sameHost,
		about:  "two SPSC rings in one shared segment (Options.Segment: posix, sysv, file, memfd; Options.Wait)",
		check:  checkRing,
		listen: listenRing, attach: attachRing,
	})
}

func checkRing(o Options, size int) error {
	if max := int(uint64(o.RingCapacity)/2) - recordHead; size > max {
		return fmt.Errorf("shm-ring: %d-byte messages: %w: a ring of %d bytes holds messages of at most %d bytes (RingCapacity/2 - %d)", size, ErrMessageTooLarge, o.RingCapacity, max, recordHead)
	}
	if !o.Wait.valid() {
		return fmt.Errorf("shm-ring: %w: unknown wait strategy %q (spin, yield, futex, adaptive)", ErrBadParameter, o.Wait)
	}
	return nil
}

// ringConn is a Conn over two rings: out (this end produces) and in.
type ringConn struct {
	seg     *Segment
	out, in *Ring
	once    sync.Once
}

func listenRing(o Options) (*endpoint, error) {
	if err := checkRing(o, o.MaxMessage); err != nil {
		return nil, err
	}
	half := RingBytes(o.RingCapacity)
	seg, err := CreateSegment(o.Segment, 2*half)
	if err != nil {
		return nil, err
	}
	mem := seg.Bytes()
	a, err1 := NewRing(mem[:half], o.Wait)
	b, err2 := NewRing(mem[half:], o.Wait)
	if err := errors.Join(err1, err2); err != nil {
		seg.Close()
		return nil, err
	}
	ep := &endpoint{spec: spec{Kind: o.Segment, Names: []string{seg.Name()}, Size: 2 * half}}
	if f := seg.File(); f != nil && o.Segment == Anonymous {
		ep.files = []*os.File{f}
	}
	ep.abort = seg.Close
	ep.accept = func(ctx context.Context) (Conn, error) { return &ringConn{seg: seg, out: a, in: b}, nil }
	return ep, nil
}

func attachRing(ctx context.Context, s spec, files []*os.File) (Conn, error) {
	name := s.Names[0]
	if s.Kind == Anonymous {
		if len(files) != 1 {
			return nil, fmt.Errorf("attach shm-ring: want the memfd descriptor")
		}
		fd, err := takeFD(files[0])
		if err != nil {
			return nil, fmt.Errorf("attach shm-ring: %w", err)
		}
		name = fmt.Sprintf("fd:%d", fd)
	}
	seg, err := AttachSegment(s.Kind, name, s.Size)
	if err != nil {
		return nil, err
	}
	half := s.Size / 2
	mem := seg.Bytes()
	in, err1 := AttachRing(mem[:half], s.Options.Wait)
	out, err2 := AttachRing(mem[half:], s.Options.Wait)
	if err := errors.Join(err1, err2); err != nil {
		seg.Close()
		return nil, err
	}
	return &ringConn{seg: seg, out: out, in: in}, nil
}

func (c *ringConn) Send(ctx context.Context, msg []byte) error { return c.out.Send(ctx, msg) }

func (c *ringConn) Recv(ctx context.Context, buf []byte) (int, error) {
	n, err := c.in.Recv(ctx, buf)
	if err == io.EOF {
		return 0, io.EOF
	}
	return n, err
}

// Rings returns the two rings for zero-copy use: out is produced by this
// end, in is consumed by it.
func (c *ringConn) Rings() (out, in *Ring) { return c.out, c.in }

func (c *ringConn) syscalls() int64 { return c.out.calls.Load() + c.in.calls.Load() }

func (c *ringConn) PeerDied() { c.out.PeerDied(); c.in.PeerDied() }

func (c *ringConn) Close() error {
	var err error
	c.once.Do(func() {
		c.out.CloseSend()
		c.in.CloseRecv()
		err = c.seg.Close()
	})
	return err
}

// RingsOf returns the rings behind a shm-ring Conn (out: this end writes,
// in: this end reads), for zero-copy Claim/Commit and Next/Release. ok is
// false for other transports.
func RingsOf(c Conn) (out, in *Ring, ok bool) {
	rc, ok := c.(*ringConn)
	if !ok {
		return nil, nil, false
	}
	return rc.out, rc.in, true
}
