package ipc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	register(&transport{
		name: "posix-mq", reach: sameHost,
		about:  "two POSIX message queues (mq_open), one per direction",
		check:  checkPosixMQ,
		listen: listenPosixMQ, attach: attachPosixMQ,
	})
	register(&transport{
		name: "sysv-mq", reach: sameHost,
		about:  "one System V message queue (msgget), a message type per direction",
		check:  checkSysvMQ,
		listen: listenSysvMQ, attach: attachSysvMQ,
	})
}

// ---- POSIX message queues, through the system calls (glibc's mq_open
// strips the leading slash and calls these).

type mqAttr struct {
	Flags, MaxMsg, MsgSize, CurMsgs int64
	_                               [4]int64
}

func mqOpen(name string, flags int, attr *mqAttr) (int, error) {
	p, err := unix.BytePtrFromString(strings.TrimPrefix(name, "/"))
	if err != nil {
		return -1, err
	}
	fd, _, errno := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)), uintptr(flags), 0o600, uintptr(unsafe.Pointer(attr)), 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

func mqUnlink(name string) error {
	p, err := unix.BytePtrFromString(strings.TrimPrefix(name, "/"))
	if err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(p)), 0, 0); errno != 0 {
		return errno
	}
	return nil
}

func mqExists(name string) bool {
	fd, err := mqOpen(name, unix.O_RDONLY|unix.O_CLOEXEC, nil)
	if err != nil {
		return err != unix.ENOENT
	}
	unix.Close(fd)
	return true
}

func mqSend(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	if _, _, errno := unix.RawSyscall6(unix.SYS_MQ_TIMEDSEND, uintptr(fd), uintptr(ptr), uintptr(len(p)), 0, 0, 0); errno != 0 {
		return 0, errno
	}
	return len(p), nil
}

func mqRecv(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_MQ_TIMEDRECEIVE, uintptr(fd), uintptr(ptr), uintptr(len(p)), 0, 0, 0)
	if errno == unix.EMSGSIZE {
		return 0, fmt.Errorf("%w: the receive buffer (%d bytes) is smaller than the queue's message size", ErrMessageTooLarge, len(p))
	}
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func mqDepth(o Options) int {
	if o.QueueDepth > 0 {
		return o.QueueDepth
	}
	n, err := strconv.Atoi(readProc("/proc/sys/fs/mqueue/msg_max"))
	if err != nil || n <= 0 {
		return 10
	}
	return n
}

func mqLimitError(err error, o Options, size int) error {
	if err == unix.ENOSPC {
		return fmt.Errorf("posix-mq: create a queue: %w: the OS limit /proc/sys/fs/mqueue/queues_max (queues on the machine, for users without CAP_SYS_RESOURCE) is %s: %v", ErrNoRoom, readProc("/proc/sys/fs/mqueue/queues_max"), err)
	}
	var rl unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_MSGQUEUE, &rl)
	return fmt.Errorf("posix-mq: queue of %d messages of %d bytes: %w: %v (OS limits: /proc/sys/fs/mqueue/msgsize_max = %s, /proc/sys/fs/mqueue/msg_max = %s, RLIMIT_MSGQUEUE = %d bytes for all queues of the user)",
		mqDepth(o), size, ErrMessageTooLarge, err, readProc("/proc/sys/fs/mqueue/msgsize_max"), readProc("/proc/sys/fs/mqueue/msg_max"), rl.Cur)
}

func checkPosixMQ(o Options, size int) error {
	name := "/" + newName("mqcheck")
	if err := track(resMQ, name); err != nil {
		return err
	}
	defer release(resMQ, name)
	fd, err := mqOpen(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, &mqAttr{MaxMsg: int64(mqDepth(o)), MsgSize: int64(size)})
	if err != nil {
		if err == unix.EINVAL || err == unix.EMFILE || err == unix.ENOMEM || err == unix.ENOSPC {
			return mqLimitError(err, o, size)
		}
		return fmt.Errorf("posix-mq: check %d-byte messages: %w", size, err)
	}
	unix.Close(fd)
	return nil
}

