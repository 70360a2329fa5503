package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipclab/ipclab/ipc"
	"github.com/ipclab/ipclab/plots"
)

// benchCommand runs `ipclab bench`: an ipc.Experiment from flags, printed
// as a table, CSV or JSON; optionally a chart (--plot) and a comparison
// with the C probe of bench/ (--compare).
func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	transports := fs.String("transports", "shm-ring,pipe,unix-stream,tcp", "comma-separated transports, or \"all\" ("+strings.Join(ipc.Transports(), " ")+")")
	sizes := fs.String("sizes", "64,4K,64K,1M", "comma-separated message sizes (8 … 16M; K and M are powers of 1024)")
	mode := fs.String("mode", "stream", "stream (one-way throughput) or pingpong (round-trip latency)")
	duration := fs.Duration("duration", time.Second, "length of each trial")
	count := fs.Int64("count", 0, "messages per trial (instead of --duration)")
	trials := fs.Int("trials", 3, "timed trials per transport and size (median and spread reported)")
	warmup := fs.Duration("warmup", 0, "untimed warm-up per transport and size (default duration/4, 50ms…500ms)")
	pin := fs.Bool("pin", false, "pin the producer to CPU 0 and the consumer to CPU 1")
	wait := fs.String("wait", "adaptive", "shm-ring wait strategy: spin, yield, futex or adaptive")
	segment := fs.String("segment", "posix", "shm-ring memory: posix, sysv, file or memfd")
	zeroCopy := fs.Bool("zero-copy", false, "the shm-ring consumer checks messages in place instead of copying each into its own memory as every other transport's consumer does (results say zero-copy)")
	format := fs.String("format", "table", "output: table, csv or json")
	remote := fs.String("remote", "", "run the consumer on an `ipclab worker --listen` at tcp://HOST:PORT (tcp, zmq-tcp)")
	inProcess := fs.Bool("in-process", false, "run the consumer as a goroutine instead of a child process")
	plot := fs.String("plot", "", "also write a chart of the results to FILE (.svg or .png)")
	compare := fs.String("compare", "", "also run the C probe at PATH (bench/probe) for shm-ring, pipe, unix-stream and tcp, interleaved, and print Go/C ratios")
	rounds := fs.Int("rounds", 1, "with --compare: alternate Go and C this many times per transport and size and report the median ratio (robust to a machine whose load changes)")
	sweep := fs.Bool("sweep", false, "only remove what crashed runs left behind, and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ipclab bench [flags]\n\nMeasures ipc transports between two processes; every message is verified.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if n, err := ipc.Sweep(); n > 0 || err != nil {
		fmt.Fprintf(stderr, "removed %d resources left by crashed runs", n)
		if err != nil {
			fmt.Fprintf(stderr, " (%v)", err)
		}
		fmt.Fprintln(stderr)
	}
	if *sweep {
		return nil
	}

	e := ipc.Experiment{
		Mode: ipc.Mode(*mode), Duration: *duration, Count: *count, Trials: *trials, Warmup: *warmup,
		Pin: *pin, InProcess: *inProcess, Remote: *remote,
		Options: ipc.Options{Wait: ipc.Wait(*wait), Segment: ipc.SegmentKind(*segment), ZeroCopy: *zeroCopy},
	}
	if *transports == "all" {
		e.Transports = ipc.Transports()
	} else {
		for _, t := range strings.Split(*transports, ",") {
			if t = strings.TrimSpace(t); t != "" {
				e.Transports = append(e.Transports, t)
			}
		}
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := ipc.ParseSize(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		e.Sizes = append(e.Sizes, n)
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return fmt.Errorf("--format %q: want table, csv or json", *format)
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if *compare != "" {
		if _, err := os.Stat(*compare); err != nil {
			return fmt.Errorf("--compare: %w (build the probe with `make -C bench`)", err)
		}
	}

	bar := newProgressBar(stderr, e)
	e.Progress = bar.update
	var results ipc.Results
	var ratios []ratioRow
	var err error
	if *compare == "" {
		results, err = ipc.Run(ctx, e)
	} else {
		results, ratios, err = runCompare(ctx, e, *compare, *wait, max(1, *rounds))
	}
	bar.finish()
	if len(results) > 0 {
		var werr error
		switch *format {
		case "table":
			werr = results.WriteTable(stdout)
		case "csv":
			werr = results.WriteCSV(stdout)
		case "json":
			werr = results.WriteJSON(stdout)
		}
		if werr != nil {
			return werr
		}
		if len(ratios) > 0 {
			writeRatios(stdout, ratios)
		}
		if *plot != "" {
			if perr := plots.WriteFile(*plot, results); perr != nil {
				return errors.Join(err, perr)
			}
			fmt.Fprintf(stderr, "wrote %s\n", *plot)
		}
	}
	return err
}

// runCompare runs each transport and size in Go and then, right after, in
// the C probe (for the transports the probe knows), so that both see the
// same machine load. With rounds > 1 it alternates Go and C (Go first in
// even rounds, C first in odd ones) and keeps every pair's ratio.
func runCompare(ctx context.Context, e ipc.Experiment, probe, wait string, rounds int) (ipc.Results, []ratioRow, error) {
	var all ipc.Results
	var rows []ratioRow
	progress := e.Progress
	done, total := 0, len(e.Transports)*len(e.Sizes)*e.Trials*rounds
	for _, t := range e.Transports {
		for _, s := range e.Sizes {
			one := e
			one.Transports, one.Sizes = []string{t}, []int{s}
			one.Progress = func(p ipc.Progress) {
				if progress != nil {
					p.Done += done
					p.Total = total
					progress(p)
				}
			}
			row := ratioRow{}
			for r := range rounds {
				var c probeResult
				var err error
				known := probeKnows(t) && e.Remote == "" && !e.InProcess
				if known && r%2 == 1 {
					if c, err = runProbe(ctx, probe, t, e, s, wait); err != nil {
						return all, rows, err
					}
				}
				rs, err := ipc.Run(ctx, one)
				done += e.Trials
				if err != nil {
					return append(all, rs...), rows, err
				}
				if r == 0 {
					all = append(all, rs...)
				}
				if !known {
					continue
				}
				if r%2 == 0 {
					if c, err = runProbe(ctx, probe, t, e, s, wait); err != nil {
						return all, rows, err
					}
				}
				row.goRes = append(row.goRes, rs[0])
				row.c = append(row.c, c)
			}
			if len(row.c) > 0 {
				rows = append(rows, row)
			}
		}
	}
	return all, rows, nil
}

func probeKnows(t string) bool {
	switch t {
	case "shm-ring", "pipe", "unix-stream", "tcp":
		return true
	}
	return false
}

type probeResult struct {
	rate, rttP50, rttP99 float64
	lost, corrupt        int64
}

// ratioRow holds the rounds of one transport and size.
type ratioRow struct {
	goRes []ipc.Result
	c     []probeResult
}

func runProbe(ctx context.Context, probe, transport string, e ipc.Experiment, size int, wait string) (probeResult, error) {
	dur := e.Duration.Seconds()
	if e.Count > 0 {
		dur = 1
	}
	args := []string{transport, string(e.Mode), strconv.Itoa(size), strconv.FormatFloat(dur, 'f', 3, 64), strconv.Itoa(e.Trials), wait}
	if e.Pin {
		args = append(args, "pin")
	}
	cmd := exec.CommandContext(ctx, probe, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return probeResult{}, fmt.Errorf("C probe %s %s %d: %w", transport, e.Mode, size, err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), ",")
	if len(f) != 11 {
		return probeResult{}, fmt.Errorf("C probe: unexpected output %q", out)
	}
	num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	return probeResult{rate: num(f[3]), rttP50: num(f[7]), rttP99: num(f[8]), lost: int64(num(f[9])), corrupt: int64(num(f[10]))}, nil
}

func medianOf(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 1 {
		return v[n/2]
	} else {
		return (v[n/2-1] + v[n/2]) / 2
	}
}

func writeRatios(w io.Writer, rows []ratioRow) {
	rounds := len(rows[0].c)
	fmt.Fprintf(w, "\nGo (ipc) against the C probe (bench/probe.c), measured back to back, %d round(s), medians:\n", rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "transport\tmode\tsize\tGo msg/s\tC msg/s\tGo/C\tGo/C range\tGo p50 RTT\tC p50 RTT\tGo/C RTT\tlost\tcorrupt\t")
	for _, r := range rows {
		var gr, cr, ratio, gp, cp, rttRatio []float64
		var lost, corrupt int64
		for i, g := range r.goRes {
			c := r.c[i]
			gr, cr = append(gr, g.MessagesPerSecond), append(cr, c.rate)
			ratio = append(ratio, g.MessagesPerSecond/c.rate)
			gp, cp = append(gp, float64(g.RTTp50.Nanoseconds())), append(cp, c.rttP50)
			if c.rttP50 > 0 {
				rttRatio = append(rttRatio, float64(g.RTTp50.Nanoseconds())/c.rttP50)
			}
			lost += g.Lost + c.lost
			corrupt += g.Corrupt + c.corrupt
		}
		g := r.goRes[0]
		rtt := "-\t-\t-"
		if g.Mode == ipc.PingPong && len(rttRatio) > 0 {
			rtt = fmt.Sprintf("%.0f ns\t%.0f ns\t%.2f", medianOf(gp), medianOf(cp), medianOf(rttRatio))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.0f\t%.2f\t%.2f–%.2f\t%s\t%d\t%d\t\n", g.Transport, g.Mode, ipc.FormatSize(g.SizeBytes),
			medianOf(gr), medianOf(cr), medianOf(ratio), slices.Min(ratio), slices.Max(ratio), rtt, lost, corrupt)
	}
	tw.Flush()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(w, "load average at the end: %s\n", strings.Join(strings.Fields(string(b))[:3], " "))
	}
}

