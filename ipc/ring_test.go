package ipc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ringMem returns page-aligned memory for a ring of the given capacity.
func ringMem(t testing.TB, capacity int) []byte {
	t.Helper()
	mem, err := unix.Mmap(-1, 0, RingBytes(capacity), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	return mem
}

func ringPair(t testing.TB, capacity int, w Wait) (prod, cons *Ring) {
	t.Helper()
	mem := ringMem(t, capacity)
	prod, err := NewRing(mem, w)
	if err != nil {
		t.Fatal(err)
	}
	cons, err = AttachRing(mem, w)
	if err != nil {
		t.Fatal(err)
	}
	return prod, cons
}

func TestRingLimits(t *testing.T) {
	prod, _ := ringPair(t, 4096, Spin)
	if got := prod.Capacity(); got != 4096 {
		t.Fatalf("capacity %d, want 4096", got)
	}
	if got, want := prod.MaxMessage(), 4096/2-8; got != want {
		t.Fatalf("max message %d, want %d", got, want)
	}
	_, err := prod.Claim(context.Background(), prod.MaxMessage()+1)
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("claim beyond the limit: %v, want ErrMessageTooLarge", err)
	}
	if _, ok := prod.TryClaim(-1); ok {
		t.Fatal("TryClaim(-1) succeeded")
	}
	if _, err := NewRing(make([]byte, 10), Spin); !errors.Is(err, ErrBadParameter) {
		t.Fatalf("tiny ring: %v", err)
	}
	if _, err := AttachRing(make([]byte, 4096), Spin); !errors.Is(err, ErrBadParameter) {
		t.Fatalf("attach to unformatted memory: %v", err)
	}
	if _, err := AttachRing(ringMem(t, 4096), "sleepy"); !errors.Is(err, ErrBadParameter) {
		t.Fatalf("bad wait strategy: %v", err)
	}
}

// TestRingFillAndWrap fills the ring to the brim with odd sizes so that
// messages wrap around the end many times, in batches.
func TestRingFillAndWrap(t *testing.T) {
	prod, cons := ringPair(t, 1024, Spin)
	src := newSource(1024)
	seq, want := uint32(0), uint32(0)
	for round := 0; round < 200; round++ {
		n := 0
		for {
			size := HeaderSize + (round*7+n*13)%300
			m, ok := prod.TryClaim(size)
			if !ok {
				break
			}
			src.fill(m, seq)
			seq++
			n++
		}
		if n == 0 {
			t.Fatalf("round %d: could not claim anything in an empty ring", round)
		}
		if _, ok := cons.TryNext(); ok {
			t.Fatal("consumer saw uncommitted messages")
		}
		prod.Commit()
		for i := 0; i < n; i++ {
			m, ok := cons.TryNext()
			if !ok {
				t.Fatalf("round %d: message %d of %d missing", round, i, n)
			}
			if s, ok := check(m); !ok || s != want {
				t.Fatalf("round %d: got seq %d ok=%v, want %d", round, s, ok, want)
			}
			want++
		}
		if _, ok := cons.TryNext(); ok {
			t.Fatal("extra message")
		}
		cons.Release()
	}
}

func TestRingCloseAndPeerDeath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, w := range []Wait{Spin, Yield, Futex, Adaptive} {
		t.Run(string(w), func(t *testing.T) {
			prod, cons := ringPair(t, 4096, w)
			if err := prod.Send(ctx, []byte("last words")); err != nil {
				t.Fatal(err)
			}
			prod.CloseSend()
			buf := make([]byte, 64)
			if n, err := cons.Recv(ctx, buf); err != nil || string(buf[:n]) != "last words" {
				t.Fatalf("Recv = %q, %v", buf[:n], err)
			}
			if _, err := cons.Recv(ctx, buf); err != io.EOF {
				t.Fatalf("after the producer closed: %v, want io.EOF", err)
			}

			prod, cons = ringPair(t, 4096, w)
			go func() { time.Sleep(20 * time.Millisecond); cons.PeerDied() }()
			if _, err := cons.Next(ctx); !errors.Is(err, ErrPeerDied) {
				t.Fatalf("waiting consumer: %v, want ErrPeerDied", err)
			}
			short, c2 := context.WithTimeout(ctx, 20*time.Millisecond)
			defer c2()
			for {
				if _, ok := prod.TryClaim(1000); !ok {
					break
				}
			}
			if _, err := prod.Claim(short, 1000); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("producer on a full ring: %v, want deadline exceeded", err)
			}
		})
	}
}