func listenPosixMQ(o Options) (*endpoint, error) {
	names := []string{"/" + newName("mq-a"), "/" + newName("mq-b")}
	remove := func() error { return errors.Join(release(resMQ, names[0]), release(resMQ, names[1])) }
	attr := &mqAttr{MaxMsg: int64(mqDepth(o)), MsgSize: int64(o.MaxMessage)}
	var fds []int
	for _, n := range names {
		if err := track(resMQ, n); err != nil {
			remove()
			return nil, err
		}
		fd, err := mqOpen(n, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NONBLOCK|unix.O_CLOEXEC, attr)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			remove()
			if err == unix.EINVAL || err == unix.EMFILE || err == unix.ENOMEM || err == unix.ENOSPC {
				return nil, mqLimitError(err, o, o.MaxMessage)
			}
			return nil, fmt.Errorf("mq_open %s: %w", n, err)
		}
		fds = append(fds, fd)
	}
	ep := &endpoint{spec: spec{Names: names}}
	closeQueues := closeOnce(fds[0], fds[1])
	ep.abort = func() error { closeQueues(); return remove() }
	ep.accept = func(ctx context.Context) (Conn, error) {
		c := newMQConn(fds[1], fds[0], o.MaxMessage)
		c.closeFDs = closeQueues
		c.cleanup = remove
		return c, nil
	}
	return ep, nil
}

func attachPosixMQ(ctx context.Context, s spec, files []*os.File) (Conn, error) {
	r, err := mqOpen(s.Names[0], unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, nil)
	if err != nil {
		return nil, fmt.Errorf("mq_open %s: %w", s.Names[0], err)
	}
	w, err := mqOpen(s.Names[1], unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, nil)
	if err != nil {
		unix.Close(r)
		return nil, fmt.Errorf("mq_open %s: %w", s.Names[1], err)
	}
	return newMQConn(r, w, s.Options.MaxMessage), nil
}

// newMQConn: queue descriptors are pollable on Linux, so the fdConn logic
// (non-blocking call, poll when it would block) applies unchanged.
func newMQConn(r, w, size int) *fdConn {
	c := newFDConn("posix-mq", r, w, false)
	// Both descriptors are non-blocking but in the harness's blocking mode,
	// so a call either cannot sleep or is bounded by the kicks: always raw.
	c.sendFn = func(p []byte, _ bool) (int, error) { return mqSend(w, p) }
	c.recvFn = func(p []byte, _ bool) (int, error) {
		if len(p) < size { // the kernel refuses buffers smaller than the queue's message size
			return 0, fmt.Errorf("%w: the receive buffer (%d bytes) is smaller than the queue's message size %d", ErrMessageTooLarge, len(p), size)
		}
		return mqRecv(r, p)
	}
	return c
}

// ---- System V message queue

func msgGet() (int, error) {
	id, _, errno := unix.Syscall(unix.SYS_MSGGET, unix.IPC_PRIVATE, unix.IPC_CREAT|unix.IPC_EXCL|0o600, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(id), nil
}

func msgRemove(id int) error {
	if _, _, errno := unix.Syscall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0); errno != 0 {
		return errno
	}
	return nil
}

func msgExists(id int) bool {
	var buf [256]byte // struct msqid_ds is smaller
	_, _, errno := unix.Syscall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_STAT, uintptr(unsafe.Pointer(&buf[0])))
	return errno == 0
}

func sysvLimits() (msgmax, msgmnb int) {
	msgmax, _ = strconv.Atoi(readProc("/proc/sys/kernel/msgmax"))
	msgmnb, _ = strconv.Atoi(readProc("/proc/sys/kernel/msgmnb"))
	return
}

