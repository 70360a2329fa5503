package plots_test

import (
	"fmt"
	"time"

	"github.com/ipclab/ipclab/ipc"
	"github.com/ipclab/ipclab/plots"
)

// Hand-written results, not measurements.
var results = ipc.Results{
	{Transport: "shm-ring", Mode: ipc.Stream, SizeBytes: 64, MessagesPerSecond: 12_300_000},
	{Transport: "pipe", Mode: ipc.Stream, SizeBytes: 64, MessagesPerSecond: 1_000_000},
	{Transport: "tcp", Mode: ipc.Stream, SizeBytes: 64, MessagesPerSecond: 450_000},
	{Transport: "shm-ring", Mode: ipc.PingPong, SizeBytes: 64, RTTp50: 400 * time.Nanosecond, RTTp99: 900 * time.Nanosecond},
	{Transport: "pipe", Mode: ipc.PingPong, SizeBytes: 64, RTTp50: 9 * time.Microsecond, RTTp99: 30 * time.Microsecond},
}

func ExampleSpeedup() {
	chart := plots.Speedup(results, "pipe").Caption("")
	fmt.Println(chart) // the alt text; in a notebook the chart shows as SVG and PNG
	// Output:
	// Speed-up over pipe
	// stream mode: messages per second relative to pipe at the same message size; longer bar to the right = faster
	// transport  size  messages/s  baseline messages/s  speed-up
	// shm-ring   64 B  12.3 M      1 M                  ×12.3
	// pipe       64 B  1 M         1 M                  ×1
	// tcp        64 B  450 k       1 M                  ×0.45
}

func ExampleChart_Err() {
	fmt.Println(plots.Throughput(nil).Err())
	fmt.Println(plots.Speedup(results, "fifo").Err())
	// Output:
	// plots: throughput chart: no data to plot: the results are empty (run an experiment first)
	// plots: speed-up chart: baseline transport not in results: "fifo" is not among the stream results (shm-ring, pipe, tcp)
}

func ExampleTable() {
	fmt.Println(plots.Table(results[3:]).Title("Round trips"))
	// Output:
	// Round trips
	// machine not recorded
	// transport  mode      size  msg/s     p50  p90     p99  max  trials  verified  lost  corrupt
	// shm-ring   pingpong  64 B     0   400 ns    –  900 ns    –       0         0     0        0
	// pipe       pingpong  64 B     0     9 µs    –   30 µs    –       0         0     0        0
}
