package ipc

import (
	"context"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/ipclab/ipclab/internal/proctab"
)

// Wait is how a ring end waits when the ring is empty (consumer) or full
// (producer).
type Wait string

const (
	// Spin re-reads the peer's index in a PAUSE loop: lowest latency, burns a core.
	Spin Wait = "spin"
	// Yield calls sched_yield between reads, letting other threads run.
	Yield Wait = "yield"
	// Futex sleeps in the kernel until the peer publishes and wakes it.
	Futex Wait = "futex"
	// Adaptive spins briefly, then yields, then sleeps on the futex. Its
	// phases are measured in time, not iterations (a PAUSE takes 10 to 140
	// cycles depending on the CPU): it spins for at most 4 µs — less after
	// waits longer than that, so that on a loaded machine it does not hold a
	// CPU the peer needs — then yields until 50 µs, then sleeps.
	Adaptive Wait = "adaptive"
)

func (w Wait) valid() bool {
	switch w {
	case Spin, Yield, Futex, Adaptive:
		return true
	}
	return false
}

// Ring layout in shared memory. Each index sits on its own 128-byte block
// (two cache lines, so the adjacent-line prefetcher does not couple them).
const (
	ringMagic      = 0x676e69724c435049 // "IPCLring"
	offMagic       = 0
	offCap         = 8
	offTail        = 128 // producer's published index (bytes ever written)
	offProdPID     = 136
	offHead        = 256 // consumer's published index (bytes ever consumed)
	offConsPID     = 264
	offConsSleep   = 384 // consumer sleeps on the futex (tail's low word)
	offProdSleep   = 512 // producer sleeps on the futex (head's low word)
	offClosed      = 640 // bit 0: producer closed, bit 1: consumer closed
	ringHeaderSize = 1024

	wrapMark   = ^uint64(0) // record header: skip to the start of the ring
	recordHead = 8          // bytes of length header before each message
)

// RingBytes is the size of memory a ring with capacity bytes of data needs.
func RingBytes(capacity int) int { return ringHeaderSize + capacity }

// Ring is a single-producer single-consumer queue of variable-size messages
// in shared memory. One process (or goroutine) produces, another consumes;
// each holds its own *Ring over the same memory.
//
// Layout: a header with the producer's tail and the consumer's head on
// separate cache lines, then a power-of-two data area. Each message is an
// 8-byte length followed by the bytes, padded to 8; a message that would
// straddle the end is preceded by a wrap marker and starts again at offset
// 0, so every message is contiguous and can be used in place. Each side
// caches the peer's index and re-reads it only when it seems out of room or
// out of data.
//
// Zero-copy and batches: Claim returns space in the ring to write into;
// Commit publishes everything claimed so far (claim several, commit once).
// Next returns the next message in place; Release gives back everything
// read so far. Send and Recv copy and publish one message each.
//
// A Ring is not safe for concurrent use by several goroutines on the same side.
type Ring struct {
	_       [64]byte
	data    unsafe.Pointer
	mem     []byte
	cap     uint64
	mask    uint64
	maxMsg  int
	wait    Wait
	tail    *uint64
	head    *uint64
	cSleep  *uint32
	pSleep  *uint32
	closed  *uint32
	prodPID *int32
	consPID *int32

	// producer side
	ptail      uint64 // claimed, maybe not yet committed
	cachedHead uint64
	// consumer side
	chead      uint64 // read, maybe not yet released
	cachedTail uint64

	peerDead atomic.Bool
	// calls counts the system calls this end made (futex, sched_yield)
	// while sending or receiving, for Result's per-message costs.
	calls atomic.Int64
	// spinNs is how long an Adaptive wait spins before it yields (see
	// adapt; this end's own state: waits are made by one goroutine).
	spinNs int64
	_      [64]byte
}

// shortSpin is how many PAUSEs Next and Claim spend before they set up a
// full wait (10–40 ns each): short enough to leave Adaptive's time-bounded
// spin phase in charge on a loaded machine.
const shortSpin = 8

