package ipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	register(&transport{
		name: "pipe", reach: sameHost,
		about:  "two anonymous pipes (one per direction), inherited by the child",
		listen: listenPipe, attach: attachPipe,
	})
	register(&transport{
		name: "fifo", reach: sameHost,
		about:  "two named pipes (mkfifo) in Dir()",
		listen: listenFIFO, attach: attachFIFO,
	})
	register(&transport{
		name: "unix-stream", reach: sameHost,
		about:  "Unix-domain stream socket on a path in Dir()",
		listen: func(o Options) (*endpoint, error) { return listenUnix("unix-stream", unix.SOCK_STREAM, o) },
		attach: attachUnix,
	})
	register(&transport{
		name: "unix-seqpacket", reach: sameHost,
		about:  "Unix-domain sequenced-packet socket on a path in Dir()",
		check:  func(o Options, size int) error { return checkPacket("unix-seqpacket", unix.SOCK_SEQPACKET, o, size) },
		listen: func(o Options) (*endpoint, error) { return listenUnix("unix-seqpacket", unix.SOCK_SEQPACKET, o) },
		attach: attachUnix,
	})
	register(&transport{
		name: "unix-dgram", reach: sameHost,
		about:  "two bound Unix-domain datagram sockets in Dir()",
		check:  func(o Options, size int) error { return checkPacket("unix-dgram", unix.SOCK_DGRAM, o, size) },
		listen: listenDgram, attach: attachDgram,
	})
	register(&transport{
		name: "tcp", reach: network,
		about:  "TCP with TCP_NODELAY, loopback or another host (Options.Addr)",
		listen: listenTCP, attach: attachTCP,
	})
}

// closeOnce returns a function that closes fds the first time it is called
// and does nothing after. An endpoint's abort and the Conn that accept made
// may both end the same descriptors (Open calls abort after closing a near
// end whose far end failed); a second close would close whatever the
// process has opened under that number since.
func closeOnce(fds ...int) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			for _, fd := range fds {
				unix.Close(fd)
			}
		})
	}
}

