package plots

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The plotters below draw in chart coordinates (lg of the data on log axes)
// on axes whose ranges the chart sets itself, so they report no data ranges.

// band fills the area between lo and hi, the spread of the trials.
type band struct {
	xs, lo, hi []float64
	color      color.NRGBA
}

func (b band) Plot(c draw.Canvas, p *plot.Plot) {
	if len(b.xs) < 2 {
		return
	}
	trX, trY := p.Transforms(&c)
	pts := make([]vg.Point, 0, 2*len(b.xs))
	for i, x := range b.xs {
		pts = append(pts, vg.Point{X: trX(x), Y: trY(b.lo[i])})
	}
	for i := len(b.xs) - 1; i >= 0; i-- {
		pts = append(pts, vg.Point{X: trX(b.xs[i]), Y: trY(b.hi[i])})
	}
	c.FillPolygon(b.color, c.ClipPolygonXY(pts))
}

// whiskers draws a capped vertical line from lo to hi at each x, for trial
// spreads when there are too few sizes for a band.
type whiskers struct {
	xs, lo, hi []float64
	color      color.NRGBA
}

func (w whiskers) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: w.color, Width: vg.Points(1)}
	cap := vg.Points(3)
	for i, x := range w.xs {
		X, lo, hi := trX(x), trY(w.lo[i]), trY(w.hi[i])
		c.StrokeLines(sty, c.ClipLinesXY([]vg.Point{{X: X, Y: lo}, {X: X, Y: hi}})...)
		c.StrokeLines(sty, c.ClipLinesXY([]vg.Point{{X: X - cap, Y: lo}, {X: X + cap, Y: lo}})...)
		c.StrokeLines(sty, c.ClipLinesXY([]vg.Point{{X: X - cap, Y: hi}, {X: X + cap, Y: hi}})...)
	}
}

// polyline draws one transport's series as a line with a marker at each
// point, or markers only where marks is set.
type polyline struct {
	xs, ys []float64
	look   look
	marks  []bool // when not nil, which points get a marker
}

func (l polyline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	pts := make([]vg.Point, 0, len(l.xs))
	for i := range l.xs {
		pts = append(pts, vg.Point{X: trX(l.xs[i]), Y: trY(l.ys[i])})
	}
	if len(pts) > 1 {
		c.StrokeLines(l.look.lineStyle(), c.ClipLinesXY(pts)...)
	}
	g := l.look.glyphStyle()
	for i, pt := range pts {
		if l.marks == nil || l.marks[i] {
			c.DrawGlyph(g, pt)
		}
	}
}

// hbar is one row of a horizontal bar chart.
type hbar struct {
	y        float64
	end      float64     // where the bar ends (p50, or the speed-up)
	tail     float64     // a marker beyond the bar (p99), or NaN
	color    color.NRGBA // the transport's colour
	label    string
	baseline bool // draw a marker at the base instead of a bar
}

// hbars draws horizontal bars from base with their labels.
type hbars struct {
	rows []hbar
	base float64
}

var (
	p50Glyph = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(2.4), Shape: draw.CircleGlyph{}}
	p99Glyph = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(3), Shape: draw.TriangleGlyph{}}
)

func (h hbars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := textStyle(7.5, false, color.NRGBA{0x22, 0x22, 0x22, 0xff})
	sty.YAlign = draw.YCenter
	slot := trY(1) - trY(0)
	if slot < 0 {
		slot = -slot
	}
	half := slot * 0.32
	base := trX(h.base)
	for _, r := range h.rows {
		y := trY(r.y)
		end := trX(r.end)
		if r.baseline {
			c.StrokeLine2(draw.LineStyle{Color: r.color, Width: vg.Points(2.5)}, end, y-half, end, y+half)
		} else {
			x0, x1 := base, end
			if x1 < x0 {
				x0, x1 = x1, x0
			}
			rect := vg.Rectangle{Min: vg.Point{X: x0, Y: y - half}, Max: vg.Point{X: x1, Y: y + half}}
			c.SetColor(fade(r.color, 0.85))
			c.Fill(rect.Path())
		}
		right := math.Max(float64(end), float64(base))
		if !math.IsNaN(r.tail) && !r.baseline {
			tail := trX(r.tail)
			c.StrokeLine2(draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}, end, y, tail, y)
			c.DrawGlyph(p50Glyph, vg.Point{X: end, Y: y})
			c.DrawGlyph(p99Glyph, vg.Point{X: tail, Y: y})
			right = math.Max(right, float64(tail)+float64(p99Glyph.Radius))
		}
		if r.label == "" {
			continue
		}
		if r.end < h.base && !r.baseline {
			// Slower than the base: label just right of the base line,
			// where the row is empty.
			s := sty
			s.XAlign = draw.XLeft
			c.FillText(s, vg.Point{X: base + vg.Points(4), Y: y}, r.label)
		} else {
			s := sty
			s.XAlign = draw.XLeft
			c.FillText(s, vg.Point{X: vg.Length(right) + vg.Points(3), Y: y}, r.label)
		}
	}
}

// vline draws a vertical reference line at x.
type vline struct {
	x     float64
	style draw.LineStyle
}

func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(v.x)
	c.StrokeLine2(v.style, x, c.Min.Y, x, c.Max.Y)
}

// glyphThumb draws a glyph in a legend.
type glyphThumb struct{ g draw.GlyphStyle }

func (t glyphThumb) Thumbnail(c *draw.Canvas) { c.DrawGlyph(t.g, c.Center()) }

// barThumb draws a bar in a legend.
type barThumb struct{ color color.NRGBA }

func (t barThumb) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	cy := c.Center().Y
	h := (r.Max.Y - r.Min.Y) * 0.35
	c.SetColor(t.color)
	c.Fill(vg.Rectangle{Min: vg.Point{X: r.Min.X, Y: cy - h}, Max: vg.Point{X: r.Max.X, Y: cy + h}}.Path())
}
