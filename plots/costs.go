package plots

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"

	"github.com/ipclab/ipclab/ipc"
)

// Costs charts why a message costs what it does: for each transport (or
// variant), the system calls ipc made per message and the kernel (system)
// CPU time per message, producer and consumer added up, at one message
// size (the smallest, or the first chosen with MessageSizes), in stream
// mode unless Mode says ping-pong. Shared memory after set-up makes no
// system call per message; message passing makes at least one per side.
// Transports whose calls ipc cannot count (ZeroMQ's are made by its
// library) say "not counted".
func Costs(results ipc.Results) Chart {
	return Chart{kind: costsChart, results: results}
}

func (c Chart) costs() (*figure, error) {
	mode := c.comparedMode()
	t := tableOf(c.results, mode, c.sizes)
	if len(t.at) == 0 {
		return nil, noData(c.results, mode, "")
	}
	size := t.sizes[0]
	order := slices.Clone(t.transports)
	order = slices.DeleteFunc(order, func(tr string) bool { _, ok := t.get(tr, size); return !ok })
	total := func(tr string) (calls, sys float64, counted bool) {
		r, _ := t.get(tr, size)
		return r.Producer.Syscalls + r.Consumer.Syscalls, r.Producer.SysNs + r.Consumer.SysNs,
			r.Producer.SyscallsCounted && r.Consumer.SyscallsCounted
	}
	slices.SortStableFunc(order, func(a, b string) int {
		ca, _, oka := total(a)
		cb, _, okb := total(b)
		if oka != okb {
			if oka {
				return -1
			}
			return 1
		}
		switch {
		case ca < cb:
			return -1
		case ca > cb:
			return 1
		}
		return 0
	})
	var alt strings.Builder
	tw := tabwriter.NewWriter(&alt, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "transport\tsize\tsyscalls/msg producer\tconsumer\tkernel CPU/msg producer\tconsumer\tuser CPU/msg producer\tconsumer")
	var callRows, sysRows []hbar
	maxCalls, maxSys := 1.0, 100.0
	for j, tr := range order {
		r, _ := t.get(tr, size)
		calls, sys, counted := total(tr)
		y := float64(len(order) - 1 - j)
		lk := lookOf(tr)
		pc, cc := "not counted", "not counted"
		if counted {
			pc, cc = fmtCalls(r.Producer.Syscalls), fmtCalls(r.Consumer.Syscalls)
			callRows = append(callRows, hbar{y: y, end: calls, tail: math.NaN(), color: lk.color,
				label: fmtCalls(r.Producer.Syscalls) + " + " + fmtCalls(r.Consumer.Syscalls)})
			maxCalls = math.Max(maxCalls, calls)
		} else {
			callRows = append(callRows, hbar{y: y, end: 0, tail: math.NaN(), color: lk.color, label: "not counted (made by a library)"})
		}
		if r.Producer.CPUCounted && r.Consumer.CPUCounted {
			sysRows = append(sysRows, hbar{y: y, end: sys, tail: math.NaN(), color: lk.color,
				label: formatDuration(time.Duration(r.Producer.SysNs)) + " + " + formatDuration(time.Duration(r.Consumer.SysNs))})
		} else {
			why := "not measured"
			if r.Transport == "chan" || r.Transport == "shm-mutex" {
				why += " (goroutines move between threads)"
			}
			sysRows = append(sysRows, hbar{y: y, end: 0, tail: math.NaN(), color: lk.color, label: why})
		}
		maxSys = math.Max(maxSys, sys)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", tr, formatBytes(size), pc, cc,
			formatDuration(time.Duration(r.Producer.SysNs)), formatDuration(time.Duration(r.Consumer.SysNs)),
			formatDuration(time.Duration(r.Producer.UserNs)), formatDuration(time.Duration(r.Consumer.UserNs)))
	}
	tw.Flush()
	names := t.shortMarks(order)
	what := "message"
	if mode == ipc.PingPong {
		what = "round trip"
	}
	mk := func(title, xlabel string, rows []hbar, top float64, tick func(float64) string, labels bool) *plot.Plot {
		p := newPanel(title)
		p.X.Min, p.X.Max = 0, top*1.9 // room for the labels right of the bars
		p.X.Label.Text = xlabel
		p.X.Tick.Marker = linearTicks(tick, 4)
		p.Y.Min, p.Y.Max = -0.6, float64(len(order))-0.4
		var ticks []plot.Tick
		for j, n := range names {
			if !labels {
				n = ""
			}
			ticks = append(ticks, plot.Tick{Value: float64(len(order) - 1 - j), Label: n})
		}
		p.Y.Tick.Marker = plot.ConstantTicks(ticks)
		p.Y.Tick.Length = 0
		p.Y.Tick.Label.Font.Size = 8.5
		p.Add(hbars{rows: rows, base: 0})
		return p
	}
	calls := mk("System calls per "+what, "producer + consumer", callRows, maxCalls, func(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }, true)
	kernel := mk("Kernel CPU per "+what, "producer + consumer (system time)", sysRows, maxSys,
		func(v float64) string { return formatDuration(time.Duration(v)) }, false)
	f := &figure{
		title: "Cost per " + what + ": system calls and kernel time",
		subtitle: fmt.Sprintf("%s mode, %s messages; system calls counted where ipc makes them, CPU of the thread running each side (getrusage)",
			mode, formatBytes(size)),
		caption: captionOf(slices.DeleteFunc(drawn(c.results, mode, t), func(r ipc.Result) bool { return r.SizeBytes != size })),
		panels:  [][]*plot.Plot{{calls, kernel}},
		width:   900,
		height:  max(300, 150+22*len(order)),
	}
	f.alt = f.subtitle + "\n" + alt.String()
	return f, nil
}

func fmtCalls(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 0.01:
		return "<0.01"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// linearTicks marks about n round values from 0 with format's labels.
func linearTicks(format func(float64) string, n int) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		span := hi - lo
		if span <= 0 {
			return []plot.Tick{{Value: lo, Label: format(lo)}}
		}
		step := math.Pow10(int(math.Floor(math.Log10(span / float64(max(n, 1))))))
		for _, m := range []float64{1, 2, 5, 10} {
			if span/(step*m) <= float64(n) {
				step *= m
				break
			}
		}
		var ticks []plot.Tick
		for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
			ticks = append(ticks, plot.Tick{Value: v, Label: format(v)})
		}
		return ticks
	})
}