// takeFD returns a descriptor of its own for f, and closes f.
func takeFD(f *os.File) (int, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	cerr := rc.Control(func(u uintptr) { fd, err = unix.FcntlInt(u, unix.F_DUPFD_CLOEXEC, 0) })
	if cerr != nil {
		return -1, cerr
	}
	return fd, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ---- pipe

func listenPipe(o Options) (*endpoint, error) {
	var out, in [2]int // out: near writes, far reads; in: far writes, near reads
	if err := unix.Pipe2(out[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("make pipe: %w", err)
	}
	if err := unix.Pipe2(in[:], unix.O_CLOEXEC); err != nil {
		unix.Close(out[0])
		unix.Close(out[1])
		return nil, fmt.Errorf("make pipe: %w", err)
	}
	closeNear := closeOnce(in[0], out[1])
	ep := &endpoint{
		files: []*os.File{os.NewFile(uintptr(out[0]), "pipe-r"), os.NewFile(uintptr(in[1]), "pipe-w")},
		accept: func(ctx context.Context) (Conn, error) {
			c := newFDConn("pipe", in[0], out[1], true)
			c.closeFDs = closeNear
			return c, nil
		},
	}
	ep.abort = func() error { closeNear(); return nil }
	return ep, nil
}

func attachPipe(ctx context.Context, s spec, files []*os.File) (Conn, error) {
	if len(files) != 2 {
		return nil, fmt.Errorf("attach pipe: want 2 descriptors, have %d", len(files))
	}
	r, err := takeFD(files[0])
	if err != nil {
		return nil, fmt.Errorf("attach pipe: %w", err)
	}
	w, err := takeFD(files[1])
	if err != nil {
		unix.Close(r)
		return nil, fmt.Errorf("attach pipe: %w", err)
	}
	return newFDConn("pipe", r, w, true), nil
}

// ---- FIFO

func listenFIFO(o Options) (*endpoint, error) {
	names := []string{filepath.Join(o.Dir, newName("fifo-a")), filepath.Join(o.Dir, newName("fifo-b"))}
	if err := ensureDir(o.Dir); err != nil {
		return nil, fmt.Errorf("make FIFO directory: %w", err)
	}
	remove := func() error {
		return errors.Join(release(resPath, names[0]), release(resPath, names[1]))
	}
	for _, n := range names {
		if err := track(resPath, n); err != nil {
			remove()
			return nil, err
		}
		if err := unix.Mkfifo(n, 0o600); err != nil {
			remove()
			return nil, fmt.Errorf("mkfifo %s: %w", n, err)
		}
	}
	ep := &endpoint{spec: spec{Names: names}, abort: remove}
	ep.accept = func(ctx context.Context) (Conn, error) {
		c, err := openFIFOs(ctx, names[1], names[0])
		if err != nil {
			return nil, err
		}
		c.cleanup = remove
		return c, nil
	}
	return ep, nil
}

func attachFIFO(ctx context.Context, s spec, files []*os.File) (Conn, error) {
	if len(s.Names) != 2 {
		return nil, fmt.Errorf("attach fifo: want 2 paths")
	}
	return openFIFOs(ctx, s.Names[0], s.Names[1])
}

// openFIFOs opens rpath for reading, then waits until a reader has wpath
// open and opens it for writing.
func openFIFOs(ctx context.Context, rpath, wpath string) (*fdConn, error) {
	r, err := unix.Open(rpath, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open FIFO %s: %w", rpath, err)
	}
	for {
		w, err := unix.Open(wpath, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			c := newFDConn("fifo", r, w, true)
			c.fifo = true
			return c, nil
		}
		if err != unix.ENXIO { // ENXIO: no reader yet
			unix.Close(r)
			return nil, fmt.Errorf("open FIFO %s: %w", wpath, err)
		}
		if err := sleepCtx(ctx, 200*time.Microsecond); err != nil {
			unix.Close(r)
			return nil, fmt.Errorf("open FIFO %s: waiting for the reader: %w", wpath, err)
		}
	}
}

// ---- Unix stream and seqpacket

func socketFD(domain, typ int) (int, error) {
	return unix.Socket(domain, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

func listenUnix(name string, typ int, o Options) (*endpoint, error) {
	if err := ensureDir(o.Dir); err != nil {
		return nil, fmt.Errorf("make socket directory: %w", err)
	}
	path := filepath.Join(o.Dir, newName("sock"))
	if err := track(resPath, path); err != nil {
		return nil, err
	}
	fd, err := socketFD(unix.AF_UNIX, typ)
	if err == nil {
		if err = unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err == nil {
			err = unix.Listen(fd, 8)
		}
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		release(resPath, path)
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	closeListener := closeOnce(fd)
	remove := func() error { closeListener(); return release(resPath, path) }
	ep := &endpoint{spec: spec{Names: []string{path}}, abort: remove}
	ep.accept = func(ctx context.Context) (Conn, error) {
		cfd, err := acceptFD(ctx, fd)
		if err != nil {
			return nil, fmt.Errorf("accept on %s: %w", path, err)
		}
		c := newFDConn(name, cfd, cfd, typ == unix.SOCK_STREAM).timedSocket()
		if typ == unix.SOCK_SEQPACKET {
			setPacketBuffers(cfd, o.MaxMessage)
			c.recvFn = func(p []byte, raw bool) (int, error) { return recvTrunc(cfd, p, raw) }
		}
		c.cleanup = remove
		return c, nil
	}
	return ep, nil
}

func attachUnix(ctx context.Context, s spec, files []*os.File) (Conn, error) {
	typ := unix.SOCK_STREAM
	if s.Transport == "unix-seqpacket" {
		typ = unix.SOCK_SEQPACKET
	}
	fd, err := socketFD(unix.AF_UNIX, typ)
	if err != nil {
		return nil, fmt.Errorf("%s socket: %w", s.Transport, err)
	}
	if typ == unix.SOCK_SEQPACKET {
		setPacketBuffers(fd, s.Options.MaxMessage)
	}
	if err := connectFD(ctx, fd, &unix.SockaddrUnix{Name: s.Names[0]}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect to %s: %w", s.Names[0], err)
	}
	c := newFDConn(s.Transport, fd, fd, typ == unix.SOCK_STREAM).timedSocket()
	if typ == unix.SOCK_SEQPACKET {
		c.recvFn = func(p []byte, raw bool) (int, error) { return recvTrunc(fd, p, raw) }
	}
	return c, nil
}

func acceptFD(ctx context.Context, lfd int) (int, error) {
	for {
		fd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err == nil {
			return fd, nil
		}
		if err != unix.EAGAIN && err != unix.EINTR && err != unix.ECONNABORTED {
			return -1, err
		}
		pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 20); err != nil && err != unix.EINTR {
			return -1, err
		}
		if err := ctx.Err(); err != nil {
			return -1, err
		}
	}
}

func connectFD(ctx context.Context, fd int, sa unix.Sockaddr) error {
	for {
		err := unix.Connect(fd, sa)
		switch err {
		case nil, unix.EISCONN:
			return nil
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			if _, err := unix.Poll(pfd, 20); err != nil && err != unix.EINTR {
				return err
			}
			if pfd[0].Revents != 0 {
				soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
				if err != nil {
					return err
				}
				if soerr != 0 {
					return unix.Errno(soerr)
				}
				return nil
			}
		case unix.EAGAIN, unix.ENOENT, unix.ECONNREFUSED:
			// backlog full, or the listener is not there yet
			if err := sleepCtx(ctx, time.Millisecond); err != nil {
				return err
			}
			continue
		default:
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// recvTrunc receives one packet; with MSG_TRUNC the kernel reports its real
// length even if p is shorter, so truncation is detected.
func recvTrunc(fd int, p []byte, raw bool) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	call := unix.Syscall6
	if raw {
		call = unix.RawSyscall6
	}
	n, _, errno := call(unix.SYS_RECVFROM, uintptr(fd), uintptr(ptr), uintptr(len(p)), unix.MSG_TRUNC, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	if int(n) > len(p) {
		return 0, fmt.Errorf("%w: a %d-byte packet does not fit the %d-byte buffer", ErrMessageTooLarge, n, len(p))
	}
	return int(n), nil
}

// setPacketBuffers sizes a packet socket's buffers for messages of size
// bytes (as root beyond net.core.wmem_max, with SO_SNDBUFFORCE).
func setPacketBuffers(fd, size int) int {
	want := max(212992, 2*size+4096)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, want) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, want)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, want) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, want)
	}
	got, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	return got
}

// checkPacket asks the kernel whether one packet of size bytes can be sent,
// on a throw-away socket pair with the buffers the transport would use.
func checkPacket(name string, typ int, o Options, size int) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: check %d-byte messages: %w", name, size, err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	sndbuf := setPacketBuffers(fds[0], size)
	setPacketBuffers(fds[1], size)
	_, err = unix.Write(fds[0], make([]byte, size))
	if err == unix.EMSGSIZE || err == unix.ENOBUFS || err == unix.EAGAIN {
		return fmt.Errorf("%s: %d-byte messages: %w: the kernel refuses one packet that big (%v; socket send buffer %d bytes, net.core.wmem_max = %s)",
			name, size, ErrMessageTooLarge, err, sndbuf, readProc("/proc/sys/net/core/wmem_max"))
	}
	if err != nil {
		return fmt.Errorf("%s: check %d-byte messages: %w", name, size, err)
	}
	return nil
}

// ---- Unix datagram

func listenDgram(o Options) (*endpoint, error) {
	if err := ensureDir(o.Dir); err != nil {
		return nil, fmt.Errorf("make socket directory: %w", err)
	}
	a, b := filepath.Join(o.Dir, newName("dg-a")), filepath.Join(o.Dir, newName("dg-b"))
	remove := func() error { return errors.Join(release(resPath, a), release(resPath, b)) }
	if err := errors.Join(track(resPath, a), track(resPath, b)); err != nil {
		remove()
		return nil, err
	}
	fd, err := socketFD(unix.AF_UNIX, unix.SOCK_DGRAM)
	if err == nil {
		setPacketBuffers(fd, o.MaxMessage)
		if err = unix.Bind(fd, &unix.SockaddrUnix{Name: a}); err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		remove()
		return nil, fmt.Errorf("bind datagram socket %s: %w", a, err)
	}
	ep := &endpoint{spec: spec{Names: []string{a, b}}}
	closeSocket := closeOnce(fd)
	ep.abort = func() error { closeSocket(); return remove() }
	ep.accept = func(ctx context.Context) (Conn, error) {
		if err := connectFD(ctx, fd, &unix.SockaddrUnix{Name: b}); err != nil {
			return nil, fmt.Errorf("connect datagram socket to %s: %w", b, err)
		}
		c := newFDConn("unix-dgram", fd, fd, false).timedSocket()
		c.closeFDs = closeSocket
		c.recvFn = func(p []byte, raw bool) (int, error) { return recvTrunc(fd, p, raw) }
		c.cleanup = remove
		return c, nil
	}
	return ep, nil
}

func attachDgram(ctx context.Context, s spec, files []*os.File) (Conn, error) {
	fd, err := socketFD(unix.AF_UNIX, unix.SOCK_DGRAM)
	if err != nil {
		return nil, fmt.Errorf("datagram socket: %w", err)
	}
	setPacketBuffers(fd, s.Options.MaxMessage)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: s.Names[1]}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind datagram socket %s: %w", s.Names[1], err)
	}
	if err := connectFD(ctx, fd, &unix.SockaddrUnix{Name: s.Names[0]}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect datagram socket to %s: %w", s.Names[0], err)
	}
	c := newFDConn("unix-dgram", fd, fd, false).timedSocket()
	c.recvFn = func(p []byte, raw bool) (int, error) { return recvTrunc(fd, p, raw) }
	return c, nil
}

