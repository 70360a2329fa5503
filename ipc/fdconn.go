package ipc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdConn is a Conn over file descriptors (pipes, FIFOs, sockets, POSIX
// queues) driven with raw system calls, as a C program would: one write per
// message, reads straight into a buffer. Descriptors are non-blocking; when
// a call would block, the end sleeps in poll(2) and wakes every 50 ms to
// check its context and the peer. Sockets instead block with a 50 ms
// timeout (timedSocket). During the harness's trials every end receives
// with blocking raw calls that a kernel timer's signal ends (blocking.go):
// one system call per message, as in C. Byte streams frame each message with a
// 4-byte little-endian length.
type fdConn struct {
	name      string
	rfd, wfd  int
	stream    bool          // needs framing
	fifo      bool          // a read of 0 bytes before any writer is not EOF
	sockets   bool          // use send with MSG_NOSIGNAL
	timed     bool          // blocking socket with SO_RCVTIMEO/SO_SNDTIMEO: no poll needed
	blk       *blockingMode // blocking descriptors on the owner's thread (blockOnThread)
	wflags    int           // the write descriptor's file status flags, in blocking mode
	sendWaits int           // timed sockets: sends left that block at once (write)
	rbuf      []byte
	rpos      int
	rend      int
	sbuf      []byte
	peerDead  atomic.Bool
	closed    atomic.Bool
	calls     atomic.Int64 // system calls made sending and receiving
	once      sync.Once
	cleanup   func() error                          // removes names (owner only)
	closeFDs  func()                                // closes rfd and wfd, shared with the endpoint's abort (closeOnce)
	sendFn    func(p []byte, raw bool) (int, error) // raw: see rawCalls
	recvFn    func(p []byte, raw bool) (int, error)
}

const streamBuf = 64 << 10

func newFDConn(name string, rfd, wfd int, stream bool) *fdConn {
	c := &fdConn{name: name, rfd: rfd, wfd: wfd, stream: stream}
	unix.SetNonblock(rfd, true)
	if wfd != rfd {
		unix.SetNonblock(wfd, true)
	}
	if stream {
		c.rbuf = make([]byte, streamBuf)
		c.sbuf = make([]byte, streamBuf)
	}
	return c
}

func (c *fdConn) write(p []byte) (int, error) {
	c.calls.Add(1)
	raw := c.rawCalls()
	if c.sendFn != nil {
		return c.sendFn(p, raw)
	}
	if c.sockets {
		if c.sendWaits == 0 {
			// First without waiting (MSG_DONTWAIT), as a raw call: a send
			// rarely waits. After one that had to wait, the next sends
			// block at once.
			n, err := sendDontWait(c.wfd, p)
			if err != unix.EAGAIN {
				return n, err
			}
			c.sendWaits = 64
			c.calls.Add(1)
		} else {
			c.sendWaits--
		}
		return sendNoSignal(c.wfd, p, raw)
	}
	return rawIO(unix.SYS_WRITE, c.wfd, p) // a pipe's write end is never blocking
}

func (c *fdConn) read(p []byte) (int, error) {
	c.calls.Add(1)
	raw := c.rawCalls()
	if c.recvFn != nil {
		return c.recvFn(p, raw)
	}
	if raw {
		return rawIO(unix.SYS_READ, c.rfd, p)
	}
	return unix.Read(c.rfd, p)
}

// rawCalls says whether this end's calls may skip the scheduler's
// entersyscall/exitsyscall: when they cannot sleep (non-blocking
// descriptors), or when the thread is in blocking mode, whose kicks bound
// them (blocking.go). A socket outside blocking mode sleeps up to its
// timeout.
func (c *fdConn) rawCalls() bool { return c.blk != nil || !c.timed }

// blockOnThread puts the calling (locked) goroutine's thread in blocking
// mode: its calls are raw and may sleep, kicked every kickPeriod. A pipe's,
// FIFO's or queue's read descriptor becomes blocking; sockets are already
// (timedSocket). Writes to pipes and queues stay non-blocking: a write
// rarely waits, and then poll serves.
func (c *fdConn) blockOnThread() (release func()) {
	if c.blk != nil {
		return func() {}
	}
	b := startBlocking()
	if b == nil {
		return func() {}
	}
	if !c.timed {
		fl, err := unix.FcntlInt(uintptr(c.wfd), unix.F_GETFL, 0)
		if err != nil {
			b.end()
			return func() {}
		}
		c.wflags = fl
		unix.SetNonblock(c.rfd, false)
	}
	c.blk = b
	return func() {
		c.blk = nil
		b.end()
		if !c.timed && !c.closed.Load() {
			unix.SetNonblock(c.rfd, true)
		}
	}
}

// rawIO is read(2) or write(2) without the Go scheduler's entersyscall and
// exitsyscall: only for non-blocking descriptors, where the call cannot sleep.
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, errno := unix.RawSyscall(trap, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// timedSocket makes a socket blocking with 50 ms send and receive
// timeouts: a call then sleeps in the kernel as a C program's would (one
// system call per message), yet returns EAGAIN every 50 ms so that the
// context and the peer can be checked.
func (c *fdConn) timedSocket() *fdConn {
	unix.SetNonblock(c.rfd, false)
	tv := unix.Timeval{Usec: 50000}
	unix.SetsockoptTimeval(c.rfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptTimeval(c.rfd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	c.timed = true
	c.sockets = true
	return c
}

// wait sleeps until fd is ready for events, ctx is done or the peer is gone.
func (c *fdConn) wait(ctx context.Context, fd int, events int16) error {
	done := ctx.Done()
	// The call itself waited (a socket's timeout; a kick, events 0): just check.
	if c.timed || (c.blk != nil && events == 0) {
		var intr interruptWatch
		if err := intr.err(); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if c.closed.Load() {
			return fmt.Errorf("%s: %w", c.name, ErrClosed)
		}
		if c.peerDead.Load() {
			return fmt.Errorf("%s: %w", c.name, ErrPeerDied)
		}
		select {
		case <-done:
			return ctx.Err()
		default:
			return nil
		}
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: events}}
	var intr interruptWatch
	for {
		if err := intr.err(); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if c.closed.Load() {
			return fmt.Errorf("%s: %w", c.name, ErrClosed)
		}
		if c.peerDead.Load() {
			return fmt.Errorf("%s: %w", c.name, ErrPeerDied)
		}
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		c.calls.Add(1)
		n, err := unix.Poll(pfd, 50)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("%s: poll: %w", c.name, err)
		}
		if n > 0 {
			return nil
		}
	}
}

// kicked says why a call returned EINTR: in blocking mode a kick ended it,
// and the loop checks whether it must stop; otherwise a signal did, and the
// call is made again.
func (c *fdConn) kicked(ctx context.Context) error {
	if c.blk == nil {
		return nil
	}
	return c.wait(ctx, c.rfd, 0)
}

// writeAll writes p whole, waiting while the descriptor is full.
func (c *fdConn) writeAll(ctx context.Context, p []byte) error {
	for len(p) > 0 {
		n, err := c.write(p)
		if n > 0 {
			p = p[n:]
			continue
		}
		if err := c.unsent(ctx, err, len(p)); err != nil {
			return err
		}
	}
	return nil
}

// unsent handles a write that wrote nothing: it waits for room (EAGAIN),
// checks why the call was interrupted (EINTR) — nil: write again — or
// returns the error, named.
func (c *fdConn) unsent(ctx context.Context, err error, n int) error {
	switch err {
	case unix.EAGAIN:
		return c.wait(ctx, c.wfd, unix.POLLOUT)
	case unix.EINTR:
		return c.kicked(ctx)
	}
	return c.sendErr(err, n)
}

func (c *fdConn) sendErr(err error, n int) error {
	switch err {
	case unix.EPIPE, unix.ECONNRESET, unix.ECONNREFUSED, unix.ENOTCONN:
		return fmt.Errorf("%s: send: %w (%v)", c.name, ErrPeerDied, err)
	case unix.EMSGSIZE:
		return fmt.Errorf("%s: send %d bytes: %w (EMSGSIZE: larger than the OS allows for one message)", c.name, n, ErrMessageTooLarge)
	}
	return fmt.Errorf("%s: send: %w", c.name, err)
}

// Send implements Conn.
func (c *fdConn) Send(ctx context.Context, msg []byte) error {
	if !c.stream {
		// One datagram per message: a short write does not happen.
		for {
			n, err := c.write(msg)
			if err == nil {
				if n != len(msg) {
					return fmt.Errorf("%s: short datagram write %d of %d", c.name, n, len(msg))
				}
				return nil
			}
			if err == unix.EAGAIN || err == unix.ENOBUFS {
				if err := c.wait(ctx, c.wfd, unix.POLLOUT); err != nil {
					return err
				}
				continue
			}
			if err == unix.EINTR {
				if err := c.kicked(ctx); err != nil {
					return err
				}
				continue
			}
			return c.sendErr(err, len(msg))
		}
	}
	if len(msg) > 1<<31-1 {
		return fmt.Errorf("%s: %w", c.name, ErrMessageTooLarge)
	}
	if len(msg)+4 <= len(c.sbuf) {
		binary.LittleEndian.PutUint32(c.sbuf, uint32(len(msg)))
		copy(c.sbuf[4:], msg)
		return c.writeAll(ctx, c.sbuf[:4+len(msg)])
	}
	// Header and message in one gathered write, as C would with writev.
	var h [4]byte
	binary.LittleEndian.PutUint32(h[:], uint32(len(msg)))
	bufs := [][]byte{h[:], msg}
	if c.blk != nil && !c.sockets {
		// During a trial a message bigger than the pipe goes in one blocking
		// writev, as C writes it, not in a non-blocking write per 64 KiB the
		// reader frees: three calls (two fcntl) instead of twenty or more.
		c.calls.Add(2)
		unix.FcntlInt(uintptr(c.wfd), unix.F_SETFL, c.wflags&^unix.O_NONBLOCK)
		defer unix.FcntlInt(uintptr(c.wfd), unix.F_SETFL, c.wflags|unix.O_NONBLOCK)
	}
	for len(bufs) > 0 {
		n, err := c.writeBufs(bufs)
		if n > 0 {
			for n > 0 && len(bufs) > 0 {
				k := min(n, len(bufs[0]))
				bufs[0], n = bufs[0][k:], n-k
				if len(bufs[0]) == 0 {
					bufs = bufs[1:]
				}
			}
			continue
		}
		if err := c.unsent(ctx, err, len(msg)); err != nil {
			return err
		}
	}
	return nil
}

// writeBufs is writev(2) (sendmsg(2) with MSG_NOSIGNAL on sockets).
func (c *fdConn) writeBufs(bufs [][]byte) (int, error) {
	c.calls.Add(1)
	if c.sockets {
		return unix.SendmsgBuffers(c.wfd, bufs, nil, nil, unix.MSG_NOSIGNAL)
	}
	return unix.Writev(c.wfd, bufs)
}

// fill reads more bytes into p, waiting if none are there. It returns
// io.EOF when the writer has gone.
func (c *fdConn) fill(ctx context.Context, p []byte) (int, error) {
	for {
		n, err := c.read(p)
		if n > 0 {
			return n, nil
		}
		if err == nil { // 0 bytes: end of stream (or, for a FIFO, maybe no writer yet)
			if c.fifo {
				pfd := []unix.PollFd{{Fd: int32(c.rfd), Events: unix.POLLIN}}
				c.calls.Add(1)
				unix.Poll(pfd, 0)
				if pfd[0].Revents&unix.POLLHUP == 0 {
					if err := c.wait(ctx, c.rfd, unix.POLLIN); err != nil {
						return 0, err
					}
					continue
				}
			}
			return 0, io.EOF
		}
		switch err {
		case unix.EAGAIN:
			if err := c.wait(ctx, c.rfd, unix.POLLIN); err != nil {
				return 0, err
			}
		case unix.EINTR:
			if err := c.kicked(ctx); err != nil {
				return 0, err
			}
		case unix.ECONNRESET:
			return 0, fmt.Errorf("%s: receive: %w (%v)", c.name, ErrPeerDied, err)
		default:
			return 0, fmt.Errorf("%s: receive: %w", c.name, err)
		}
	}
}

// Recv implements Conn.
func (c *fdConn) Recv(ctx context.Context, buf []byte) (int, error) {
	if !c.stream {
		n, err := c.fill(ctx, buf)
		if err != nil {
			return 0, c.eof(err)
		}
		return n, nil
	}
	for c.rend-c.rpos < 4 {
		if err := c.more(ctx); err != nil {
			return 0, c.eof(err)
		}
	}
	n := int(binary.LittleEndian.Uint32(c.rbuf[c.rpos:]))
	if n > len(buf) {
		return 0, fmt.Errorf("%s: receive %d-byte message: %w: buffer has %d bytes", c.name, n, ErrMessageTooLarge, len(buf))
	}
	c.rpos += 4
	got := copy(buf[:n], c.rbuf[c.rpos:c.rend])
	c.rpos += got
	for got < n {
		if n-got >= len(c.rbuf) { // big message: read straight into buf
			k, err := c.fill(ctx, buf[got:n])
			if err != nil {
				return 0, c.eof(err)
			}
			got += k
			continue
		}
		if err := c.more(ctx); err != nil {
			return 0, c.eof(err)
		}
		k := copy(buf[got:n], c.rbuf[c.rpos:c.rend])
		c.rpos += k
		got += k
	}
	return n, nil
}

// more reads into the stream buffer, keeping unread bytes.
func (c *fdConn) more(ctx context.Context) error {
	if c.rpos > 0 {
		c.rend = copy(c.rbuf, c.rbuf[c.rpos:c.rend])
		c.rpos = 0
	}
	n, err := c.fill(ctx, c.rbuf[c.rend:])
	c.rend += n
	return err
}

func (c *fdConn) eof(err error) error {
	// A FIFO has no orderly close: its writer gone is its peer gone.
	if errors.Is(err, io.EOF) && (c.peerDead.Load() || c.fifo) {
		return fmt.Errorf("%s: %w: %w", c.name, ErrPeerDied, io.EOF)
	}
	return err
}

func (c *fdConn) syscalls() int64 { return c.calls.Load() }

// PeerDied makes blocked and later calls fail with ErrPeerDied.
func (c *fdConn) PeerDied() { c.peerDead.Store(true) }

// Close implements Conn.
func (c *fdConn) Close() error {
	var err error
	c.once.Do(func() {
		c.closed.Store(true)
		if c.closeFDs != nil {
			c.closeFDs()
		} else {
			unix.Close(c.rfd)
			if c.wfd != c.rfd {
				unix.Close(c.wfd)
			}
		}
		if c.cleanup != nil {
			err = c.cleanup()
		}
	})
	return err
}

// sendDontWait is send(2) with MSG_NOSIGNAL|MSG_DONTWAIT, without the
// scheduler's hooks (it cannot sleep).
func sendDontWait(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(ptr), uintptr(len(p)), unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// sendNoSignal is send(2) with MSG_NOSIGNAL: a closed peer gives EPIPE, not
// SIGPIPE. raw: see fdConn.rawCalls.
func sendNoSignal(fd int, p []byte, raw bool) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	call := unix.Syscall6
	if raw {
		call = unix.RawSyscall6
	}
	n, _, errno := call(unix.SYS_SENDTO, uintptr(fd), uintptr(ptr), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