// Adaptive waiting: the spin phase's bounds and how long to yield before
// sleeping on the futex.
const (
	adaptiveMaxSpin = 4000   // ns
	adaptiveMinSpin = 250    // ns
	adaptiveYield   = 50_000 // ns, from the start of the wait
)

// NewRing formats mem as an empty ring and returns its first end. The data
// capacity is the largest power of two that fits after the header. Use
// AttachRing for the other end.
func NewRing(mem []byte, w Wait) (*Ring, error) {
	if len(mem) < ringHeaderSize+64 {
		return nil, fmt.Errorf("new ring in %d bytes: %w: need at least %d", len(mem), ErrBadParameter, ringHeaderSize+64)
	}
	if uintptr(unsafe.Pointer(&mem[0]))%128 != 0 {
		return nil, fmt.Errorf("new ring: %w: memory must be 128-byte aligned", ErrBadParameter)
	}
	c := uint64(1) << (bits.Len64(uint64(len(mem)-ringHeaderSize)) - 1)
	clear(mem[:ringHeaderSize])
	*(*uint64)(unsafe.Pointer(&mem[offCap])) = c
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&mem[offMagic])), ringMagic)
	return AttachRing(mem, w)
}

// AttachRing returns another end of a ring that NewRing formatted.
func AttachRing(mem []byte, w Wait) (*Ring, error) {
	if w == "" {
		w = Adaptive
	}
	if !w.valid() {
		return nil, fmt.Errorf("attach ring: %w: unknown wait strategy %q (spin, yield, futex, adaptive)", ErrBadParameter, w)
	}
	if len(mem) < ringHeaderSize+64 || atomic.LoadUint64((*uint64)(unsafe.Pointer(&mem[offMagic]))) != ringMagic {
		return nil, fmt.Errorf("attach ring: %w: memory does not hold a ring", ErrBadParameter)
	}
	c := *(*uint64)(unsafe.Pointer(&mem[offCap]))
	if c == 0 || c&(c-1) != 0 || uint64(len(mem)) < ringHeaderSize+c {
		return nil, fmt.Errorf("attach ring: %w: bad capacity %d for %d bytes", ErrBadParameter, c, len(mem))
	}
	p := unsafe.Pointer(&mem[0])
	r := &Ring{
		mem:     mem,
		data:    unsafe.Add(p, ringHeaderSize),
		cap:     c,
		mask:    c - 1,
		maxMsg:  int(c/2) - recordHead,
		wait:    w,
		tail:    (*uint64)(unsafe.Add(p, offTail)),
		head:    (*uint64)(unsafe.Add(p, offHead)),
		cSleep:  (*uint32)(unsafe.Add(p, offConsSleep)),
		pSleep:  (*uint32)(unsafe.Add(p, offProdSleep)),
		closed:  (*uint32)(unsafe.Add(p, offClosed)),
		prodPID: (*int32)(unsafe.Add(p, offProdPID)),
		consPID: (*int32)(unsafe.Add(p, offConsPID)),
	}
	r.ptail = atomic.LoadUint64(r.tail)
	r.chead = atomic.LoadUint64(r.head)
	r.cachedHead, r.cachedTail = r.chead, r.ptail
	return r, nil
}

// Capacity is the size of the data area in bytes (a power of two).
func (r *Ring) Capacity() int { return int(r.cap) }

// MaxMessage is the largest message the ring accepts: half the capacity
// less the record header, so that a message always fits after a wrap.
func (r *Ring) MaxMessage() int { return r.maxMsg }

func (r *Ring) at(pos uint64) unsafe.Pointer { return unsafe.Add(r.data, pos) }

func recordSize(n int) uint64 { return recordHead + (uint64(n)+7)&^7 }

// TryClaim returns n bytes of ring space to write a message into, or false
// if the ring is full now. The message becomes visible at the next Commit.
func (r *Ring) TryClaim(n int) ([]byte, bool) {
	if n < 0 || n > r.maxMsg {
		return nil, false
	}
	return r.tryClaim(n)
}

