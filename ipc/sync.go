package ipc

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"
)

// Synchronisation in shared memory, for processes (or goroutines) that map
// the same segment. Each value is a view over a few bytes of the segment:
// build one over the same offset in every process.

// Mutex is a cross-process mutual-exclusion lock on a futex (the three-state
// lock of Drepper's "Futexes Are Tricky": 0 unlocked, 1 locked, 2 locked
// with waiters). It needs 4 bytes, zero meaning unlocked. If a process
// dies holding it, it stays locked: Lock then waits until its ctx ends.
type Mutex struct{ state *uint32 }

// MutexIn returns the Mutex stored in the first 4 bytes of mem.
func MutexIn(mem []byte) (*Mutex, error) {
	p, err := View[uint32](mem)
	if err != nil {
		return nil, fmt.Errorf("mutex: %w", err)
	}
	return &Mutex{state: p}, nil
}

// TryLock takes the lock if it is free.
func (m *Mutex) TryLock() bool { return atomic.CompareAndSwapUint32(m.state, 0, 1) }

// Lock takes the lock, sleeping in the kernel while another holder has it.
func (m *Mutex) Lock(ctx context.Context) error {
	if atomic.CompareAndSwapUint32(m.state, 0, 1) {
		return nil
	}
	for i := 0; i < 100; i++ { // brief spin: critical sections are short
		cpuRelax()
		if atomic.LoadUint32(m.state) == 0 && atomic.CompareAndSwapUint32(m.state, 0, 1) {
			return nil
		}
	}
	done := ctx.Done()
	for atomic.SwapUint32(m.state, 2) != 0 {
		futexWait(m.state, 2, 50*time.Millisecond)
		select {
		case <-done:
			return fmt.Errorf("lock mutex: %w", ctx.Err())
		default:
		}
	}
	return nil
}

// Unlock releases the lock and wakes one waiter if there are any.
func (m *Mutex) Unlock() {
	if atomic.AddUint32(m.state, ^uint32(0)) != 0 {
		atomic.StoreUint32(m.state, 0)
		futexWake(m.state, 1)
	}
}

// Semaphore is a cross-process counting semaphore on a futex. It needs 8
// bytes: the count and the number of sleepers.
type Semaphore struct {
	count, waiters *uint32
}

// SemaphoreIn returns the Semaphore stored in the first 8 bytes of mem.
// A new segment is zero: call Post to give it an initial count.
func SemaphoreIn(mem []byte) (*Semaphore, error) {
	p, err := View[[2]uint32](mem)
	if err != nil {
		return nil, fmt.Errorf("semaphore: %w", err)
	}
	return &Semaphore{count: &p[0], waiters: &p[1]}, nil
}

// Post adds one to the count and wakes a sleeper.
func (s *Semaphore) Post() {
	atomic.AddUint32(s.count, 1)
	if atomic.LoadUint32(s.waiters) != 0 {
		futexWake(s.count, 1)
	}
}

// TryWait takes one from the count if it is positive.
func (s *Semaphore) TryWait() bool {
	for {
		v := atomic.LoadUint32(s.count)
		if v == 0 {
			return false
		}
		if atomic.CompareAndSwapUint32(s.count, v, v-1) {
			return true
		}
	}
}

// Wait takes one from the count, sleeping while it is zero.
func (s *Semaphore) Wait(ctx context.Context) error {
	done := ctx.Done()
	for !s.TryWait() {
		atomic.AddUint32(s.waiters, 1)
		futexWait(s.count, 0, 50*time.Millisecond)
		atomic.AddUint32(s.waiters, ^uint32(0))
		select {
		case <-done:
			return fmt.Errorf("wait on semaphore: %w", ctx.Err())
		default:
		}
	}
	return nil
}

// Value returns the current count.
func (s *Semaphore) Value() int { return int(atomic.LoadUint32(s.count)) }

// Seqlock publishes snapshots of a T from one writer to any number of
// readers that never block the writer: the writer makes a sequence number
// odd, writes, and makes it even again; a reader copies the value and
// retries if the sequence number was odd or changed meanwhile. It needs 8
// bytes plus the size of T, aligned to 8. Only one process may Store at a
// time (guard several writers with a Mutex).
type Seqlock[T any] struct {
	seq *uint64
	val *T
}

// SeqlockIn returns the Seqlock stored at the start of mem.
func SeqlockIn[T any](mem []byte) (*Seqlock[T], error) {
	seq, err := View[uint64](mem)
	if err != nil {
		return nil, fmt.Errorf("seqlock: %w", err)
	}
	if len(mem) < 8 {
		return nil, fmt.Errorf("seqlock: %w: too small", ErrBadParameter)
	}
	val, err := View[T](mem[8:])
	if err != nil {
		return nil, fmt.Errorf("seqlock: %w", err)
	}
	return &Seqlock[T]{seq: seq, val: val}, nil
}

// Store publishes v.
func (s *Seqlock[T]) Store(v T) {
	n := atomic.LoadUint64(s.seq)
	atomic.StoreUint64(s.seq, n+1)
	copyPlain(s.val, &v)
	atomic.StoreUint64(s.seq, n+2)
}

// Load returns the latest complete snapshot. It fails only if ctx ends
// while a write seems stuck (a writer that died in the middle of Store).
func (s *Seqlock[T]) Load(ctx context.Context) (T, error) {
	var v T
	for i := 0; ; i++ {
		n := atomic.LoadUint64(s.seq)
		if n&1 == 0 {
			copyPlain(&v, s.val)
			if atomic.LoadUint64(s.seq) == n {
				return v, nil
			}
		}
		if i&1023 == 1023 {
			schedYield()
			if err := ctx.Err(); err != nil {
				return v, fmt.Errorf("seqlock load: %w", err)
			}
		} else {
			cpuRelax()
		}
	}
}

// Version is the sequence number: twice the number of Stores so far (odd
// while a Store is in progress).
func (s *Seqlock[T]) Version() uint64 { return atomic.LoadUint64(s.seq) }

// copyPlain copies a pointer-free value byte by byte, as the concurrent
// reader of a seqlock must (a torn copy is detected and retried).
func copyPlain[T any](dst, src *T) {
	n := unsafe.Sizeof(*dst)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(dst)), n), unsafe.Slice((*byte)(unsafe.Pointer(src)), n))
}
