package ipc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"runtime"
	"time"
	"unsafe"
)

// The harness protocol. The driver (producer, and pinger in PingPong mode)
// and the peer (consumer, echoer) share a transport and a control channel.
// For each timed run the driver sends a command; the peer answers "ready",
// runs the loop, and answers "done" with what it counted. The peer is a
// child process, a goroutine (in-process transports), or a remote worker.

const harnessRole = "harness"

type command struct {
	Op    string `json:"op"` // stream, pingpong
	Count int64  `json:"count"`
	Size  int    `json:"size"`
	// ZeroCopy: a ring consumer checks each message in place instead of
	// copying it into its own memory first (Options.ZeroCopy).
	ZeroCopy bool `json:"zero_copy,omitempty"`
}

// The stream producer asks for ring lines prefetchAhead bytes ahead of
// where it writes, prefetchStep bytes at a time.
const (
	prefetchAhead = 2048
	prefetchStep  = 512
)

// ringBatch is how many bytes a ring end writes (or reads) before it
// publishes its index; publishing less often means fewer cache-line
// transfers between the cores.
func ringBatch(r *Ring) uint64 { return min(uint64(r.Capacity())/8, 16<<10) }

// serveHarness runs the peer side until the control channel closes.
//
// Like for like: whatever the transport, the consumer brings every byte of
// every message into its own buffer (from a ring: a copy, as a reader that
// keeps the data would make; from a descriptor: the read itself) and
// verifies the checksum, which covers every byte, on that copy. Only
// cmd.ZeroCopy lets a ring consumer check the message in place.
func serveHarness(ctx context.Context, ctl *control, c Conn) error {
	out, in, isRing := RingsOf(c)
	locked := threadLocked(c)
	if locked { // so that RUSAGE_THREAD describes the loop
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	var buf []byte
	for {
		var cmd command
		if err := ctl.recv(&cmd); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) {
				return nil
			}
			return fmt.Errorf("read command: %w", err)
		}
		if cmd.Size < HeaderSize || cmd.Count < 1 {
			return fmt.Errorf("bad command %+v", cmd)
		}
		if len(buf) < cmd.Size {
			buf = make([]byte, cmd.Size)
		}
		var t tally
		if err := ctl.send(report{Op: "ready"}); err != nil {
			return err
		}
		u0 := sideUsage(c, locked)
		unblock := func() {}
		if locked { // one blocking call per message, as in C (blocking.go)
			unblock = blockOn(c)
		}
		var err error
		switch {
		case cmd.Op == "stream" && isRing:
			err = ringConsume(ctx, in, cmd, &t, buf)
		case cmd.Op == "stream":
			for int64(t.next) < cmd.Count && err == nil {
				var n int
				if n, err = c.Recv(ctx, buf); err == nil {
					t.see(buf[:n], cmd.Size)
				}
			}
		case cmd.Op == "pingpong" && isRing:
			err = ringEcho(ctx, out, in, cmd, &t, buf)
		case cmd.Op == "pingpong":
			for int64(t.next) < cmd.Count && err == nil {
				var n int
				if n, err = c.Recv(ctx, buf); err == nil {
					t.see(buf[:n], cmd.Size)
					err = c.Send(ctx, buf[:n])
				}
			}
		default:
			err = fmt.Errorf("unknown command %q", cmd.Op)
		}
		unblock()
		if err != nil {
			return fmt.Errorf("%s of %d-byte messages after %d: %w", cmd.Op, cmd.Size, t.got, err)
		}
		u := sideUsage(c, locked).since(u0)
		if err := ctl.send(report{Op: "done", Got: t.got, Lost: t.lost, Corrupt: t.corrupt, Cost: &u}); err != nil {
			return err
		}
	}
}

// ringConsume is the consumer's hot loop. Each message is copied into buf
// and checked there, unless cmd.ZeroCopy: messages up to smallMessage by
// consumeFused (copy and checksum in one loop, no call per message); bigger
// ones, wraps and waits here, with the ring's fast path written out (the Go
// compiler will not inline it; the C probe's compiler inlines the same code).
func ringConsume(ctx context.Context, in *Ring, cmd command, t *tally, buf []byte) error {
	batch := ringBatch(in)
	mark := in.chead
	size := cmd.Size
	zero := cmd.ZeroCopy
	perCall := int64(batch/recordSize(size)) + 1
	for int64(t.next) < cmd.Count {
		if !zero && size > HeaderSize && size <= smallMessage && size <= len(buf) {
			consumeFused(in, buf, t, min(cmd.Count, int64(t.next)+perCall), size)
			if in.chead-mark >= batch {
				in.Release()
				mark = in.chead
			}
			if int64(t.next) >= cmd.Count {
				break
			}
		}
		var m []byte
		if p, n := in.nextFast(); p != nil {
			m = unsafe.Slice((*byte)(p), n)
		} else {
			var ok bool
			var err error
			if m, ok, err = in.tryNextSlow(); !ok && err == nil {
				m, err = in.Next(ctx) // releases before it waits
				mark = in.chead - recordSize(len(m))
			}
			if err != nil {
				return err
			}
		}
		if !zero && len(m) <= len(buf) {
			if len(m) < 16<<10 {
				m = buf[:copy(buf, m)]
			} else {
				m = buf[:copyBig(buf, m)]
			}
		}
		if len(m) == size && binary.LittleEndian.Uint32(m) == t.next &&
			binary.LittleEndian.Uint32(m[4:]) == uint32(sum64(uint64(t.next)<<32|uint64(uint32(size)), m[HeaderSize:])) {
			t.got++
			t.next++
		} else {
			t.see(m, size)
		}
		if in.chead-mark >= batch {
			in.Release()
			mark = in.chead
		}
	}
	in.Release()
	return nil
}

