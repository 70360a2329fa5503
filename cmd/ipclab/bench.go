package main

import (
	"bufio"
	"bytes"
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
	compare := fs.String("compare", "", "also run the C probe at PATH (bench/probe) for the transports it knows (shm-ring, pipe, fifo, unix-stream, unix-seqpacket, unix-dgram, tcp, posix-mq, sysv-mq), interleaved, and print Go/C ratios; in stream mode also the C limit, a plain unverified C ring, against shm-ring (the comparison goes to stderr with --format csv or json)")
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
		if err := checkProbe(ctx, *compare, e); err != nil {
			return err
		}
	}

	bar := newProgressBar(stderr, e)
	e.Progress = bar.update
	var results ipc.Results
	var ratios []ratioRow
	var limits []limitRow
	var err error
	if *compare == "" {
		results, err = ipc.Run(ctx, e)
	} else {
		results, ratios, limits, err = runCompare(ctx, e, *compare, *wait, max(1, *rounds), stderr)
		if err == nil {
			err = probeTrouble(ratios)
		}
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
		if len(ratios) > 0 || len(limits) > 0 {
			// after a table on stdout; with csv or json, stdout stays
			// machine-readable and the comparison goes to stderr
			w := stdout
			if *format != "table" {
				w = stderr
			}
			writeRatios(w, ratios, limits)
		}
		if *plot != "" {
			var refs []plots.Reference
			if len(limits) > 0 {
				ref := plots.Reference{Label: "C limit (plain ring)", BySize: map[int]float64{}}
				for _, l := range limits {
					ref.BySize[l.size] = l.rate()
				}
				refs = append(refs, ref)
			}
			if perr := plots.WriteFile(*plot, results, refs...); perr != nil {
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
// even rounds, C first in odd ones) and keeps every pair's ratio. Sizes are
// the outer loop and rounds the next, so that a round passes over every
// transport once and the rounds of one pair are spread over the run.
//
// In stream mode it also runs the probe's c-ring once per size and round,
// next to shm-ring's Go run (before it in even rounds, after it in odd
// ones): a plain C ring that copies each message in and out and verifies
// nothing, the machine's limit that shm-ring is measured against.
func runCompare(ctx context.Context, e ipc.Experiment, probe, wait string, rounds int, stderr io.Writer) (ipc.Results, []ratioRow, []limitRow, error) {
	type key struct {
		t string
		s int
	}
	first := map[key]ipc.Results{}
	rowOf := map[key]*ratioRow{}
	var limits []limitRow
	local := e.Remote == "" && !e.InProcess
	withLimit := local && e.Mode == ipc.Stream
	anchor := "" // the transport the limit runs next to
	if withLimit {
		anchor = e.Transports[0]
		if slices.Contains(e.Transports, "shm-ring") {
			anchor = "shm-ring"
		}
	}
	// assemble gives the results and rows in transport-major order, as ipc.Run would.
	assemble := func(err error) (ipc.Results, []ratioRow, []limitRow, error) {
		var all ipc.Results
		var rows []ratioRow
		for _, t := range e.Transports {
			for _, s := range e.Sizes {
				all = append(all, first[key{t, s}]...)
				if r := rowOf[key{t, s}]; r != nil && len(r.c) > 0 {
					rows = append(rows, *r)
				}
			}
		}
		return all, rows, limits, err
	}
	progress := e.Progress
	done, total := 0, len(e.Transports)*len(e.Sizes)*e.Trials*rounds
	for _, s := range e.Sizes {
		lim := limitRow{size: s}
		for r := range rounds {
			for _, t := range e.Transports {
				one := e
				one.Transports, one.Sizes = []string{t}, []int{s}
				one.Progress = func(p ipc.Progress) {
					if progress != nil {
						p.Done += done
						p.Total = total
						progress(p)
					}
				}
				known := local && probeKnows(t)
				limit := withLimit && t == anchor
				var c, cl probeResult
				var err error
				if limit && r%2 == 0 {
					if cl, err = runProbe(ctx, probe, "c-ring", e, s, wait, stderr); err != nil {
						return assemble(err)
					}
				}
				if known && r%2 == 1 {
					if c, err = runProbe(ctx, probe, t, e, s, wait, stderr); err != nil {
						return assemble(err)
					}
				}
				rs, err := ipc.Run(ctx, one)
				done += e.Trials
				k := key{t, s}
				if r == 0 || len(first[k]) == 0 {
					first[k] = rs
				}
				if err != nil {
					return assemble(err)
				}
				if known && r%2 == 0 {
					if c, err = runProbe(ctx, probe, t, e, s, wait, stderr); err != nil {
						return assemble(err)
					}
				}
				if limit && r%2 == 1 {
					if cl, err = runProbe(ctx, probe, "c-ring", e, s, wait, stderr); err != nil {
						return assemble(err)
					}
				}
				if limit {
					lim.c = append(lim.c, cl)
					shm := 0.0
					if t == "shm-ring" && len(rs) > 0 {
						shm = rs[0].MessagesPerSecond
					}
					lim.shm = append(lim.shm, shm)
				}
				if known && len(rs) > 0 {
					if rowOf[k] == nil {
						rowOf[k] = &ratioRow{}
					}
					rowOf[k].goRes = append(rowOf[k].goRes, rs[0])
					rowOf[k].c = append(rowOf[k].c, c)
				}
			}
		}
		if len(lim.c) > 0 {
			limits = append(limits, lim)
		}
	}
	return assemble(nil)
}

// probeKnows reports whether bench/probe.c implements transport t (with
// ipc's framing and OS settings). It also knows c-ring, which ipc has not.
func probeKnows(t string) bool {
	switch t {
	case "shm-ring", "pipe", "fifo", "unix-stream", "unix-seqpacket", "unix-dgram", "tcp", "posix-mq", "sysv-mq":
		return true
	}
	return false
}

// limitLabel names the C limit in tables and charts.
const limitLabel = "C limit (plain ring, unverified)"

// checkProbe asks the probe which transports it knows (probe list) and fails
// early, naming the transport, when it lacks one this comparison needs: a
// probe built from an older probe.c.
func checkProbe(ctx context.Context, probe string, e ipc.Experiment) error {
	out, err := exec.CommandContext(ctx, probe, "list").Output()
	if err != nil {
		return fmt.Errorf("--compare %s: the C probe cannot list its transports (%v): it is older than this ipclab; rebuild it with `make -C bench`", probe, err)
	}
	has := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		has[l] = true
	}
	need := []string{}
	if e.Remote == "" && !e.InProcess {
		for _, t := range e.Transports {
			if probeKnows(t) {
				need = append(need, t)
			}
		}
		if e.Mode == ipc.Stream {
			need = append(need, "c-ring")
		}
	}
	for _, t := range need {
		if !has[t] {
			return fmt.Errorf("--compare %s: the C probe does not know transport %s (it knows %s); rebuild it with `make -C bench`", probe, t, strings.Join(strings.Fields(string(out)), " "))
		}
	}
	return nil
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

// limitRow holds the rounds of the C limit (c-ring) at one size, with
// shm-ring's Go rate of the same round (0 when shm-ring was not measured).
type limitRow struct {
	size int
	c    []probeResult
	shm  []float64
}

// rate is the median c-ring rate over the rounds.
func (l limitRow) rate() float64 {
	var v []float64
	for _, c := range l.c {
		v = append(v, c.rate)
	}
	return medianOf(v)
}

// runProbe runs the C probe for one transport and size. Its errors name the
// transport and carry what the probe said (an unknown transport, an OS limit
// on message queues).
func runProbe(ctx context.Context, probe, transport string, e ipc.Experiment, size int, wait string, stderr io.Writer) (probeResult, error) {
	dur := strconv.FormatFloat(e.Duration.Seconds(), 'f', 3, 64)
	if e.Count > 0 {
		dur = "c" + strconv.FormatInt(e.Count, 10) // the same count per trial
	}
	args := []string{transport, string(e.Mode), strconv.Itoa(size), dur, strconv.Itoa(e.Trials), wait}
	if e.Pin {
		args = append(args, "pin")
	}
	cmd := exec.CommandContext(ctx, probe, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	said := strings.TrimSpace(errb.String())
	what := fmt.Sprintf("C probe, transport %s (%s, %s)", transport, e.Mode, ipc.FormatSize(size))
	f := strings.Split(strings.TrimSpace(string(out)), ",")
	if err != nil && len(f) != 11 { // with lost or corrupt messages it exits 1 after its line
		if ctx.Err() != nil {
			return probeResult{}, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		if said == "" {
			said = err.Error()
		}
		return probeResult{}, fmt.Errorf("%s: %s", what, said)
	}
	if said != "" {
		fmt.Fprintln(stderr, said)
	}
	if len(f) != 11 || f[0] != transport {
		return probeResult{}, fmt.Errorf("%s: unexpected output %q", what, out)
	}
	num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	return probeResult{rate: num(f[3]), rttP50: num(f[7]), rttP99: num(f[8]), lost: int64(num(f[9])), corrupt: int64(num(f[10]))}, nil
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 1 {
		return v[n/2]
	} else {
		return (v[n/2-1] + v[n/2]) / 2
	}
}

// writeRatios prints the comparison: a line per transport and size with the
// medians of Go, C and their per-round ratio (and its range), then in stream
// mode a line per size for the C limit, whose ratio is shm-ring's Go rate
// over the plain C ring's.
func writeRatios(w io.Writer, rows []ratioRow, limits []limitRow) {
	rounds := 0
	if len(rows) > 0 {
		rounds = len(rows[0].c)
	} else if len(limits) > 0 {
		rounds = len(limits[0].c)
	}
	fmt.Fprintf(w, "\nGo (ipc) against the C probe (bench/probe.c), measured back to back, %d round(s), medians:\n", rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "transport\tmode\tsize\tGo msg/s\tC msg/s\tGo/C\tGo/C range\tGo p50 RTT\tC p50 RTT\tGo/C RTT\tlost\tcorrupt\t")
	for _, r := range rows {
		var gr, cr, ratio, gp, cp, rttRatio []float64
		var lost, corrupt int64
		for i, g := range r.goRes {
			c := r.c[i]
			gr, cr = append(gr, g.MessagesPerSecond), append(cr, c.rate)
			if c.rate > 0 {
				ratio = append(ratio, g.MessagesPerSecond/c.rate)
			}
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.0f\t%s\t%s\t%s\t%d\t%d\t\n", g.Transport, g.Mode, ipc.FormatSize(g.SizeBytes),
			medianOf(gr), medianOf(cr), ratioText(ratio), rangeText(ratio), rtt, lost, corrupt)
	}
	for _, l := range limits {
		var shm, ratio []float64
		for i, c := range l.c {
			if l.shm[i] > 0 {
				shm = append(shm, l.shm[i])
				if c.rate > 0 {
					ratio = append(ratio, l.shm[i]/c.rate)
				}
			}
		}
		goRate := "-"
		if len(shm) > 0 {
			goRate = fmt.Sprintf("%.0f", medianOf(shm))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t-\t-\t-\t-\t-\t\n", limitLabel, ipc.Stream, ipc.FormatSize(l.size),
			goRate, l.rate(), ratioText(ratio), rangeText(ratio))
	}
	tw.Flush()
	if len(limits) > 0 {
		fmt.Fprintln(w, "C limit: bench/probe c-ring, a plain SPSC ring in C that copies each message in and out and publishes indices in batches, with no header, checksum or check; on its lines Go msg/s is shm-ring's and Go/C is shm-ring / C limit (issue 14's target at 64 B: >= 0.5).")
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(w, "load average at the end: %s\n", strings.Join(strings.Fields(string(b))[:3], " "))
	}
}

func ratioText(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", medianOf(v))
}

func rangeText(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f–%.2f", slices.Min(v), slices.Max(v))
}

// probeTrouble reports lost or corrupt messages the C probe counted.
func probeTrouble(rows []ratioRow) error {
	var errs []error
	for _, r := range rows {
		for _, c := range r.c {
			if c.lost != 0 || c.corrupt != 0 {
				g := r.goRes[0]
				errs = append(errs, fmt.Errorf("C probe, transport %s (%s, %s): %d lost, %d corrupt messages", g.Transport, g.Mode, ipc.FormatSize(g.SizeBytes), c.lost, c.corrupt))
				break
			}
		}
	}
	return errors.Join(errs...)
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
