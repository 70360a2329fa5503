package plots

import (
	"syscall"
	"testing"
	"time"

	"github.com/ipclab/ipclab/ipc"
)

// BenchmarkThroughput14x22 renders a throughput chart of 14 transports × 22
// message sizes (8 B … 16 MiB) as a notebook shows it: SVG, PNG and alt text
// in one bundle ("bundle"), and each format alone.
func BenchmarkThroughput14x22(b *testing.B) {
	rs := synthetic(allTransports, allSizes, ipc.Stream)
	c := Throughput(rs)
	b.Run("bundle", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			if d := c.Render(); len(d.Data) != 4 {
				b.Fatal("incomplete bundle")
			}
		}
	})
	b.Run("svg", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			_ = c.SVG()
		}
	})
	b.Run("png", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			_ = c.PNG()
		}
	})
}

// BenchmarkCharts14x22 renders each other kind of chart from the same
// number of results, as a bundle.
func BenchmarkCharts14x22(b *testing.B) {
	st := synthetic(allTransports, allSizes, ipc.Stream)
	pp := synthetic(allTransports, allSizes, ipc.PingPong)
	for _, bc := range []struct {
		name string
		c    Chart
	}{
		{"latency", Latency(pp)},
		{"cdf", LatencyCDF(pp)},
		{"speedup", Speedup(st, "pipe")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				_ = bc.c.Render()
			}
		})
	}
}

// reportCPU reports the process's CPU time (user + system, all threads,
// garbage collection included) per operation as "cpu-ms/op", which, unlike
// wall time, does not grow when other work shares the machine.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
