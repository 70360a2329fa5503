package plots

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/ipclab/ipclab/ipc"
)

// Latency charts ping-pong results as round-trip times per transport: a bar
// to the median (p50) with a marker at p99, one panel per message size (up
// to four, or those chosen with MessageSizes).
func Latency(results ipc.Results) Chart {
	return Chart{kind: latencyChart, results: results}
}

// LatencyCDF charts the distribution of round-trip times of ping-pong
// results: for each transport, the fraction of round trips that took at most
// a given time, one panel per message size (up to three, or those chosen with
// MessageSizes).
func LatencyCDF(results ipc.Results) Chart {
	return Chart{kind: cdfChart, results: results}
}

const pingPongHint = "for stream results use plots.Throughput"

// pingPongTable returns the ping-pong results with a p50 and the sizes to
// draw panels for.
func (c Chart) pingPongTable(maxPanels int) (table, []int, error) {
	t := tableOf(c.results, ipc.PingPong, c.sizes)
	if len(t.at) == 0 {
		return t, nil, noData(c.results, ipc.PingPong, pingPongHint)
	}
	var sizes []int
	for _, s := range t.sizes {
		for _, tr := range t.transports {
			if r, ok := t.get(tr, s); ok && (r.RTTp50 > 0 || len(r.RTTQuantiles) > 0) {
				sizes = append(sizes, s)
				break
			}
		}
	}
	if len(sizes) == 0 {
		return t, nil, fmt.Errorf("%w: every ping-pong result has a round-trip time of zero", ErrNoData)
	}
	if len(c.sizes) == 0 {
		sizes = pickSizes(sizes, maxPanels)
	}
	return t, sizes, nil
}

// byP50 orders transports by their median round trip at size, fastest first;
// those without one go last.
func byP50(t table, size int) []string {
	order := slices.Clone(t.transports)
	p50 := func(tr string) time.Duration {
		if r, ok := t.get(tr, size); ok && r.RTTp50 > 0 {
			return r.RTTp50
		}
		return math.MaxInt64
	}
	slices.SortStableFunc(order, func(a, b string) int { return int(min(max(p50(a)-p50(b), -1), 1)) })
	return order
}

func durationTick(v float64) string { return formatDuration(time.Duration(math.Round(v))) }

func (c Chart) latency() (*figure, error) {
	t, sizes, err := c.pingPongTable(4)
	if err != nil {
		return nil, err
	}
	order := byP50(t, sizes[0])
	lo, hi := math.Inf(1), math.Inf(-1)
	var alt strings.Builder
	tw := tabwriter.NewWriter(&alt, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "transport\tsize\tp50\tp90\tp99\tmax\tround trips\ttrials")
	rows := make([][]hbar, len(sizes))
	for i, size := range sizes {
		for j, tr := range order {
			r, ok := t.get(tr, size)
			if !ok {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", tr, formatBytes(size), formatDuration(r.RTTp50),
				formatDuration(r.RTTp90), formatDuration(r.RTTp99), formatDuration(r.RTTMax), r.Messages, len(r.Trials))
			if r.RTTp50 <= 0 {
				continue
			}
			p50, p99 := float64(r.RTTp50), float64(r.RTTp99)
			tail := lg(p99)
			if p99 < p50 {
				tail = math.NaN()
			}
			lo, hi = math.Min(lo, p50), math.Max(hi, math.Max(p50, p99))
			rows[i] = append(rows[i], hbar{
				y: float64(len(order) - 1 - j), end: lg(p50), tail: tail,
				color: lookOf(tr).color, label: "p50 " + formatDuration(r.RTTp50),
			})
		}
	}
	tw.Flush()
	base, _ := snapDecades(lo/1.5, hi)
	top := lg(hi * 12) // room for the labels
	panels := barPanels(sizes, t.shortMarks(order), rows, base, top, "round-trip time (log scale)", durationTick, c.pixels(&figure{width: 900}).w)

	legend := newLegend()
	legend.Add("p50 (median)", barThumb{fade(okabeBlue, 0.85)}, glyphThumb{p50Glyph})
	legend.Add("p99", glyphThumb{p99Glyph})
	f := &figure{
		title:    "Round-trip latency",
		subtitle: fmt.Sprintf("ping-pong mode, %d transports; bar to the median round trip, triangle at the 99th percentile; shorter is faster", len(order)),
		caption:  captionOf(drawn(c.results, ipc.PingPong, t)),
		panels:   [][]*plot.Plot{panels},
		legend:   legend,
		width:    900,
		height:   max(300, 150+22*len(order)),
	}
	f.alt = f.subtitle + "\n" + alt.String()
	return f, nil
}

// barPanels makes one horizontal-bar panel per size with the transports
// down the side (named on the first panel only) and a log x axis from base
// to top (chart coordinates).
func barPanels(sizes []int, order []string, rows [][]hbar, base, top float64, xlabel string, tick func(float64) string, widthPx int) []*plot.Plot {
	maxLabels := (widthPx - 260) / len(sizes) / 42
	var panels []*plot.Plot
	for i, size := range sizes {
		p := newPanel(formatBytes(size) + " messages")
		p.X.Min, p.X.Max = base, top
		p.X.Label.Text = xlabel
		p.X.Tick.Marker = log10Ticks(tick, maxLabels)
		p.Y.Min, p.Y.Max = -0.6, float64(len(order))-0.4
		var ticks []plot.Tick
		for j, tr := range order {
			label := ""
			if i == 0 {
				label = tr
			}
			ticks = append(ticks, plot.Tick{Value: float64(len(order) - 1 - j), Label: label})
		}
		p.Y.Tick.Marker = plot.ConstantTicks(ticks)
		p.Y.Tick.Length = 0
		p.Y.Tick.Label.Font.Size = 8.5
		p.Add(hbars{rows: rows[i], base: base})
		panels = append(panels, p)
	}
	return panels
}

// refLine is the style of reference lines (×1 on speed-up charts).
var refLine = draw.LineStyle{Color: inkGrey, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
