package ipc

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

// In-process baselines: both ends are goroutines of one process.

func init() {
	register(&transport{
		name: "chan", reach: inProcess,
		about:  "Go channels between goroutines (in-process baseline)",
		listen: listenChan, attach: attachLocal,
	})
	register(&transport{
		name: "shm-mutex", reach: inProcess,
		about:  "memory shared by goroutines, guarded by sync.Mutex and sync.Cond (in-process)",
		listen: listenMutex, attach: attachLocal,
	})
}

var locals = struct {
	sync.Mutex
	n int
	m map[string]Conn
}{m: map[string]Conn{}}

func parkLocal(c Conn) string {
	locals.Lock()
	defer locals.Unlock()
	locals.n++
	id := strconv.Itoa(locals.n)
	locals.m[id] = c
	return id
}

func attachLocal(ctx context.Context, s spec, files []*os.File) (Conn, error) {
	locals.Lock()
	defer locals.Unlock()
	c, ok := locals.m[s.Addr]
	if !ok {
		return nil, fmt.Errorf("attach %s: %w", s.Transport, ErrNotLocal)
	}
	delete(locals.m, s.Addr)
	return c, nil
}

// ---- chan

type chanPipe struct {
	data chan []byte
	free chan []byte
}

func newChanPipe(depth, size int) *chanPipe {
	p := &chanPipe{data: make(chan []byte, depth), free: make(chan []byte, depth+1)}
	for range depth + 1 {
		p.free <- make([]byte, 0, size)
	}
	return p
}

type chanConn struct {
	out, in *chanPipe
	closed  chan struct{} // closed by either end
	once    *sync.Once
	dead    atomic.Bool
}

func listenChan(o Options) (*endpoint, error) {
	depth := max(16, min(1024, (1<<20)/o.MaxMessage))
	a, b := newChanPipe(depth, o.MaxMessage), newChanPipe(depth, o.MaxMessage)
	closed, once := make(chan struct{}), &sync.Once{}
	near := &chanConn{out: a, in: b, closed: closed, once: once}
	far := &chanConn{out: b, in: a, closed: closed, once: once}
	id := parkLocal(far)
	return &endpoint{
		spec:   spec{Addr: id},
		accept: func(ctx context.Context) (Conn, error) { return near, nil },
		abort:  func() error { attachLocal(context.Background(), spec{Addr: id}, nil); return nil },
	}, nil
}

func (c *chanConn) Send(ctx context.Context, msg []byte) error {
	var b []byte
	select {
	case b = <-c.out.free:
	case <-c.closed:
		return fmt.Errorf("chan: send: %w", ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
	b = append(b[:0], msg...)
	select {
	case c.out.data <- b:
		return nil
	case <-c.closed:
		return fmt.Errorf("chan: send: %w", ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *chanConn) Recv(ctx context.Context, buf []byte) (int, error) {
	var b []byte
	select {
	case b = <-c.in.data:
	default:
		select {
		case b = <-c.in.data:
		case <-c.closed:
			select {
			case b = <-c.in.data:
			default:
				return 0, io.EOF
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if len(b) > len(buf) {
		c.in.free <- b
		return 0, fmt.Errorf("chan: receive %d-byte message: %w: buffer has %d bytes", len(b), ErrMessageTooLarge, len(buf))
	}
	n := copy(buf, b)
	c.in.free <- b
	return n, nil
}

func (c *chanConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// ---- shared memory + mutex between goroutines

// mutexQueue is a bounded queue of messages in one shared byte slice,
// guarded by a mutex with condition variables: the "shared memory and
// locks" way of passing data between threads.
type mutexQueue struct {
	mu       sync.Mutex
	notEmpty sync.Cond
	notFull  sync.Cond
	slots    [][]byte
	lens     []int
	head, n  int
	closed   bool
}

func newMutexQueue(depth, size int) *mutexQueue {
	q := &mutexQueue{slots: make([][]byte, depth), lens: make([]int, depth)}
	mem := make([]byte, depth*size)
	for i := range q.slots {
		q.slots[i] = mem[i*size : (i+1)*size]
	}
	q.notEmpty.L, q.notFull.L = &q.mu, &q.mu
	return q
}

type mutexConn struct {
	out, in *mutexQueue
	once    sync.Once
}

func listenMutex(o Options) (*endpoint, error) {
	depth := max(16, min(1024, (1<<20)/o.MaxMessage))
	a, b := newMutexQueue(depth, o.MaxMessage), newMutexQueue(depth, o.MaxMessage)
	near, far := &mutexConn{out: a, in: b}, &mutexConn{out: b, in: a}
	id := parkLocal(far)
	return &endpoint{
		spec:   spec{Addr: id},
		accept: func(ctx context.Context) (Conn, error) { return near, nil },
		abort:  func() error { attachLocal(context.Background(), spec{Addr: id}, nil); return nil },
	}, nil
}

// wakeOnDone broadcasts c when ctx ends, so that a Cond.Wait returns.
func wakeOnDone(ctx context.Context, q *mutexQueue) func() bool {
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.notEmpty.Broadcast()
		q.notFull.Broadcast()
		q.mu.Unlock()
	})
}

func (c *mutexConn) Send(ctx context.Context, msg []byte) error {
	q := c.out
	if len(msg) > len(q.slots[0]) {
		return fmt.Errorf("shm-mutex: send %d bytes: %w: slots hold %d", len(msg), ErrMessageTooLarge, len(q.slots[0]))
	}
	q.mu.Lock()
	if q.n == len(q.slots) && !q.closed {
		stop := wakeOnDone(ctx, q)
		for q.n == len(q.slots) && !q.closed && ctx.Err() == nil {
			q.notFull.Wait()
		}
		stop()
	}
	if q.closed || ctx.Err() != nil {
		q.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("shm-mutex: send: %w", ErrClosed)
	}
	i := (q.head + q.n) % len(q.slots)
	q.lens[i] = copy(q.slots[i], msg)
	q.n++
	q.mu.Unlock()
	q.notEmpty.Signal()
	return nil
}

func (c *mutexConn) Recv(ctx context.Context, buf []byte) (int, error) {
	q := c.in
	q.mu.Lock()
	if q.n == 0 && !q.closed {
		stop := wakeOnDone(ctx, q)
		for q.n == 0 && !q.closed && ctx.Err() == nil {
			q.notEmpty.Wait()
		}
		stop()
	}
	if q.n == 0 {
		q.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if q.lens[q.head] > len(buf) {
		n := q.lens[q.head]
		q.mu.Unlock()
		return 0, fmt.Errorf("shm-mutex: receive %d-byte message: %w: buffer has %d bytes", n, ErrMessageTooLarge, len(buf))
	}
	n := copy(buf, q.slots[q.head][:q.lens[q.head]])
	q.head = (q.head + 1) % len(q.slots)
	q.n--
	q.mu.Unlock()
	q.notFull.Signal()
	return n, nil
}

func (c *mutexConn) Close() error {
	c.once.Do(func() {
		for _, q := range []*mutexQueue{c.out, c.in} {
			q.mu.Lock()
			q.closed = true
			q.notEmpty.Broadcast()
			q.notFull.Broadcast()
			q.mu.Unlock()
		}
	})
	return nil
}
