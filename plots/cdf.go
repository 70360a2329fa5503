package plots

import (
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"

	"github.com/ipclab/ipclab/ipc"
)

// cdfPoints returns a result's distribution as (round-trip time, fraction)
// points: all 101 quantiles when recorded, else p50, p90, p99 and max.
func cdfPoints(r ipc.Result) (xs, ys []float64, marks []bool, full bool) {
	if len(r.RTTQuantiles) >= 2 {
		n := len(r.RTTQuantiles) - 1
		for i, q := range r.RTTQuantiles {
			xs = append(xs, float64(q))
			ys = append(ys, float64(i)/float64(n))
			// Mark p50 and p99 so that lines can be told apart without colour.
			marks = append(marks, i*100 == 50*n || i*100 == 99*n)
		}
		return xs, ys, marks, true
	}
	for _, p := range []struct {
		d time.Duration
		f float64
	}{{r.RTTp50, 0.5}, {r.RTTp90, 0.9}, {r.RTTp99, 0.99}, {r.RTTMax, 1}} {
		if p.d > 0 {
			xs, ys, marks = append(xs, float64(p.d)), append(ys, p.f), append(marks, true)
		}
	}
	return xs, ys, marks, false
}

// quantile returns the round-trip time at fraction f of a full quantile list.
func quantile(qs []time.Duration, f float64) time.Duration {
	return qs[int(math.Round(f*float64(len(qs)-1)))]
}

func (c Chart) cdf() (*figure, error) {
	t, sizes, err := c.pingPongTable(3)
	if err != nil {
		return nil, err
	}
	order := byP50(t, sizes[0])
	lo, hi := math.Inf(1), math.Inf(-1)
	var alt strings.Builder
	tw := tabwriter.NewWriter(&alt, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "transport\tsize\tmin\tp10\tp25\tp50\tp75\tp90\tp99\tmax")
	partial := false
	panels := make([]*plot.Plot, len(sizes))
	for i, size := range sizes {
		p := newPanel(formatBytes(size) + " messages")
		p.X.Label.Text = "round-trip time (log scale)"
		p.X.Tick.Marker = log10Ticks(durationTick, (c.pixels(&figure{width: 900}).w-220)/len(sizes)/42)
		p.Y.Min, p.Y.Max = 0, 1
		p.Y.Label.Text = "share of round trips ≤ time"
		p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{
			{Value: 0, Label: "0%"}, {Value: 0.25, Label: "25%"}, {Value: 0.5, Label: "50%"},
			{Value: 0.75, Label: "75%"}, {Value: 0.9, Label: "90%"}, {Value: 0.99, Label: ""}, {Value: 1, Label: "100%"},
		})
		if i > 0 {
			p.Y.Label.Text = ""
		}
		panels[i] = p
		for _, tr := range order {
			r, ok := t.get(tr, size)
			if !ok {
				continue
			}
			xs, ys, marks, full := cdfPoints(r)
			if len(xs) == 0 {
				continue
			}
			if full {
				q := r.RTTQuantiles
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", tr, formatBytes(size),
					formatDuration(q[0]), formatDuration(quantile(q, .1)), formatDuration(quantile(q, .25)),
					formatDuration(quantile(q, .5)), formatDuration(quantile(q, .75)), formatDuration(quantile(q, .9)),
					formatDuration(quantile(q, .99)), formatDuration(q[len(q)-1]))
			} else {
				partial = true
				fmt.Fprintf(tw, "%s\t%s\t–\t–\t–\t%s\t–\t%s\t%s\t%s\n", tr, formatBytes(size),
					formatDuration(r.RTTp50), formatDuration(r.RTTp90), formatDuration(r.RTTp99), formatDuration(r.RTTMax))
			}
			var lxs, lys []float64
			var lmarks []bool
			for k, x := range xs {
				if x > 0 {
					lo, hi = math.Min(lo, x), math.Max(hi, x)
					lxs, lys, lmarks = append(lxs, lg(x)), append(lys, ys[k]), append(lmarks, marks[k])
				}
			}
			p.Add(polyline{xs: lxs, ys: lys, look: lookOf(tr), marks: lmarks})
		}
	}
	tw.Flush()
	if math.IsInf(lo, 0) {
		return nil, fmt.Errorf("%w: no round-trip times recorded", ErrNoData)
	}
	xmin, xmax := snapDecades(lo/1.2, hi*1.2)
	for _, p := range panels {
		p.X.Min, p.X.Max = xmin, xmax
	}
	legend := newLegend()
	for _, tr := range order {
		legend.Add(t.shortMark(tr), lineThumb{lookOf(tr)})
	}
	sub := fmt.Sprintf("ping-pong mode, %d transports; markers at p50 and p99; further left is faster, a long tail to the right is jitter", len(order))
	if partial {
		sub = fmt.Sprintf("ping-pong mode, %d transports; some results carry only p50, p90, p99 and max (markers)", len(order))
	}
	f := &figure{
		title:    "Round-trip latency distribution",
		subtitle: sub,
		caption:  captionOf(drawn(c.results, ipc.PingPong, t)),
		panels:   [][]*plot.Plot{panels},
		legend:   legend,
		width:    900,
		height:   440,
	}
	f.alt = sub + "\n" + alt.String()
	return f, nil
}
