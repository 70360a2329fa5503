package ipc

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// Go benchmarks. BenchmarkRing measures the ring alone between two
// goroutines of this process; BenchmarkTransport runs the real harness
// (consumer in a child process, every message verified) with b.N messages.
// `ipclab bench --compare bench/probe` is the fuller measurement, against C.

func BenchmarkRing(b *testing.B) {
	for _, size := range []int{64, 4096, 1 << 20} {
		for _, w := range []Wait{Spin, Adaptive} {
			b.Run(fmt.Sprintf("%s/%s/%s", "stream", FormatSize(size), w), func(b *testing.B) {
				prod, cons := ringPair(b, defaultRingCapacity(size), w)
				src := newSource(size)
				ctx := context.Background()
				done := make(chan tally)
				go func() {
					var t tally
					for int(t.next) < b.N {
						m, err := cons.Next(ctx)
						if err != nil {
							break
						}
						t.see(m, size)
						if t.got%64 == 0 {
							cons.Release()
						}
					}
					cons.Release()
					done <- t
				}()
				b.SetBytes(int64(size))
				b.ResetTimer()
				start := time.Now()
				batch := ringBatch(prod)
				mark := prod.ptail
				for i := 0; i < b.N; i++ {
					m, err := prod.Claim(ctx, size)
					if err != nil {
						b.Fatal(err)
					}
					src.fill(m, uint32(i))
					if prod.ptail-mark >= batch {
						prod.Commit()
						mark = prod.ptail
					}
				}
				prod.Commit()
				t := <-done
				b.StopTimer()
				if t.lost != 0 || t.corrupt != 0 {
					b.Fatalf("lost %d corrupt %d", t.lost, t.corrupt)
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
			})
		}
	}
}

// BenchmarkRingPingPong: a round trip through two rings between two
// goroutines (each on its own thread), every reply checked.
func BenchmarkRingPingPong(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, w := range []Wait{Spin, Adaptive} {
			b.Run(fmt.Sprintf("%s/%s", FormatSize(size), w), func(b *testing.B) {
				ping, pingIn := ringPair(b, defaultRingCapacity(size), w)
				pong, pongIn := ringPair(b, defaultRingCapacity(size), w)
				ctx := context.Background()
				echoed := make(chan error, 1)
				go func() { // echo: pingIn → pong
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					for range b.N {
						m, err := pingIn.Next(ctx)
						if err != nil {
							echoed <- err
							return
						}
						if err := pong.Send(ctx, m); err != nil {
							echoed <- err
							return
						}
						pingIn.Release()
					}
					echoed <- nil
				}()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				src := newSource(size)
				msg := make([]byte, size)
				var t tally
				b.SetBytes(int64(size))
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					src.fill(msg, uint32(i))
					if err := ping.Send(ctx, msg); err != nil {
						b.Fatal(err)
					}
					m, err := pongIn.Next(ctx)
					if err != nil {
						b.Fatal(err)
					}
					t.see(m, size)
					pongIn.Release()
				}
				elapsed := time.Since(start)
				b.StopTimer()
				if err := <-echoed; err != nil {
					b.Fatal(err)
				}
				if t.lost != 0 || t.corrupt != 0 {
					b.Fatalf("lost %d corrupt %d", t.lost, t.corrupt)
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
				b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/RTT")
			})
		}
	}
}

func BenchmarkTransport(b *testing.B) {
	for _, mode := range []Mode{Stream, PingPong} {
		for _, name := range []string{"shm-ring", "pipe", "unix-stream", "tcp", "posix-mq", "chan"} {
			for _, size := range []int{64, 64 << 10} {
				if name == "posix-mq" && size > 8192 {
					continue
				}
				b.Run(fmt.Sprintf("%s/%s/%s", mode, name, FormatSize(size)), func(b *testing.B) {
					o := Options{}
					if mode == PingPong && name == "shm-ring" {
						o.Wait = Spin
					}
					rs, err := Run(context.Background(), Experiment{Transports: []string{name}, Sizes: []int{size}, Mode: mode, Count: int64(b.N), Trials: 1, Warmup: 20 * time.Millisecond, Options: o})
					if err != nil {
						b.Fatal(err)
					}
					r := rs[0]
					b.SetBytes(int64(size))
					b.ReportMetric(r.MessagesPerSecond, "msg/s")
					if mode == PingPong {
						b.ReportMetric(float64(r.RTTp50.Nanoseconds()), "p50-ns")
						b.ReportMetric(float64(r.RTTp99.Nanoseconds()), "p99-ns")
					}
				})
			}
		}
	}
}

func BenchmarkChecksum(b *testing.B) {
	for _, size := range []int{64, 4096, 1 << 20} {
		b.Run(FormatSize(size), func(b *testing.B) {
			m := make([]byte, size)
			src := newSource(size)
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				src.fill(m, uint32(i))
			}
		})
	}
}

// BenchmarkRingCost produces and consumes on one goroutine, in batches: the
// per-message work of the ring and the checks without any waiting. Compare
// with `bench/probe cost SIZE N`.
func BenchmarkRingCost(b *testing.B) {
	for _, size := range []int{64, 4096, 1 << 20} {
		b.Run(FormatSize(size), func(b *testing.B) {
			p, c := ringPair(b, max(256<<10, 1<<bits.Len(uint(2*recordSize(size)-1))), Spin)
			src := newSource(size)
			var t tally
			batch := ringBatch(p)
			b.SetBytes(int64(size))
			for i := 0; i < b.N; {
				mark := p.ptail
				rec := recordSize(size)
				for ; i < b.N && p.ptail-mark < batch; i++ {
					var m []byte
					if ptr := p.claimFast(size, rec); ptr != nil {
						m = unsafe.Slice((*byte)(ptr), size)
					} else {
						m, _ = p.tryClaimSlow(size) // wraps; the consumer emptied the ring
					}
					src.fill(m, uint32(i))
				}
				p.Commit()
				for {
					var m []byte
					if ptr, n := c.nextFast(); ptr != nil {
						m = unsafe.Slice((*byte)(ptr), n)
					} else if mm, ok, _ := c.tryNextSlow(); ok {
						m = mm
					} else {
						break
					}
					t.see(m, size)
				}
				c.Release()
			}
			if t.got != int64(b.N) || t.lost != 0 || t.corrupt != 0 {
				b.Fatalf("got %d lost %d corrupt %d", t.got, t.lost, t.corrupt)
			}
		})
	}
}
