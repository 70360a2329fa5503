package ipc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// Counting is how the processes of CountTogether update their counter.
type Counting string

const (
	// Unsynchronised: load, add one, store — two processes interleave and
	// overwrite each other's updates, which are lost.
	Unsynchronised Counting = "none"
	// Atomic: one atomic add (LOCK XADD) per update.
	Atomic Counting = "atomic"
	// Locked: load, add, store under a futex Mutex in the same segment.
	Locked Counting = "mutex"
	// Messages: the processes send "+n" messages over a pipe to the owner
	// of the counter, which alone writes it: no shared writes at all.
	Messages Counting = "messages"
)

// CounterResult is what CountTogether observed.
type CounterResult struct {
	Counting   Counting
	Procs      int
	Increments int           // per process
	Want       int64         // Procs × Increments
	Got        int64         // the counter at the end
	Lost       int64         // Want - Got
	Elapsed    time.Duration // from "go" until every process finished
	// Overlap is the share (0…1) of the counting time (of the quickest
	// process, step by step) during which all the processes were running:
	// the race can only lose updates while they overlap. Overlapped is Overlap ≥ MinOverlap; when it is
	// false, Note says that the run shows little (the processes did not
	// really run together), whatever Lost is.
	Overlap    float64
	Overlapped bool
	Note       string
}

// MinOverlap is the share of their counting time that the processes of
// CountTogether must spend counting together for the run to show the race.
const MinOverlap = 0.25

// counterSteps is how many steps the increments are made in: the
// processes meet at a barrier between steps, so that each step starts with
// all of them running.
const counterSteps = 100

// The counter's segment: the counter, a Mutex, and the step barrier.
const (
	counterOffMutex   = 64
	counterOffBarrier = 128
	counterMaxProcs   = 256
)

// stepBarrier is where the processes of CountTogether meet every step: all
// arrive, the last one releases them together. To measure how much they
// really counted at the same time, every process notes when it saw the
// release (woke: the latest of these) and when it arrived at the next
// barrier (first: the earliest); the last arriver adds up, per step, the
// time all were counting (first - woke) and the counting time of the
// quickest (first - release).
type stepBarrier struct {
	count    int32
	gen      int32
	first    int64 // earliest arrival of this step (ns, monotonic)
	woke     int64 // latest time a process saw the previous release
	release  int64 // when the previous step was released
	together int64 // Σ max(0, first - woke)
	total    int64 // Σ first - release
}

// casMin and casMax store v in *p if it is smaller (larger) or *p is 0.
func casMin(p *int64, v int64) {
	for {
		o := atomic.LoadInt64(p)
		if (o != 0 && o <= v) || atomic.CompareAndSwapInt64(p, o, v) {
			return
		}
	}
}

func casMax(p *int64, v int64) {
	for {
		o := atomic.LoadInt64(p)
		if o >= v || atomic.CompareAndSwapInt64(p, o, v) {
			return
		}
	}
}

// arrive waits until procs processes have arrived.
func (b *stepBarrier) arrive(ctx context.Context, procs int32) error {
	g := atomic.LoadInt32(&b.gen)
	casMin(&b.first, nanotime())
	if atomic.AddInt32(&b.count, 1) == procs {
		if r := atomic.LoadInt64(&b.release); r != 0 {
			f := atomic.LoadInt64(&b.first)
			atomic.AddInt64(&b.together, max(0, f-atomic.LoadInt64(&b.woke)))
			atomic.AddInt64(&b.total, max(0, f-r))
		}
		now := nanotime()
		atomic.StoreInt64(&b.first, 0)
		atomic.StoreInt64(&b.release, now)
		atomic.StoreInt64(&b.woke, now)
		atomic.StoreInt32(&b.count, 0)
		atomic.AddInt32(&b.gen, 1)
		return nil
	}
	for i := 0; atomic.LoadInt32(&b.gen) == g; i++ {
		if i&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return err
			}
			schedYield()
		}
		cpuRelax()
	}
	casMax(&b.woke, nanotime())
	return nil
}

type counterArg struct {
	Increments int      `json:"increments"`
	Counting   Counting `json:"counting"`
	Batch      int      `json:"batch"`
	Procs      int      `json:"procs"`
	Index      int      `json:"index"`
	CPU        int      `json:"cpu"` // -1: not pinned
}