// claimFast claims room for a record of rec = recordSize(n) bytes if it
// fits before the end of the ring and within the cached free space; it is
// small enough to be inlined into the caller's loop. nil: use tryClaimSlow.
func (r *Ring) claimFast(n int, rec uint64) unsafe.Pointer {
	pos := r.ptail & r.mask
	if pos+rec > r.cap || r.ptail+rec-r.cachedHead > r.cap {
		return nil
	}
	p := unsafe.Add(r.data, pos)
	*(*uint64)(p) = uint64(n)
	r.ptail += rec
	return unsafe.Add(p, recordHead)
}

func (r *Ring) tryClaim(n int) ([]byte, bool) {
	if p := r.claimFast(n, recordSize(n)); p != nil {
		return unsafe.Slice((*byte)(p), n), true
	}
	return r.tryClaimSlow(n)
}

func (r *Ring) tryClaimSlow(n int) ([]byte, bool) {
	rec := recordSize(n)
	pos := r.ptail & r.mask
	need := rec
	if pos+rec > r.cap {
		need += r.cap - pos
	}
	if r.ptail+need-r.cachedHead > r.cap {
		r.cachedHead = atomic.LoadUint64(r.head)
		if r.ptail+need-r.cachedHead > r.cap {
			return nil, false
		}
	}
	if pos+rec > r.cap {
		*(*uint64)(r.at(pos)) = wrapMark
		r.ptail += r.cap - pos
		pos = 0
	}
	*(*uint64)(r.at(pos)) = uint64(n)
	r.ptail += rec
	return unsafe.Slice((*byte)(r.at(pos+recordHead)), n), true
}

// Claim is TryClaim that waits for room, publishing what was claimed before
// it waits. It fails with ErrMessageTooLarge if n > MaxMessage.
func (r *Ring) Claim(ctx context.Context, n int) ([]byte, error) {
	if n < 0 || n > r.maxMsg {
		return nil, fmt.Errorf("claim %d bytes in ring: %w: the ring's limit is %d bytes (capacity %d / 2 - %d)", n, ErrMessageTooLarge, r.maxMsg, r.cap, recordHead)
	}
	if b, ok := r.tryClaim(n); ok {
		return b, nil
	}
	r.Commit()
	if r.wait == Spin || r.wait == Adaptive {
		for range shortSpin {
			cpuRelax()
			if b, ok := r.tryClaim(n); ok {
				return b, nil
			}
		}
	}
	if atomic.LoadInt32(r.prodPID) == 0 {
		atomic.StoreInt32(r.prodPID, int32(os.Getpid()))
	}
	var b []byte
	err := r.waitFor(ctx, r.pSleep, r.head, r.consPID, 2, func() bool {
		var ok bool
		b, ok = r.tryClaim(n)
		return ok
	})
	return b, err
}

// Commit publishes every message claimed since the last Commit.
func (r *Ring) Commit() {
	if r.wait == Spin || r.wait == Yield {
		storeRelease(r.tail, r.ptail)
		return
	}
	// A sleeping consumer must be woken: the store of the tail and the load of
	// its flag must not be reordered, hence a full barrier (XCHG).
	atomic.StoreUint64(r.tail, r.ptail)
	if atomic.LoadUint32(r.cSleep) != 0 {
		r.calls.Add(1)
		futexWake((*uint32)(unsafe.Pointer(r.tail)), 1)
	}
}

// TryNext returns the next message in place, or false if the ring is empty
// now. The bytes stay valid until Release.
func (r *Ring) TryNext() ([]byte, bool) {
	b, ok, _ := r.tryNext()
	return b, ok
}

// nextFast returns the next message if one is known to be committed and it
// does not start with a wrap marker; small enough to be inlined. nil: use
// tryNextSlow.
func (r *Ring) nextFast() (unsafe.Pointer, int) {
	if r.chead == r.cachedTail {
		return nil, 0
	}
	p := unsafe.Add(r.data, r.chead&r.mask)
	h := *(*uint64)(p)
	if h > uint64(r.maxMsg) {
		return nil, 0
	}
	r.chead += recordSize(int(h))
	return unsafe.Add(p, recordHead), int(h)
}

