package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// figure is a chart laid out and ready to draw at any size: a title, an
// optional subtitle, a grid of panels, a legend in its own column to the
// right of the panels (so it never covers data) and a caption line.
type figure struct {
	title, subtitle, caption string
	panels                   [][]*plot.Plot
	legend                   *plot.Legend
	alt                      string
	width, height            int // default size in CSS pixels
}

func (f *figure) draw(c draw.Canvas) {
	fillBackground(c)
	pad := vg.Points(9)
	c = draw.Crop(c, pad, -pad, pad*0.7, -pad)
	width := c.Max.X - c.Min.X
	if f.title != "" {
		sty := textStyle(13, true, color.Black)
		sty.YAlign = draw.YTop
		t := ellipsize(f.title, sty, width)
		c.FillText(sty, vg.Point{X: c.Min.X, Y: c.Max.Y}, t)
		c.Max.Y -= sty.Height(t) + vg.Points(3)
	}
	if f.subtitle != "" {
		sty := textStyle(9, false, inkGrey)
		sty.YAlign = draw.YTop
		t := ellipsize(f.subtitle, sty, width)
		c.FillText(sty, vg.Point{X: c.Min.X, Y: c.Max.Y}, t)
		c.Max.Y -= sty.Height(t) + vg.Points(3)
	}
	c.Max.Y -= vg.Points(4)
	if f.caption != "" {
		// Wrapped, never cut: the caption says what was run. A caption
		// that would take more than a third of the height gets smaller type.
		sty := textStyle(7.5, false, inkGrey)
		sty.YAlign = draw.YBottom
		lines := wrap(f.caption, sty, width)
		for sty.Font.Size > 5.5 && vg.Length(len(lines))*(sty.Height("x")+vg.Points(1)) > (c.Max.Y-c.Min.Y)/3 {
			sty.Font.Size -= 0.5
			lines = wrap(f.caption, sty, width)
		}
		for i := len(lines) - 1; i >= 0; i-- {
			c.FillText(sty, vg.Point{X: c.Min.X, Y: c.Min.Y}, lines[i])
			c.Min.Y += sty.Height(lines[i]) + vg.Points(1)
		}
		c.Min.Y += vg.Points(5)
	}
	if f.legend != nil {
		l := *f.legend
		l.Top, l.Left = true, true
		avail := c.Max.Y - c.Min.Y
		// Shrink the legend's text until it fits the height and takes at
		// most 40% of the width.
		for l.TextStyle.Font.Size > 5.5 {
			r := l.Rectangle(c)
			if r.Max.Y-r.Min.Y <= avail && r.Max.X-r.Min.X <= width*0.4 {
				break
			}
			l.TextStyle.Font.Size -= 0.5
		}
		r := l.Rectangle(c)
		lw := r.Max.X - r.Min.X
		lc := c
		lc.Min.X = c.Max.X - lw
		lc.Max.Y -= vg.Points(2)
		l.Draw(lc)
		c.Max.X -= lw + vg.Points(14)
	}
	if len(f.panels) == 0 || len(f.panels[0]) == 0 {
		return
	}
	// Panel titles are drawn here, centred over the data areas that Align
	// lines up, rather than by each plot over its own (unaligned) tile.
	titleSty := textStyle(10, true, color.Black)
	titleSty.XAlign, titleSty.YAlign = draw.XCenter, draw.YBottom
	titles := make([][]string, len(f.panels))
	titleH := vg.Length(0)
	for j, row := range f.panels {
		titles[j] = make([]string, len(row))
		for i, p := range row {
			if p != nil && p.Title.Text != "" {
				titles[j][i] = p.Title.Text
				titleH = titleSty.Height(p.Title.Text) + vg.Points(4)
				p.Title.Text = ""
			}
		}
	}
	defer func() {
		for j, row := range f.panels {
			for i, p := range row {
				if p != nil {
					p.Title.Text = titles[j][i]
				}
			}
		}
	}()
	tiles := draw.Tiles{Rows: len(f.panels), Cols: len(f.panels[0]), PadX: vg.Points(16), PadY: vg.Points(14) + titleH, PadTop: titleH}
	canvases := plot.Align(f.panels, tiles, c)
	// A chart drawn too small leaves panels with no room, or with NaN
	// bounds on which the rasteriser never returns: say so instead.
	for j, row := range f.panels {
		for i, p := range row {
			if p == nil {
				continue
			}
			if dc := p.DataCanvas(canvases[j][i]); !roomy(canvases[j][i].Rectangle) || !roomy(dc.Rectangle) {
				sty := textStyle(9, false, inkGrey)
				sty.YAlign = draw.YTop
				msg := fmt.Sprintf("Too small to draw %d panels here: make the chart larger with Size(width, height).", len(row)*len(f.panels))
				for k, line := range wrap(msg, sty, width) {
					c.FillText(sty, vg.Point{X: c.Min.X, Y: c.Max.Y - vg.Length(k)*sty.Height(line)}, line)
				}
				return
			}
		}
	}
	// Shorten every panel title alike ("128 KiB messages" to "128 KiB")
	// when one does not fit over its panel.
	short := false
	for j, row := range f.panels {
		for i, p := range row {
			if p != nil && titles[j][i] != "" {
				dc := p.DataCanvas(canvases[j][i])
				short = short || titleSty.Width(titles[j][i]) > dc.Max.X-dc.Min.X
			}
		}
	}
	for j, row := range f.panels {
		top := vg.Length(math.Inf(-1))
		for i, p := range row {
			if p != nil {
				top = max(top, p.DataCanvas(canvases[j][i]).Max.Y)
			}
		}
		for i, p := range row {
			if p == nil {
				continue
			}
			p.Draw(canvases[j][i])
			if t := titles[j][i]; t != "" {
				dc := p.DataCanvas(canvases[j][i])
				sty := titleSty
				if short {
					t = strings.TrimSuffix(t, " messages")
				}
				t = ellipsize(t, sty, dc.Max.X-dc.Min.X)
				dc.FillText(sty, vg.Point{X: dc.Center().X, Y: top + vg.Points(5)}, t)
			}
		}
	}
}