func checkSysvMQ(o Options, size int) error {
	msgmax, msgmnb := sysvLimits()
	if msgmax > 0 && size > msgmax {
		return fmt.Errorf("sysv-mq: %d-byte messages: %w: the OS limit /proc/sys/kernel/msgmax is %d bytes", size, ErrMessageTooLarge, msgmax)
	}
	if msgmnb > 0 && size > msgmnb {
		return fmt.Errorf("sysv-mq: %d-byte messages: %w: the OS limit /proc/sys/kernel/msgmnb (bytes per queue) is %d", size, ErrMessageTooLarge, msgmnb)
	}
	return nil
}

func listenSysvMQ(o Options) (*endpoint, error) {
	if err := checkSysvMQ(o, o.MaxMessage); err != nil {
		return nil, err
	}
	id, err := msgGet()
	if err != nil {
		return nil, fmt.Errorf("msgget: %w", err)
	}
	name := strconv.Itoa(id)
	if err := track(resSysvMsg, name); err != nil {
		msgRemove(id)
		return nil, err
	}
	remove := func() error { return release(resSysvMsg, name) }
	ep := &endpoint{spec: spec{ID: id}, abort: remove}
	ep.accept = func(ctx context.Context) (Conn, error) {
		c := newSysvConn(id, 1, 2, o.MaxMessage)
		c.cleanup = remove
		return c, nil
	}
	return ep, nil
}

func attachSysvMQ(ctx context.Context, s spec, files []*os.File) (Conn, error) {
	if !msgExists(s.ID) {
		return nil, fmt.Errorf("attach sysv-mq %d: %w", s.ID, unix.EINVAL)
	}
	return newSysvConn(s.ID, 2, 1, s.Options.MaxMessage), nil
}

// sysvConn sends with message type out and receives type in. msgsnd and
// msgrcv cannot be polled: a call first tries IPC_NOWAIT and then blocks in
// the kernel; a context that ends during that blocking call, or a peer that
// dies, removes the queue, which wakes the call with EIDRM (so the
// connection ends with it).
type sysvConn struct {
	id       int
	out, in  int64
	buf      []byte // 8-byte type + text
	rbuf     []byte
	peerDead atomic.Bool
	aborted  atomic.Bool
	abortErr error
	once     sync.Once
	cleanup  func() error
	calls    atomic.Int64  // msgsnd and msgrcv calls made
	blk      *blockingMode // during the harness's trials: block at once (blocking.go)
}

// blockOnThread lets the calling (locked) goroutine's receives block at
// once, one system call per message; msgrcv returns EINTR on any signal, so
// a kick ends it (blocking.go). Sends try IPC_NOWAIT first, as before.
func (c *sysvConn) blockOnThread() (release func()) {
	if c.blk != nil {
		return func() {}
	}
	b := startBlocking()
	if b == nil {
		return func() {}
	}
	c.blk = b
	return func() { c.blk = nil; b.end() }
}

// call makes one msgsnd or msgrcv; blocking: without IPC_NOWAIT.
func (c *sysvConn) call(blocking bool, trap, a1, a2, a3, a4, a5 uintptr) (uintptr, unix.Errno) {
	c.calls.Add(1)
	if c.blk != nil || !blocking { // bounded by the kicks, or cannot sleep: raw
		n, _, errno := unix.RawSyscall6(trap, a1, a2, a3, a4, a5, 0)
		return n, errno
	}
	n, _, errno := unix.Syscall6(trap, a1, a2, a3, a4, a5, 0)
	return n, errno
}

// kicked says why a blocking call returned EINTR.
func (c *sysvConn) kicked(op string, ctx context.Context) error {
	if c.blk == nil {
		return nil
	}
	var intr interruptWatch
	if err := intr.err(); err != nil {
		return fmt.Errorf("sysv-mq: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.peerDead.Load() {
		return fmt.Errorf("sysv-mq: %s: %w", op, ErrPeerDied)
	}
	if c.aborted.Load() {
		return fmt.Errorf("sysv-mq: %s: %w", op, ErrClosed)
	}
	return nil
}

func (c *sysvConn) syscalls() int64 { return c.calls.Load() }

func newSysvConn(id int, out, in int64, size int) *sysvConn {
	return &sysvConn{id: id, out: out, in: in, buf: make([]byte, 8+size), rbuf: make([]byte, 8+size)}
}

// watch arranges for ctx's end to abort the blocking call about to be
// made; the returned function disarms it once the call has returned.
func (c *sysvConn) watch(ctx context.Context) func() bool {
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() { c.abort(ctx.Err()) })
}

