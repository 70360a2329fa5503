package plots

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/ipclab/ipclab/ipc"
)

// Throughput charts stream results against message size: messages per
// second on the left, bytes per second on the right, one line per transport
// on log-log axes, with a band (or error bars) spanning the slowest to the
// fastest trial.
func Throughput(results ipc.Results) Chart {
	return Chart{kind: throughputChart, results: results}
}

// Reference is a line a throughput chart draws for comparison: rates that no
// transport of the results measured, such as the C limit `ipclab bench
// --compare` measures (a plain C ring that copies each message in and out
// and verifies nothing), so that a reader sees how close the transports come
// to the machine. It is drawn in grey with even dashes and no markers, a
// look no transport has, and named in the legend by its Label.
type Reference struct {
	Label  string          // legend text, e.g. "C limit (plain ring)"
	BySize map[int]float64 // messages per second, by message size in bytes
}

// References adds reference lines to a throughput chart (other kinds of
// chart ignore them). A reference is drawn at the sizes the chart draws.
func (c Chart) References(refs ...Reference) Chart {
	c.refs = append(slices.Clone(c.refs), refs...)
	return c
}

// refLook is how every reference line is drawn: grey, even dashes, no marker.
var refLook = look{color: refGrey, dash: []vg.Length{vg.Points(3), vg.Points(3)}}

// refThumb draws a reference line in a legend.
type refThumb struct{}

func (refThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(refLook.lineStyle(), c.Min.X, y, c.Max.X, y)
}