// ringEcho receives each message (into buf unless cmd.ZeroCopy), checks it
// and sends it back.
func ringEcho(ctx context.Context, out, in *Ring, cmd command, t *tally, buf []byte) error {
	for int64(t.next) < cmd.Count {
		m, err := in.Next(ctx)
		if err != nil {
			return err
		}
		if !cmd.ZeroCopy && len(m) <= len(buf) {
			m = buf[:copyBig(buf, m)]
			in.Release()
		}
		t.see(m, cmd.Size)
		b, err := out.Claim(ctx, len(m))
		if err != nil {
			return err
		}
		copyBig(b, m)
		out.Commit()
		if cmd.ZeroCopy {
			in.Release()
		}
	}
	return nil
}

// ---- the driver side

// testHookProduced, set by tests, sees (and may spoil) each stream message
// after the producer wrote it and before it is sent.
var testHookProduced func(seq uint32, m []byte)

// trialResult is what one timed run measured.
type trialResult struct {
	elapsed  time.Duration
	got      int64
	lost     int64
	corrupt  int64
	hist     *histogram // PingPong only
	producer usage      // the driver's side (producer, pinger)
	consumer usage      // the peer's side, as it reported
}

// peer is the far side as the driver sees it.
type peer struct {
	conn   Conn
	ctl    *control
	next   func(ctx context.Context, timeout time.Duration) (report, error)
	dead   <-chan struct{}
	died   func() error
	close  func() error
	pid    int
	remote bool
}

// runTrial sends count messages of size bytes and returns the measurement.
func (p *peer) runTrial(ctx context.Context, mode Mode, count int64, size int, src source, pinCPU int, zeroCopy bool) (trialResult, error) {
	var res trialResult
	op := "stream"
	if mode == PingPong {
		op = "pingpong"
	}
	if err := p.ctl.send(command{Op: op, Count: count, Size: size, ZeroCopy: zeroCopy}); err != nil {
		return res, p.explain(fmt.Errorf("send command: %w", err))
	}
	if r, err := p.next(ctx, 30*time.Second); err != nil || r.Op != "ready" {
		return res, p.explain(fmt.Errorf("wait for the peer to get ready: %w", orOp(err, r)))
	}
	// The send loop runs in its own goroutine so that the driver notices a
	// peer that dies or hangs while a send blocks.
	type loopResult struct {
		t0, t1 time.Time
		t      tally
		hist   *histogram
		use    usage
		err    error
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan loopResult, 1)
	go func() {
		var lr loopResult
		locked := threadLocked(p.conn)
		if locked || pinCPU >= 0 { // RUSAGE_THREAD must describe the loop
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		if pinCPU >= 0 {
			pin(pinCPU)
			defer unpin()
		}
		unblock := func() {}
		if locked {
			unblock = blockOn(p.conn)
		}
		u0 := sideUsage(p.conn, locked)
		lr.t0 = time.Now()
		if mode == PingPong {
			lr.hist = newHistogram()
			lr.err = p.pingLoop(lctx, count, size, src, &lr.t, lr.hist, zeroCopy)
		} else {
			lr.err = p.streamLoop(lctx, count, size, src)
		}
		lr.t1 = time.Now()
		lr.use = sideUsage(p.conn, locked).since(u0)
		unblock() // before the next trial can start on the same Conn
		ch <- lr
	}()
	var lr loopResult
	select {
	case lr = <-ch:
	case <-p.dead:
		cancel()
		lr = <-ch
		if lr.err == nil {
			lr.err = p.died()
		}
	}
	if lr.err != nil {
		if !errors.Is(lr.err, ErrPeerDied) && ctx.Err() == nil {
			// A transport error (EOF, EPIPE, ECONNRESET) often arrives just
			// before the exit of the peer is seen: give it a moment.
			t := time.NewTimer(2 * time.Second)
			select {
			case <-p.dead:
			case <-t.C:
			}
			t.Stop()
		}
		return res, p.explain(fmt.Errorf("%s of %d messages of %d bytes: %w", op, count, size, lr.err))
	}
	// Wait for the peer's count; allow generously for a slow consumer.
	sent := lr.t1.Sub(lr.t0)
	r, err := p.next(ctx, max(10*time.Second, 20*sent))
	if err != nil || r.Op != "done" {
		return res, p.explain(fmt.Errorf("wait for the peer's count after %s of %d messages: %w", op, count, orOp(err, r)))
	}
	res.elapsed = time.Since(lr.t0)
	if mode == PingPong {
		res.elapsed = sent // every message's echo has come back
	}
	res.got = r.Got
	res.lost = r.Lost + lr.t.lost
	res.corrupt = r.Corrupt + lr.t.corrupt
	res.hist = lr.hist
	res.producer = lr.use
	if r.Cost != nil {
		res.consumer = *r.Cost
	}
	return res, nil
}

func orOp(err error, r report) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("unexpected %q", r.Op)
}