func (c *sysvConn) abort(err error) {
	if c.aborted.CompareAndSwap(false, true) {
		c.abortErr = err
		msgRemove(c.id)
	}
}

func (c *sysvConn) fail(op string, ctx context.Context, errno unix.Errno) error {
	if errno == unix.EIDRM || errno == unix.EINVAL {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c.peerDead.Load() {
			return fmt.Errorf("sysv-mq: %s: %w", op, ErrPeerDied)
		}
		return fmt.Errorf("sysv-mq: %s: %w: the queue was removed", op, ErrClosed)
	}
	return fmt.Errorf("sysv-mq: %s: %w", op, errno)
}

func (c *sysvConn) Send(ctx context.Context, msg []byte) error {
	if len(msg) > len(c.buf)-8 {
		return fmt.Errorf("sysv-mq: send %d bytes: %w: the connection was opened for %d", len(msg), ErrMessageTooLarge, len(c.buf)-8)
	}
	*(*int64)(unsafe.Pointer(&c.buf[0])) = c.out
	copy(c.buf[8:], msg)
	p := uintptr(unsafe.Pointer(&c.buf[0]))
	flags := uintptr(unix.IPC_NOWAIT) // a send rarely waits: try first, as fdConn does
	for {
		_, errno := c.call(flags == 0, unix.SYS_MSGSND, uintptr(c.id), p, uintptr(len(msg)), flags, 0)
		switch errno {
		case 0:
			return nil
		case unix.EAGAIN:
			if flags != 0 {
				flags = 0
				defer c.watch(ctx)()
			}
		case unix.EINTR:
			if err := c.kicked("send", ctx); err != nil {
				return err
			}
		default:
			return c.fail("send", ctx, errno)
		}
	}
}

func (c *sysvConn) Recv(ctx context.Context, buf []byte) (int, error) {
	p := uintptr(unsafe.Pointer(&c.rbuf[0]))
	flags := uintptr(unix.IPC_NOWAIT)
	if c.blk != nil {
		flags = 0
	}
	for {
		n, errno := c.call(flags == 0, unix.SYS_MSGRCV, uintptr(c.id), p, uintptr(len(c.rbuf)-8), uintptr(c.in), flags)
		switch errno {
		case 0:
			if int(n) > len(buf) {
				return 0, fmt.Errorf("sysv-mq: receive %d-byte message: %w: buffer has %d bytes", n, ErrMessageTooLarge, len(buf))
			}
			return copy(buf, c.rbuf[8:8+n]), nil
		case unix.ENOMSG, unix.EAGAIN:
			if flags != 0 {
				flags = 0
				defer c.watch(ctx)()
			}
		case unix.EINTR:
			if err := c.kicked("receive", ctx); err != nil {
				return 0, err
			}
		default:
			return 0, c.fail("receive", ctx, errno)
		}
	}
}

// PeerDied removes the queue so that blocked calls return.
func (c *sysvConn) PeerDied() {
	c.peerDead.Store(true)
	c.abort(ErrPeerDied)
}

func (c *sysvConn) Close() error {
	var err error
	c.once.Do(func() {
		if c.cleanup != nil {
			err = c.cleanup()
		}
	})
	return err
}

// msgOwner returns the owner uid of a SysV message queue (msqid64_ds's
// ipc64_perm: key, uid, gid, cuid, …, the same on every Linux architecture).
func msgOwner(id int) (uint32, bool) {
	var buf [256]byte // struct msqid64_ds is smaller
	_, _, errno := unix.Syscall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_STAT, uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 {
		return 0, false
	}
	return *(*uint32)(unsafe.Pointer(&buf[4])), true
}