// ---- TCP

func tcpSockaddr(addr string) (unix.Sockaddr, int, error) {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, 0, err
	}
	if ip4 := a.IP.To4(); ip4 != nil || a.IP == nil {
		sa := &unix.SockaddrInet4{Port: a.Port}
		if ip4 != nil {
			copy(sa.Addr[:], ip4)
		}
		return sa, unix.AF_INET, nil
	}
	sa := &unix.SockaddrInet6{Port: a.Port}
	copy(sa.Addr[:], a.IP.To16())
	return sa, unix.AF_INET6, nil
}

func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	}
	return ""
}

func listenTCP(o Options) (*endpoint, error) {
	sa, family, err := tcpSockaddr(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("tcp address %q: %w", o.Addr, err)
	}
	fd, err := socketFD(family, unix.SOCK_STREAM)
	if err == nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if err = unix.Bind(fd, sa); err == nil {
			err = unix.Listen(fd, 8)
		}
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("listen on tcp %s: %w", o.Addr, err)
	}
	bound, _ := unix.Getsockname(fd)
	ep := &endpoint{spec: spec{Addr: sockaddrString(bound)}}
	closeListener := closeOnce(fd)
	ep.abort = func() error { closeListener(); return nil }
	ep.accept = func(ctx context.Context) (Conn, error) {
		cfd, err := acceptFD(ctx, fd)
		closeListener()
		if err != nil {
			return nil, fmt.Errorf("accept on tcp %s: %w", ep.spec.Addr, err)
		}
		unix.SetsockoptInt(cfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		return newFDConn("tcp", cfd, cfd, true).timedSocket(), nil
	}
	return ep, nil
}

func attachTCP(ctx context.Context, s spec, files []*os.File) (Conn, error) {
	sa, family, err := tcpSockaddr(s.Addr)
	if err != nil {
		return nil, fmt.Errorf("tcp address %q: %w", s.Addr, err)
	}
	fd, err := socketFD(family, unix.SOCK_STREAM)
	if err != nil {
		return nil, fmt.Errorf("tcp socket: %w", err)
	}
	if err := connectFD(ctx, fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect to tcp %s: %w", s.Addr, err)
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return newFDConn("tcp", fd, fd, true).timedSocket(), nil
}