func (p *peer) explain(err error) error {
	select {
	case <-p.dead:
		if !errors.Is(err, ErrPeerDied) {
			return fmt.Errorf("%w: %w", p.died(), err)
		}
	default:
	}
	return err
}

func (p *peer) streamLoop(ctx context.Context, count int64, size int, src source) error {
	if out, _, ok := RingsOf(p.conn); ok {
		// The producer's hot loop: claim in place, copy the payload from
		// the (cache-hot) source and sum it as it goes (fused.go), stamp;
		// publish every batch; ask for the ring's lines ahead of the stores.
		batch := ringBatch(out)
		mark := out.ptail
		pf := out.ptail
		rec := recordSize(size)
		perCall := max(1, int64(prefetchStep/rec)) // messages between prefetches
		put := func(m []byte, seq uint32) {
			src.fill(m, seq)
			if testHookProduced != nil {
				testHookProduced(seq, m)
			}
		}
		for i := int64(0); i < count; {
			j := i
			if size > HeaderSize && size <= smallMessage {
				j = produceFused(out, src, i, min(count, i+perCall), size)
			} else if ptr := out.claimFast(size, rec); ptr != nil {
				put(unsafe.Slice((*byte)(ptr), size), uint32(i))
				j = i + 1
			}
			if j == i { // no room without waiting, or the record wraps
				m, err := out.Claim(ctx, size) // commits before it waits
				if err != nil {
					return err
				}
				put(m, uint32(i))
				j = i + 1
				mark = out.ptail - rec
			}
			i = j
			if out.ptail-mark >= batch {
				out.Commit()
				mark = out.ptail
				if ctx.Err() != nil { // a consumer that keeps up never makes Claim wait
					return ctx.Err()
				}
			}
			if out.ptail >= pf { // claim the next lines ahead of the stores
				pos := (out.ptail + prefetchAhead) & out.mask
				prefetchWrite(out.at(pos), uintptr(min(prefetchStep, out.cap-pos)))
				pf = out.ptail + prefetchStep
			}
		}
		out.Commit()
		return nil
	}
	buf := make([]byte, size)
	for i := int64(0); i < count; i++ {
		src.fill(buf, uint32(i))
		if testHookProduced != nil {
			testHookProduced(uint32(i), buf)
		}
		if err := p.conn.Send(ctx, buf); err != nil {
			return err
		}
		if i&1023 == 1023 && ctx.Err() != nil { // a Send that cannot block (zmq) still stops
			return ctx.Err()
		}
	}
	return nil
}

func (p *peer) pingLoop(ctx context.Context, count int64, size int, src source, t *tally, h *histogram, zeroCopy bool) error {
	if out, in, ok := RingsOf(p.conn); ok {
		rbuf := make([]byte, size)
		for i := int64(0); i < count; i++ {
			t0 := nanotime()
			m, err := out.Claim(ctx, size)
			if err != nil {
				return err
			}
			src.fill(m, uint32(i))
			out.Commit()
			r, err := in.Next(ctx)
			if err != nil {
				return err
			}
			if !zeroCopy && len(r) <= len(rbuf) { // like a read(2) into rbuf
				r = rbuf[:copyBig(rbuf, r)]
			}
			t.see(r, size)
			in.Release()
			h.add(time.Duration(nanotime() - t0))
		}
		return nil
	}
	buf := make([]byte, size)
	rbuf := make([]byte, size)
	for i := int64(0); i < count; i++ {
		t0 := nanotime()
		src.fill(buf, uint32(i))
		if err := p.conn.Send(ctx, buf); err != nil {
			return err
		}
		n, err := p.conn.Recv(ctx, rbuf)
		if err != nil {
			return err
		}
		t.see(rbuf[:n], size)
		h.add(time.Duration(nanotime() - t0))
	}
	return nil
}

// ---- latency histogram: log-linear buckets, 1/64 relative precision.

const histSub = 64

type histogram struct {
	counts [64 * histSub]int64
	n      int64
	max    time.Duration
}

func newHistogram() *histogram { return &histogram{} }

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 7 // v>>e is in [64, 128)
	return (e+1)*histSub + int(v>>e) - histSub
}

func histValue(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := i/histSub - 1
	m := uint64(i%histSub + histSub)
	return m<<e + (uint64(1)<<e)/2 // bucket middle
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d))]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 <= q <= 1).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return h.max
	}
	rank := int64(q*float64(h.n-1)) + 1
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(histValue(i)), h.max)
		}
	}
	return h.max
}