func (r *Ring) tryNext() ([]byte, bool, error) {
	if p, n := r.nextFast(); p != nil {
		return unsafe.Slice((*byte)(p), n), true, nil
	}
	return r.tryNextSlow()
}

func (r *Ring) tryNextSlow() ([]byte, bool, error) {
	for {
		if r.chead == r.cachedTail {
			r.cachedTail = atomic.LoadUint64(r.tail)
			if r.chead == r.cachedTail {
				return nil, false, nil
			}
		}
		pos := r.chead & r.mask
		h := *(*uint64)(r.at(pos))
		if h == wrapMark {
			r.chead += r.cap - pos
			continue
		}
		if h > uint64(r.maxMsg) {
			return nil, false, fmt.Errorf("read ring: corrupt record header %#x at %d", h, pos)
		}
		r.chead += recordSize(int(h))
		return unsafe.Slice((*byte)(r.at(pos+recordHead)), int(h)), true, nil
	}
}

// Next is TryNext that waits for a message, releasing what was read before
// it waits. It returns io.EOF when the producer has closed its end and
// everything it sent has been read.
func (r *Ring) Next(ctx context.Context) ([]byte, error) {
	if b, ok, err := r.tryNext(); ok || err != nil {
		return b, err
	}
	r.Release()
	if r.wait == Spin || r.wait == Adaptive {
		// A short wait ends here, without waitFor's set-up: in a spinning
		// ping-pong the reply comes within a few hundred nanoseconds.
		for range shortSpin {
			cpuRelax()
			if b, ok, err := r.tryNext(); ok || err != nil {
				return b, err
			}
		}
	}
	if atomic.LoadInt32(r.consPID) == 0 {
		atomic.StoreInt32(r.consPID, int32(os.Getpid()))
	}
	var b []byte
	var rerr error
	err := r.waitFor(ctx, r.cSleep, r.tail, r.prodPID, 1, func() bool {
		var ok bool
		b, ok, rerr = r.tryNext()
		return ok || rerr != nil
	})
	if err == nil {
		err = rerr
	}
	return b, err
}

// Release gives back the space of every message read since the last Release.
func (r *Ring) Release() {
	if r.wait == Spin || r.wait == Yield {
		storeRelease(r.head, r.chead)
		return
	}
	atomic.StoreUint64(r.head, r.chead)
	if atomic.LoadUint32(r.pSleep) != 0 {
		r.calls.Add(1)
		futexWake((*uint32)(unsafe.Pointer(r.head)), 1)
	}
}

// Send copies msg into the ring and publishes it.
func (r *Ring) Send(ctx context.Context, msg []byte) error {
	b, err := r.Claim(ctx, len(msg))
	if err != nil {
		return err
	}
	copyBig(b, msg)
	r.Commit()
	return nil
}

// Recv copies the next message into buf and releases it. If buf is too
// small the message stays in the ring and ErrMessageTooLarge is returned.
func (r *Ring) Recv(ctx context.Context, buf []byte) (int, error) {
	start := r.chead
	b, err := r.Next(ctx)
	if err != nil {
		return 0, err
	}
	if len(b) > len(buf) {
		r.chead = start
		return 0, fmt.Errorf("receive %d-byte message from ring: %w: buffer has %d bytes", len(b), ErrMessageTooLarge, len(buf))
	}
	n := copyBig(buf, b)
	r.Release()
	return n, nil
}

// CloseSend marks the producer end closed; the consumer's Next returns
// io.EOF after the last message.
func (r *Ring) CloseSend() { r.Commit(); r.markClosed(1) }

// CloseRecv marks the consumer end closed; a waiting producer gets an error.
func (r *Ring) CloseRecv() { r.Release(); r.markClosed(2) }

func (r *Ring) markClosed(bit uint32) {
	for {
		old := atomic.LoadUint32(r.closed)
		if atomic.CompareAndSwapUint32(r.closed, old, old|bit) {
			break
		}
	}
	futexWake((*uint32)(unsafe.Pointer(r.tail)), 1)
	futexWake((*uint32)(unsafe.Pointer(r.head)), 1)
}

