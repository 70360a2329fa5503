package verdict

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ipclab/ipclab/display"
	"github.com/ipclab/ipclab/plots"
)

// Chart is a horizontal bar chart of numbers that are not ipc results:
// lost updates, system calls per message, lines of code, a scoreboard of
// ratios. A bar whose name starts with a transport's name ("pipe, 64 B") is
// drawn in that transport's colour (plots.Color).
type Chart struct {
	title string
	nums  []Number
	ratio bool
	w, h  int
}

// Bars charts nums on a linear axis from zero.
func Bars(title string, nums ...Number) Chart {
	return Chart{title: title, nums: nums}
}

// RatioBars charts ratios (×) on a logarithmic axis around ×1: a bar to the
// right is a ratio above one, to the left below one.
func RatioBars(title string, nums ...Number) Chart {
	return Chart{title: title, nums: nums, ratio: true}
}

// Size sets the chart's size in CSS pixels (default 640 wide, 28 px a bar).
func (c Chart) Size(width, height int) Chart {
	c.w, c.h = width, height
	return c
}

func (c Chart) size() (int, int) {
	w, h := c.w, c.h
	if w <= 0 {
		w = 640
	}
	if h <= 0 {
		h = 90 + 28*len(c.nums)
	}
	return w, h
}

// String lists the chart's numbers, its alt text.
func (c Chart) String() string {
	var b strings.Builder
	b.WriteString(c.title + "\n")
	for _, n := range c.nums {
		fmt.Fprintf(&b, "  %s: %s\n", n.Name, n)
	}
	return b.String()
}

// SVG draws the chart. A chart that cannot be drawn shows why as its text.
func (c Chart) SVG() string {
	b, err := c.svg()
	if err != nil {
		return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="640" height="40"><text x="4" y="24">%s</text></svg>`, html.EscapeString(err.Error()))
	}
	return string(b)
}

// Render is the display bundle: an HTML <img> of the SVG (nbconvert keeps
// it), the SVG, and the numbers as text.
func (c Chart) Render() display.Data {
	svg, err := c.svg()
	if err != nil {
		return display.Text(c.title + ": " + err.Error())
	}
	w, h := c.size()
	img := fmt.Sprintf(`<img class="ipclab-chart" src="data:image/svg+xml;base64,%s" width="%d" height="%d" alt="%s">`,
		base64.StdEncoding.EncodeToString(svg), w, h, html.EscapeString(c.title))
	return display.MIME(display.MIMEMap{
		display.MIMETypeHTML: img,
		display.MIMETypeSVG:  string(svg),
		display.MIMETypeText: c.String(),
	}, display.MIMEMap{display.MIMETypeSVG: display.MIMEMap{"width": w, "height": h}})
}

func (c Chart) svg() (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("draw chart %q: %v", c.title, r)
		}
	}()
	if len(c.nums) == 0 {
		return nil, fmt.Errorf("chart %q: no numbers", c.title)
	}
	p := plot.New()
	p.Title.Text = c.title
	p.Title.TextStyle.Font.Size = vg.Points(10)
	p.X.Tick.Label.Font.Size = vg.Points(9)
	p.Y.Tick.Label.Font.Size = vg.Points(9)
	p.X.Label.TextStyle.Font.Size = vg.Points(9)
	n := len(c.nums)
	names := make([]string, n)
	labels := plotter.XYLabels{XYs: make(plotter.XYs, n), Labels: make([]string, n)}
	unit := ""
	var lo, hi float64
	for i, num := range c.nums {
		// The first bar on top.
		row := n - 1 - i
		names[row] = label(num.Name)
		v := num.Value
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v = 0
		}
		if c.ratio {
			if v > 0 {
				v = math.Log10(v)
			} else {
				v = 0
			}
		}
		vals := make(plotter.Values, n)
		vals[row] = v
		bar, err := plotter.NewBarChart(vals, vg.Points(14))
		if err != nil {
			return nil, err
		}
		bar.Horizontal = true
		bar.Color = barColour(num, c.ratio)
		bar.LineStyle.Width = 0
		p.Add(bar)
		labels.XYs[row] = plotter.XY{X: v, Y: float64(row)}
		labels.Labels[row] = " " + num.String() + " "
		lo, hi = math.Min(lo, v), math.Max(hi, v)
		if unit == "" {
			unit = num.Unit
		}
	}
	p.NominalY(names...)
	lbl, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	for i := range lbl.TextStyle {
		lbl.TextStyle[i].Font.Size = vg.Points(8)
		if labels.XYs[i].X < 0 {
			lbl.TextStyle[i].XAlign = draw.XRight
		}
	}
	p.Add(lbl)
	span := hi - lo
	if span == 0 {
		span = 1
	}
	p.X.Min, p.X.Max = lo-0.25*span, hi+0.3*span
	if lo == 0 {
		p.X.Min = 0
	}
	if c.ratio {
		p.Add(plotter.NewGrid())
		p.X.Label.Text = "ratio (log scale; ×1 = equal)"
		p.X.Tick.Marker = ratioTicks{}
		p.X.Min, p.X.Max = math.Min(p.X.Min, -0.3), math.Max(p.X.Max, 0.3)
	} else if unit != "" {
		p.X.Label.Text = unit
	}
	w, h := c.size()
	cv := vgsvg.New(vg.Length(w)*0.75, vg.Length(h)*0.75)
	// Margins for text drawn wider than measured (see label).
	wpt := vg.Length(w) * 0.75
	p.Draw(draw.Crop(draw.New(cv), wpt*0.07, -wpt*0.03, 0, 0))
	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("write svg: %w", err)
	}
	return bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")), nil
}

// label shortens a bar's name to 56 characters and pads it with spaces: a
// viewer without Liberation Sans (whose widths gonum/plot measures) draws
// wider text, which the padding keeps off the bars.
func label(name string) string {
	r := []rune(name)
	if len(r) > 56 {
		r = append(r[:55], '…')
	}
	return string(r) + strings.Repeat(" ", len(r)/8+1)
}

func barColour(n Number, ratio bool) color.Color {
	if ratio {
		if n.Value >= 1 {
			return color.NRGBA{0x00, 0x72, 0xB2, 0xff}
		}
		return color.NRGBA{0xD5, 0x5E, 0x00, 0xff}
	}
	name := n.Name
	if i := strings.IndexAny(name, " ,:("); i > 0 {
		name = name[:i]
	}
	return plots.Color(name)
}

// ratioTicks labels a log10 axis as ×0.1, ×1, ×10 ….
type ratioTicks struct{}

func (ratioTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(min); e <= math.Ceil(max); e++ {
		ts = append(ts, plot.Tick{Value: e, Label: "×" + Format(math.Pow(10, e), "")})
	}
	return ts
}