// TestRingConcurrent streams random-size messages between two goroutines
// with every wait strategy and checks each one.
func TestRingConcurrent(t *testing.T) {
	for _, w := range []Wait{Spin, Yield, Futex, Adaptive} {
		t.Run(string(w), func(t *testing.T) {
			// Spinning goroutines hand over only when the OS runs both
			// threads: on a 2-CPU machine with a load of 30 (seen while
			// eight engineers shared it), under -race, that took over 20 s.
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			prod, cons := ringPair(t, 8192, w)
			const n = 20000
			src := newSource(4096)
			var wg sync.WaitGroup
			wg.Add(1)
			var perr error
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(1, 2))
				for i := range n {
					m, err := prod.Claim(ctx, sizeOf(i))
					if err != nil {
						perr = err
						return
					}
					src.fill(m, uint32(i))
					if r.IntN(4) == 0 {
						prod.Commit()
					}
				}
				prod.CloseSend()
			}()
			var tl tally
			for {
				m, err := cons.Next(ctx)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				tl.see(m, sizeOf(int(tl.next)))
				if tl.got%3 == 0 {
					cons.Release()
				}
			}
			wg.Wait()
			if perr != nil {
				t.Fatal(perr)
			}
			if tl.got != n || tl.lost != 0 || tl.corrupt != 0 {
				t.Fatalf("got %d lost %d corrupt %d, want %d 0 0", tl.got, tl.lost, tl.corrupt, n)
			}
		})
	}
}

// sizeOf is the size of message i in TestRingConcurrent: 8 … 3007 bytes.
func sizeOf(i int) int { return HeaderSize + int(uint32(i)*2654435761>>8)%3000 }

// FuzzRing drives a ring from one goroutine with sizes, commit points and
// release points taken from the input, and checks FIFO order and content
// against a model queue.
func FuzzRing(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})
	f.Add([]byte{255, 255, 255, 255, 128, 7})
	f.Add(bytes.Repeat([]byte{0x41, 0x80, 0xC3}, 40))
	f.Fuzz(func(t *testing.T, ops []byte) {
		prod, cons := ringPair(t, 1024, Spin)
		var model [][]byte // committed, unread
		var pending [][]byte
		var read int
		seq := byte(0)
		for _, op := range ops {
			switch op >> 6 {
			case 0, 1: // claim op&127 * 4 bytes (0..508)
				size := int(op&127) * 4
				m, ok := prod.TryClaim(size)
				if size > prod.MaxMessage() {
					if ok {
						t.Fatalf("claimed %d bytes, beyond the limit %d", size, prod.MaxMessage())
					}
					continue
				}
				if !ok {
					// Full: only possible if the unreleased data plus this record
					// (plus padding at a wrap) does not fit.
					if len(model)+len(pending)+read == 0 {
						t.Fatalf("claim of %d bytes failed on an empty ring", size)
					}
					continue
				}
				for i := range m {
					m[i] = seq + byte(i)
				}
				pending = append(pending, append([]byte(nil), m...))
				seq++
			case 2: // commit
				prod.Commit()
				model = append(model, pending...)
				pending = nil
			case 3: // read op&15 messages, then release if bit 4
				for k := 0; k < int(op&15); k++ {
					m, ok := cons.TryNext()
					if !ok {
						if len(model) != 0 {
							t.Fatalf("ring empty but %d committed messages unread", len(model))
						}
						break
					}
					if len(model) == 0 {
						t.Fatalf("read a message that was never committed")
					}
					if !bytes.Equal(m, model[0]) {
						t.Fatalf("read %d bytes %x…, want %d bytes", len(m), m[:min(4, len(m))], len(model[0]))
					}
					model = model[1:]
					read++
				}
				if op&16 != 0 {
					cons.Release()
					read = 0
				}
			}
		}
		prod.Commit()
		model = append(model, pending...)
		for len(model) > 0 {
			m, ok := cons.TryNext()
			if !ok || !bytes.Equal(m, model[0]) {
				t.Fatalf("draining: ok=%v, mismatch with %d left", ok, len(model))
			}
			model = model[1:]
		}
		if _, ok := cons.TryNext(); ok {
			t.Fatal("ring has more messages than were sent")
		}
	})
}

// TestAdaptiveSpinRecovers: a round trip just longer than a short spin
// phase must lengthen it (a quiet ping-pong converges to spinning), and
// only waits longer than the longest spin shorten it. Before, every wait
// that outlasted the spin halved it, so a 1 µs round trip held the spin at
// its 250 ns floor and every wait went on to sched_yield.
func TestAdaptiveSpinRecovers(t *testing.T) {
	r := &Ring{wait: Adaptive, spinNs: adaptiveMinSpin}
	for range 5 {
		r.adapt(1000) // 1 µs: a spinning peer's reply
	}
	if r.spinNs != adaptiveMaxSpin {
		t.Fatalf("after five 1 µs waits the spin phase is %d ns, want %d", r.spinNs, adaptiveMaxSpin)
	}
	for range 5 {
		r.adapt(200_000) // 200 µs: the peer was not running
	}
	if r.spinNs != adaptiveMinSpin {
		t.Fatalf("after five 200 µs waits the spin phase is %d ns, want %d", r.spinNs, adaptiveMinSpin)
	}
}