func (c Chart) throughput() (*figure, error) {
	t := tableOf(c.results, ipc.Stream, c.sizes)
	if len(t.at) == 0 {
		return nil, noData(c.results, ipc.Stream, "for ping-pong results use plots.Latency or plots.LatencyCDF")
	}
	f := &figure{
		title:   "Throughput vs message size",
		caption: captionOf(drawn(c.results, ipc.Stream, t)),
		width:   900,
		height:  440,
	}
	w := c.pixels(f).w
	stacked := c.height > 0 && c.width > 0 && float64(c.width) < 1.4*float64(c.height)
	panelPx := (w - 150) / 2
	if stacked {
		panelPx = w - 150
	}

	// Order the transports fastest first at the largest size each has, so
	// the legend reads in the order the lines end.
	last := func(tr string) float64 {
		for i := len(t.sizes) - 1; i >= 0; i-- {
			if r, ok := t.get(tr, t.sizes[i]); ok {
				return r.MessagesPerSecond * float64(r.SizeBytes)
			}
		}
		return 0
	}
	order := slices.Clone(t.transports)
	slices.SortStableFunc(order, func(a, b string) int {
		la, lb := last(a), last(b)
		switch {
		case la > lb:
			return -1
		case la < lb:
			return 1
		}
		return 0
	})

	rate := newPanel("Message rate")
	rate.Y.Label.Text = "messages per second (msg/s)"
	data := newPanel("Data rate")
	data.Y.Label.Text = "bytes per second (decimal SI prefixes)"
	for _, p := range []*plot.Plot{rate, data} {
		p.X.Label.Text = "message size"
		p.X.Tick.Marker = log2Ticks(panelPx/52, t.sizes)
	}
	h := c.pixels(f).h
	if stacked {
		h /= 2
	}
	// Axis titles that would not fit along a short panel get short forms,
	// rather than running past it.
	avail := pt(h - 150)
	if stacked {
		avail = pt(h - 90)
	}
	for _, a := range []struct {
		p           *plot.Plot
		long, short string
	}{{rate, rate.Y.Label.Text, "msg/s"}, {data, data.Y.Label.Text, "bytes/s"}} {
		if a.p.Y.Label.TextStyle.Width(a.long) > avail {
			a.p.Y.Label.Text = a.short
		}
	}
	rate.Y.Tick.Marker = log10Ticks(func(v float64) string { return tickSI(v, "") }, (h-130)/24)
	data.Y.Tick.Marker = log10Ticks(func(v float64) string { return tickSI(v, "B/s") }, (h-130)/24)

	legend := newLegend()
	useBands := len(t.sizes) >= 3
	var lines []any // drawn after every band
	rmin, rmax, bmin, bmax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	var alt strings.Builder
	tw := tabwriter.NewWriter(&alt, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "transport\tsize\tmessages/s\tbytes/s\tslowest–fastest trial (msg/s)\ttrials")
	trials := 0
	points := 0
	for _, tr := range order {
		lk := lookOf(tr)
		var xs, rs, bs, rlo, rhi, blo, bhi []float64
		for _, size := range t.sizes {
			r, ok := t.get(tr, size)
			if !ok {
				continue
			}
			bps := bytesPerSecond(r)
			lo, hi := spread(r)
			trials = max(trials, len(r.Trials))
			rangeText := "–"
			if hi > 0 {
				rangeText = formatSI(lo, "") + " – " + formatSI(hi, "")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", tr, formatBytes(size), formatSI(r.MessagesPerSecond, ""),
				formatSI(bps, "B/s"), rangeText, len(r.Trials))
			if r.MessagesPerSecond <= 0 || size <= 0 {
				continue
			}
			points++
			if hi <= 0 {
				lo, hi = r.MessagesPerSecond, r.MessagesPerSecond
			}
			xs = append(xs, lg(float64(size)))
			rs = append(rs, lg(r.MessagesPerSecond))
			bs = append(bs, lg(bps))
			rlo, rhi = append(rlo, lg(lo)), append(rhi, lg(hi))
			blo, bhi = append(blo, lg(lo*float64(size))), append(bhi, lg(hi*float64(size)))
			rmin, rmax = math.Min(rmin, math.Min(lo, r.MessagesPerSecond)), math.Max(rmax, math.Max(hi, r.MessagesPerSecond))
			bmin = math.Min(bmin, math.Min(lo*float64(size), bps))
			bmax = math.Max(bmax, math.Max(hi*float64(size), bps))
		}
		legend.Add(t.shortMark(tr), lineThumb{lk})
		if len(xs) == 0 {
			continue
		}
		if useBands {
			rate.Add(band{xs, rlo, rhi, fade(lk.color, 0.16)})
			data.Add(band{xs, blo, bhi, fade(lk.color, 0.16)})
		} else {
			rate.Add(whiskers{xs, rlo, rhi, lk.color})
			data.Add(whiskers{xs, blo, bhi, lk.color})
		}
		lines = append(lines, polyline{xs: xs, ys: rs, look: lk}, polyline{xs: xs, ys: bs, look: lk})
	}
	if points == 0 {
		tw.Flush()
		return nil, fmt.Errorf("%w: every stream result has a rate of zero", ErrNoData)
	}
	var refNames []string
	var refLines []any // drawn under the transports' lines
	for _, ref := range c.refs {
		var xs, rs, bs []float64
		for _, size := range t.sizes {
			v, ok := ref.BySize[size]
			if !ok || !(v > 0) || math.IsInf(v, 0) || size <= 0 {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t–\t–\n", ref.Label, formatBytes(size), formatSI(v, ""), formatSI(v*float64(size), "B/s"))
			xs = append(xs, lg(float64(size)))
			rs = append(rs, lg(v))
			bs = append(bs, lg(v*float64(size)))
			rmin, rmax = math.Min(rmin, v), math.Max(rmax, v)
			bmin, bmax = math.Min(bmin, v*float64(size)), math.Max(bmax, v*float64(size))
		}
		if len(xs) == 0 {
			continue
		}
		if len(xs) == 1 { // one size: a short level line, so that it shows
			d := lg(1.6)
			xs, rs, bs = []float64{xs[0] - d, xs[0] + d}, []float64{rs[0], rs[0]}, []float64{bs[0], bs[0]}
		}
		none := make([]bool, len(xs)) // no markers: it is not a measurement of ipc
		refLines = append(refLines, polyline{xs: xs, ys: rs, look: refLook, marks: none}, polyline{xs: xs, ys: bs, look: refLook, marks: none})
		legend.Add(ref.Label, refThumb{})
		refNames = append(refNames, ref.Label)
	}
	tw.Flush()
	lines = append(refLines, lines...)
	for i, l := range lines {
		if i%2 == 0 {
			rate.Add(l.(polyline))
		} else {
			data.Add(l.(polyline))
		}
	}
	xlo, xhi := float64(t.sizes[0]), float64(t.sizes[len(t.sizes)-1])
	for _, s := range t.sizes {
		if s > 0 {
			xlo = float64(s)
			break
		}
	}
	for _, p := range []*plot.Plot{rate, data} {
		p.X.Min, p.X.Max = lg(xlo/1.5), lg(xhi*1.5)
		if xhi/xlo < 4 {
			p.X.Min, p.X.Max = lg(xlo/3), lg(xhi*3)
		}
	}
	rate.Y.Min, rate.Y.Max = logRange(rmin, rmax, 1.5)
	data.Y.Min, data.Y.Max = logRange(bmin, bmax, 1.5)

	spreadNote := "bands span the slowest to the fastest trial"
	if !useBands {
		spreadNote = "error bars span the slowest to the fastest trial"
	}
	f.subtitle = fmt.Sprintf("stream mode, %d transports × %d sizes; lines are medians over %s, %s",
		len(order), len(t.sizes), plural(trials, "trial"), spreadNote)
	if len(refNames) > 0 {
		f.subtitle += "; grey dashes: " + strings.Join(refNames, ", ")
	}
	if stacked {
		f.panels = [][]*plot.Plot{{rate}, {data}}
	} else {
		f.panels = [][]*plot.Plot{{rate, data}}
	}
	f.legend = legend
	f.alt = f.subtitle + "\n" + alt.String()
	return f, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