// CountTogether starts procs worker processes that each add one to a
// counter increments times, and reports how many updates survived. The
// counter lives in an anonymous shared mapping (a memfd) that every worker
// inherits. With Unsynchronised the workers race and lose updates; with
// Atomic or Locked none are lost; with Messages the workers send their
// counts to this process, which adds them.
//
// So that the processes really run at the same time — on a busy machine the
// scheduler would otherwise run them one after the other — each is pinned
// to a CPU of its own (when there are enough) and they count in 100 steps,
// meeting at a barrier in the shared segment between steps: every step
// starts with all of them running, and between barriers they race freely.
// The result reports how much of the time they were counting together.
func CountTogether(ctx context.Context, procs, increments int, how Counting) (CounterResult, error) {
	res := CounterResult{Counting: how, Procs: procs, Increments: increments, Want: int64(procs) * int64(increments)}
	switch how {
	case Unsynchronised, Atomic, Locked, Messages:
	default:
		return res, fmt.Errorf("count together: %w: counting %q (none, atomic, mutex, messages)", ErrBadParameter, how)
	}
	if procs < 1 || procs > counterMaxProcs || increments < 0 {
		return res, fmt.Errorf("count together: %w: %d processes (1…%d), %d increments", ErrBadParameter, procs, counterMaxProcs, increments)
	}
	ctx, release := interruptible(ctx)
	defer release()
	seg, err := CreateSegment(Anonymous, 4096)
	if err != nil {
		return res, fmt.Errorf("count together: %w", err)
	}
	defer seg.Close()
	counter, _ := View[int64](seg.Bytes())
	var peers []*Peer
	defer func() {
		for _, p := range peers {
			p.Close()
		}
	}()
	cpus := allowedCPUs()
	for i := range procs {
		a := counterArg{Increments: increments, Counting: how, Batch: 1, Procs: procs, Index: i, CPU: -1}
		if procs <= len(cpus) {
			a.CPU = cpus[i]
		}
		arg, _ := json.Marshal(a)
		p, err := Spawn(ctx, "pipe", Options{MaxMessage: 64}, "ipc-counter", arg, seg.File())
		if err != nil {
			return res, fmt.Errorf("count together: %w", err)
		}
		peers = append(peers, p)
	}
	start := time.Now()
	for _, p := range peers {
		if err := p.Conn.Send(ctx, []byte("go")); err != nil {
			return res, fmt.Errorf("count together: start worker %d: %w", p.PID(), err)
		}
	}
	buf := make([]byte, 64)
	var errs []error
	for _, p := range peers {
		for {
			n, err := p.Conn.Recv(ctx, buf)
			if err != nil {
				errs = append(errs, fmt.Errorf("worker %d: %w", p.PID(), err))
				break
			}
			var add int64
			if _, err := fmt.Sscanf(string(buf[:n]), "+%d", &add); err == nil {
				*counter += add // only this process writes in Messages mode
				continue
			}
			break // "done"
		}
	}
	res.Elapsed = time.Since(start)
	res.Got = atomic.LoadInt64(counter)
	res.Lost = res.Want - res.Got
	b, _ := View[stepBarrier](seg.Bytes()[counterOffBarrier:])
	if total := atomic.LoadInt64(&b.total); total > 0 {
		res.Overlap = float64(atomic.LoadInt64(&b.together)) / float64(total)
	}
	res.Overlapped = res.Overlap >= MinOverlap
	if !res.Overlapped && procs > 1 {
		res.Note = fmt.Sprintf("the processes counted together for only %.0f%% of the time (under %.0f%%): this run shows little about the race; run it again, with more increments, or on a less busy machine", 100*res.Overlap, 100*MinOverlap)
	}
	return res, errors.Join(errs...)
}

func init() {
	workers.m["ipc-counter"] = func(ctx context.Context, c Conn, arg []byte) error {
		var a counterArg
		if err := json.Unmarshal(arg, &a); err != nil {
			return err
		}
		files := Inherited()
		if len(files) != 1 {
			return fmt.Errorf("counter: want the segment's descriptor")
		}
		seg, err := AttachSegment(Anonymous, fmt.Sprintf("fd:%d", files[0].Fd()), 4096)
		if err != nil {
			return err
		}
		defer seg.Close()
		mem := seg.Bytes()
		counter, _ := View[int64](mem)
		mu, _ := MutexIn(mem[counterOffMutex:])
		buf := make([]byte, 64)
		if _, err := c.Recv(ctx, buf); err != nil { // "go"
			return err
		}
		if a.CPU >= 0 {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			pin(a.CPU)
		}
		barrier, _ := View[stepBarrier](mem[counterOffBarrier:])
		procs := int32(a.Procs)
		step := max(1, (a.Increments+counterSteps-1)/counterSteps)
		if a.Counting == Messages {
			// No shared writes to race; and a process waiting at a
			// barrier while this one's pipe is full would deadlock.
			procs, step = 1, max(1, a.Increments)
		}
		if err := barrier.arrive(ctx, procs); err != nil { // the start
			return err
		}
		for left := a.Increments; left > 0; {
			n := min(left, step)
			left -= n
			switch a.Counting {
			case Unsynchronised:
				for range n {
					// A load and a store, each atomic on its own (so the Go
					// compiler keeps both), but not together: the race.
					atomic.StoreInt64(counter, atomic.LoadInt64(counter)+1)
				}
			case Atomic:
				for range n {
					atomic.AddInt64(counter, 1)
				}
			case Locked:
				for range n {
					if err := mu.Lock(ctx); err != nil {
						return err
					}
					*counter++
					mu.Unlock()
				}
			case Messages:
				for n > 0 {
					k := min(n, max(a.Batch, 1))
					if err := c.Send(ctx, fmt.Appendf(nil, "+%d", k)); err != nil {
						return err
					}
					n -= k
				}
			}
			if err := barrier.arrive(ctx, procs); err != nil {
				return err
			}
		}
		return c.Send(ctx, []byte("done"))
	}
}