// PeerDied tells a waiting end that the other side is gone (the harness
// calls it when it sees a child process exit); waits then fail with
// ErrPeerDied.
func (r *Ring) PeerDied() {
	r.peerDead.Store(true)
	futexWake((*uint32)(unsafe.Pointer(r.tail)), 1)
	futexWake((*uint32)(unsafe.Pointer(r.head)), 1)
}

// waitFor waits with the ring's strategy until ready() is true. sleepFlag is
// this side's "I am sleeping" word, peerIdx the index the peer advances
// (whose low 32 bits are the futex word), peerPID where the peer records its
// PID, peerClosedBit the bit of the closed word the peer sets.
func (r *Ring) waitFor(ctx context.Context, sleepFlag *uint32, peerIdx *uint64, peerPID *int32, peerClosedBit uint32, ready func() bool) error {
	futexWord := (*uint32)(unsafe.Pointer(peerIdx))
	done := ctx.Done()
	var lastCheck time.Time
	var intr interruptWatch
	check := func() error {
		if err := intr.err(); err != nil {
			return fmt.Errorf("ring: %w", err)
		}
		if atomic.LoadUint32(r.closed)&peerClosedBit != 0 {
			if ready() {
				return nil
			}
			if peerClosedBit == 1 {
				return io.EOF
			}
			return fmt.Errorf("ring: %w: the consumer closed its end", ErrPeerDied)
		}
		if r.peerDead.Load() {
			return fmt.Errorf("ring: %w", ErrPeerDied)
		}
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		if now := time.Now(); now.Sub(lastCheck) > 50*time.Millisecond {
			lastCheck = now
			if pid := atomic.LoadInt32(peerPID); pid != 0 && int(pid) != os.Getpid() && !proctab.Alive(int(pid)) {
				return fmt.Errorf("ring: %w: process %d is gone", ErrPeerDied, pid)
			}
		}
		return errNotYet
	}
	var start, waited int64
	if r.wait == Adaptive {
		start = nanotime()
		if r.spinNs == 0 {
			r.spinNs = adaptiveMaxSpin
		}
		defer func() { r.adapt(nanotime() - start) }()
	}
	for i := 0; ; i++ {
		if ready() {
			return nil
		}
		strategy := r.wait
		if strategy == Adaptive {
			if i&15 == 15 {
				waited = nanotime() - start
			}
			switch {
			case waited < r.spinNs:
				strategy = Spin
			case waited < adaptiveYield:
				strategy = Yield
			default:
				strategy = Futex
			}
		}
		switch strategy {
		case Spin:
			cpuRelax()
			if i&1023 != 1023 {
				continue
			}
		case Yield:
			r.calls.Add(1)
			schedYield()
			if i&31 != 31 {
				continue
			}
		case Futex:
			atomic.StoreUint32(sleepFlag, 1)
			v := atomic.LoadUint32(futexWord)
			if ready() {
				atomic.StoreUint32(sleepFlag, 0)
				return nil
			}
			if atomic.LoadUint32(r.closed) == 0 && !r.peerDead.Load() {
				r.calls.Add(1)
				futexWait(futexWord, v, 50*time.Millisecond)
			}
			atomic.StoreUint32(sleepFlag, 0)
		}
		if err := check(); err != errNotYet {
			return err
		}
	}
}

var errNotYet = fmt.Errorf("not yet")

// adapt sets the next Adaptive spin phase from how long the last wait took.
// A wait that a full spin phase would have ended (a spinning peer's reply,
// a round trip on a quiet machine) asks for a longer spin, even when this
// one was too short to catch it; only a longer wait, where spinning burns a
// CPU the peer may need, shortens the spin.
func (r *Ring) adapt(waited int64) {
	if waited <= adaptiveMaxSpin {
		r.spinNs = min(adaptiveMaxSpin, 2*r.spinNs)
	} else {
		r.spinNs = max(adaptiveMinSpin, r.spinNs/2)
	}
}