// progressBar draws on stderr when the run is expected to take more than a
// second: a redrawn bar on a terminal, a line per step otherwise.
type progressBar struct {
	w     io.Writer
	on    bool
	tty   bool
	start time.Time
	drawn bool
}

func newProgressBar(w io.Writer, e ipc.Experiment) *progressBar {
	per := e.Duration
	if e.Count > 0 {
		per = 100 * time.Millisecond
	}
	if per <= 0 {
		per = time.Second
	}
	trials := max(e.Trials, 1)
	est := time.Duration(len(e.Transports)*len(e.Sizes)*(trials+1)) * per
	b := &progressBar{w: w, on: est > time.Second, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		b.tty = err == nil
	}
	return b
}

func (b *progressBar) update(p ipc.Progress) {
	if !b.on || p.Total == 0 {
		return
	}
	const width = 30
	fill := width * p.Done / p.Total
	line := fmt.Sprintf("[%s%s] %3d%%  %s %s %s  %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill),
		100*p.Done/p.Total, p.Transport, ipc.FormatSize(p.Size), p.Phase, time.Since(b.start).Round(time.Second))
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
		b.drawn = true
	} else {
		fmt.Fprintln(b.w, line)
	}
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
}

// workerCommand runs `ipclab worker --listen tcp://ADDR`: it serves the
// consumer side of experiments to `ipclab bench --remote` on other hosts.
func workerCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "address to serve on, tcp://HOST:PORT (port 0: any free port)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *listen == "" {
		return errors.New("--listen tcp://HOST:PORT is required")
	}
	out := bufio.NewWriter(stdout)
	return ipc.Serve(ctx, *listen, func(addr string) {
		fmt.Fprintf(out, "listening on %s\n", addr)
		out.Flush()
	})
}
