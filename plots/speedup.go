package plots

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"

	"github.com/ipclab/ipclab/ipc"
)

// Speedup charts how many times faster each transport is than baseline at
// the same message size ("×12.3"), one panel per size (up to four, or those
// chosen with MessageSizes). Stream results compare messages per second;
// ping-pong results compare median round-trip times (baseline's p50 divided
// by the transport's). Mode chooses when the results have both.
func Speedup(results ipc.Results, baseline string) Chart {
	return Chart{kind: speedupChart, results: results, baseline: baseline}
}

func (c Chart) speedup() (*figure, error) {
	mode := c.comparedMode()
	t := tableOf(c.results, mode, c.sizes)
	if len(t.at) == 0 {
		return nil, noData(c.results, mode, "")
	}
	if !slices.Contains(t.transports, c.baseline) {
		return nil, fmt.Errorf("%w: %q is not among the %s results (%s)", ErrNoBaseline, c.baseline, mode, strings.Join(t.transports, ", "))
	}
	// speed returns how fast a result is: higher is faster.
	speed := func(r ipc.Result) float64 {
		if mode == ipc.PingPong {
			if r.RTTp50 <= 0 {
				return 0
			}
			return 1 / float64(r.RTTp50)
		}
		return r.MessagesPerSecond
	}
	var sizes []int
	for _, s := range t.sizes {
		if b, ok := t.get(c.baseline, s); ok && speed(b) > 0 {
			sizes = append(sizes, s)
		}
	}
	if len(sizes) == 0 {
		return nil, fmt.Errorf("%w: baseline %q has no non-zero %s result", ErrNoData, c.baseline, mode)
	}
	if len(c.sizes) == 0 {
		sizes = pickSizes(sizes, 4)
	}
	ratio := func(tr string, size int) (float64, bool) {
		r, ok := t.get(tr, size)
		b, _ := t.get(c.baseline, size)
		if !ok || speed(r) <= 0 {
			return 0, false
		}
		return speed(r) / speed(b), true
	}
	order := slices.Clone(t.transports)
	key := func(tr string) float64 {
		r, ok := ratio(tr, sizes[0])
		if !ok {
			return -1
		}
		return r
	}
	slices.SortStableFunc(order, func(a, b string) int {
		switch ka, kb := key(a), key(b); {
		case ka > kb:
			return -1
		case ka < kb:
			return 1
		}
		return 0
	})

	var alt strings.Builder
	tw := tabwriter.NewWriter(&alt, 2, 8, 2, ' ', 0)
	measure := "messages/s"
	if mode == ipc.PingPong {
		measure = "p50 round trip"
	}
	fmt.Fprintf(tw, "transport\tsize\t%s\tbaseline %s\tspeed-up\n", measure, measure)
	lo, hi := 1.0, 1.0
	rows := make([][]hbar, len(sizes))
	for i, size := range sizes {
		b, _ := t.get(c.baseline, size)
		for j, tr := range order {
			r, ok := t.get(tr, size)
			if !ok {
				continue
			}
			x, ok := ratio(tr, size)
			v, bv := formatSI(r.MessagesPerSecond, ""), formatSI(b.MessagesPerSecond, "")
			if mode == ipc.PingPong {
				v, bv = formatDuration(r.RTTp50), formatDuration(b.RTTp50)
			}
			rt := "–"
			if ok {
				rt = formatRatio(x)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", tr, formatBytes(size), v, bv, rt)
			if !ok {
				continue
			}
			lo, hi = math.Min(lo, x), math.Max(hi, x)
			row := hbar{y: float64(len(order) - 1 - j), end: lg(x), tail: math.NaN(), color: lookOf(tr).color, label: formatRatio(x)}
			if tr == c.baseline {
				row.baseline, row.end, row.label = true, 0, "baseline"
			}
			rows[i] = append(rows[i], row)
		}
	}
	tw.Flush()
	xmin, xmax := lo/2.5, hi*3
	if xmax/xmin < 10 {
		xmin, xmax = math.Min(xmin, 0.3), math.Max(xmax, 3)
	}
	panels := barPanels(sizes, t.shortMarks(order), rows, 0, lg(xmax), "times as fast as "+c.baseline+" (log scale)", formatRatio, c.pixels(&figure{width: 900}).w)
	for _, p := range panels {
		p.X.Min = lg(xmin)
		p.Add(vline{0, refLine})
	}
	sub := fmt.Sprintf("stream mode: messages per second relative to %s at the same message size; longer bar to the right = faster", c.baseline)
	if mode == ipc.PingPong {
		sub = fmt.Sprintf("ping-pong mode: %s's median round trip divided by each transport's; longer bar to the right = faster", c.baseline)
	}
	f := &figure{
		title:    "Speed-up over " + c.baseline,
		subtitle: sub,
		caption:  captionOf(drawn(c.results, mode, t)),
		panels:   [][]*plot.Plot{panels},
		width:    900,
		height:   max(300, 150+22*len(order)),
	}
	f.alt = sub + "\n" + alt.String()
	return f, nil
}

// comparedMode is the mode a comparison chart draws: Mode's choice, else
// stream when any result streamed, else ping-pong.
func (c Chart) comparedMode() ipc.Mode {
	if c.mode != "" {
		return c.mode
	}
	for _, r := range c.results {
		if modeOf(r) == ipc.Stream {
			return ipc.Stream
		}
	}
	return ipc.PingPong
}