// roomy reports whether r has finite bounds and room for a panel's data.
func roomy(r vg.Rectangle) bool {
	for _, v := range []vg.Length{r.Min.X, r.Min.Y, r.Max.X, r.Max.Y} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return r.Max.X-r.Min.X >= vg.Points(24) && r.Max.Y-r.Min.Y >= vg.Points(24)
}

// ellipsize shortens s with "…" until it fits w.
func ellipsize(s string, sty interface{ Width(string) vg.Length }, w vg.Length) string {
	if sty.Width(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && sty.Width(string(r)+"…") > w {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// newPanel returns an empty plot in the theme: sans-serif text, light grid.
func newPanel(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle = textStyle(10, true, color.Black)
	p.Title.TextStyle.XAlign, p.Title.TextStyle.YAlign = draw.XCenter, draw.YTop
	p.Title.Padding = vg.Points(4)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle = textStyle(9, false, color.Black)
		a.Tick.Label = textStyle(8, false, color.NRGBA{0x33, 0x33, 0x33, 0xff})
		a.Color = inkGrey
		a.Tick.Color = inkGrey
		a.Width = vg.Points(0.6)
		a.Tick.Width = vg.Points(0.6)
		a.Padding = vg.Points(3)
	}
	p.X.Label.TextStyle.XAlign = draw.XCenter
	p.Y.Label.TextStyle.XAlign = draw.XCenter
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XCenter, draw.YTop
	p.Y.Tick.Label.XAlign, p.Y.Tick.Label.YAlign = draw.XRight, draw.YCenter
	g := plotter.NewGrid()
	g.Vertical = draw.LineStyle{Color: gridGrey, Width: vg.Points(0.5)}
	g.Horizontal = g.Vertical
	p.Add(g)
	return p
}

// newLegend returns an empty legend in the theme.
func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.TextStyle = textStyle(8.5, false, color.Black)
	l.ThumbnailWidth = vg.Points(24)
	l.Padding = vg.Points(2.5)
	l.YPosition = draw.PosCenter
	return &l
}

// lineThumb draws a transport's line and marker in a legend.
type lineThumb struct{ look look }

func (t lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(t.look.lineStyle(), c.Min.X, y, c.Max.X, y)
	c.DrawGlyph(t.look.glyphStyle(), c.Center())
}

func (l look) lineStyle() draw.LineStyle {
	return draw.LineStyle{Color: l.color, Width: vg.Points(1.4), Dashes: l.dash}
}

func (l look) glyphStyle() draw.GlyphStyle {
	return draw.GlyphStyle{Color: l.color, Radius: vg.Points(2.6), Shape: l.glyph}
}

// lg maps a value to the coordinates charts draw in. Log axes are linear axes
// over log10 of the data: gonum/plot's LogScale places an axis title's glyph
// box at the linear midpoint of the data, which on a log axis pushes it far
// off-centre and squeezes the panel to make room for it.
func lg(v float64) float64 { return math.Log10(v) }

// unlg is the inverse of lg.
func unlg(v float64) float64 { return math.Pow(10, v) }

// log2Ticks marks message sizes: the measured sizes labelled (64 B, 4 KiB,
// 1 MiB) when there are at most maxLabels of them, else every k-th power of
// two (k = 1, 2, 3, 4, 5 or 10, the smallest that fits), in the phase that
// labels the most measured sizes; the other powers of two are minor ticks.
func log2Ticks(maxLabels int, measured []int) plot.Ticker {
	maxLabels = max(maxLabels, 2)
	return plot.TickerFunc(func(lmin, lmax float64) []plot.Tick {
		vmin, vmax := unlg(lmin), unlg(lmax)
		lo, hi := int(math.Ceil(math.Log2(vmin)-1e-9)), int(math.Floor(math.Log2(vmax)+1e-9))
		var ticks []plot.Tick
		if len(measured) > 0 && len(measured) <= maxLabels {
			// Measured sizes closer than a label's room (the axis over
			// maxLabels) to the last labelled one get a tick, no label:
			// "256 KiB" and "1 MiB" never run into each other.
			room := (lmax - lmin) / float64(maxLabels)
			labelled := map[float64]bool{}
			last := math.Inf(-1)
			for _, s := range slices.Sorted(slices.Values(measured)) {
				if s <= 0 || labelled[float64(s)] {
					continue
				}
				t := plot.Tick{Value: lg(float64(s))}
				if t.Value-last >= room*0.999 {
					t.Label = formatBytes(s)
					last = t.Value
				}
				ticks = append(ticks, t)
				labelled[float64(s)] = true
			}
			for e := lo; e <= hi; e++ {
				if v := math.Exp2(float64(e)); !labelled[v] {
					ticks = append(ticks, plot.Tick{Value: lg(v)})
				}
			}
			return ticks
		}
		if hi < lo {
			return []plot.Tick{{Value: lmin, Label: formatBytes(int(vmin))}, {Value: lmax, Label: formatBytes(int(vmax))}}
		}
		step := 10
		for _, s := range []int{1, 2, 3, 4, 5, 10} {
			if (hi-lo)/s+1 <= maxLabels {
				step = s
				break
			}
		}
		// Pick the phase that labels the most measured sizes.
		phase, best := 0, -1
		for ph := range step {
			n := 0
			for _, s := range measured {
				if e := math.Log2(float64(s)); e == math.Trunc(e) && ((int(e)-ph)%step+step)%step == 0 {
					n++
				}
			}
			if n > best {
				phase, best = ph, n
			}
		}
		for e := lo; e <= hi; e++ {
			v := math.Exp2(float64(e))
			t := plot.Tick{Value: lg(v)}
			if ((e-phase)%step+step)%step == 0 {
				t.Label = formatBytes(int(v))
			}
			ticks = append(ticks, t)
		}
		return ticks
	})
}

// log10Ticks marks powers of ten labelled by format (1k, 10M, 1 GB/s, 1 µs),
// adding 2 and 5 when the range spans two decades or less and thinning the
// labels when it spans many.
func log10Ticks(format func(float64) string, maxLabels int) plot.Ticker {
	return plot.TickerFunc(func(lmin, lmax float64) []plot.Tick {
		vmin, vmax := unlg(lmin), unlg(lmax)
		lo, hi := int(math.Floor(lmin+1e-9)), int(math.Ceil(lmax-1e-9))
		decades := hi - lo
		step := 1
		for (decades/step)+1 > max(maxLabels, 2) {
			step++
		}
		var ticks []plot.Tick
		for e := lo; e <= hi; e++ {
			base := math.Pow10(e)
			for m := 1; m < 10; m++ {
				v := base * float64(m)
				if v < vmin*(1-1e-9) || v > vmax*(1+1e-9) {
					continue
				}
				t := plot.Tick{Value: lg(v)}
				if (m == 1 && e%step == 0) || (decades <= 2 && (m == 2 || m == 5)) {
					t.Label = format(v)
				}
				ticks = append(ticks, t)
			}
		}
		return ticks
	})
}

// logRange returns the chart coordinates of a log axis around [lo, hi],
// padded by a factor on each side and spanning at least a decade.
func logRange(lo, hi, pad float64) (float64, float64) {
	if lo <= 0 || hi <= 0 || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return 0, 1
	}
	l, h := lg(lo/pad), lg(hi*pad)
	if h-l < 1 {
		mid := (l + h) / 2
		l, h = mid-0.5, mid+0.5
	}
	return l, h
}

// snapDecades returns the chart coordinates of [lo, hi] widened to whole
// powers of ten.
func snapDecades(lo, hi float64) (float64, float64) {
	return math.Floor(lg(lo)), math.Ceil(lg(hi))
}
