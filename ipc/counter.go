package ipc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
}

type counterArg struct {
	Increments int      `json:"increments"`
	Counting   Counting `json:"counting"`
	Batch      int      `json:"batch"`
}

// CountTogether starts procs worker processes that each add one to a
// counter increments times, and reports how many updates survived. The
// counter lives in an anonymous shared mapping (a memfd) that every worker
// inherits. With Unsynchronised the workers race and lose updates; with
// Atomic or Locked none are lost; with Messages the workers send their
// counts to this process, which adds them.
func CountTogether(ctx context.Context, procs, increments int, how Counting) (CounterResult, error) {
	res := CounterResult{Counting: how, Procs: procs, Increments: increments, Want: int64(procs) * int64(increments)}
	switch how {
	case Unsynchronised, Atomic, Locked, Messages:
	default:
		return res, fmt.Errorf("count together: %w: counting %q (none, atomic, mutex, messages)", ErrBadParameter, how)
	}
	if procs < 1 || increments < 0 {
		return res, fmt.Errorf("count together: %w: %d processes, %d increments", ErrBadParameter, procs, increments)
	}
	ctx, release := interruptible(ctx)
	defer release()
	seg, err := CreateSegment(Anonymous, 4096)
	if err != nil {
		return res, fmt.Errorf("count together: %w", err)
	}
	defer seg.Close()
	counter, _ := View[int64](seg.Bytes())
	arg, _ := json.Marshal(counterArg{Increments: increments, Counting: how, Batch: 1})
	var peers []*Peer
	defer func() {
		for _, p := range peers {
			p.Close()
		}
	}()
	for range procs {
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
		mu, _ := MutexIn(mem[64:])
		buf := make([]byte, 64)
		if _, err := c.Recv(ctx, buf); err != nil { // "go"
			return err
		}
		switch a.Counting {
		case Unsynchronised:
			for range a.Increments {
				// A load and a store, each atomic on its own (so the Go
				// compiler keeps both), but not together: the race.
				atomic.StoreInt64(counter, atomic.LoadInt64(counter)+1)
			}
		case Atomic:
			for range a.Increments {
				atomic.AddInt64(counter, 1)
			}
		case Locked:
			for range a.Increments {
				if err := mu.Lock(ctx); err != nil {
					return err
				}
				*counter++
				mu.Unlock()
			}
		case Messages:
			for left := a.Increments; left > 0; {
				n := min(left, max(a.Batch, 1))
				if err := c.Send(ctx, fmt.Appendf(nil, "+%d", n)); err != nil {
					return err
				}
				left -= n
			}
		}
		return c.Send(ctx, []byte("done"))
	}
}
