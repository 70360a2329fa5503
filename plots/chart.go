package plots

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"image/color"
	"image/png"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ipclab/ipclab/display"
	"github.com/ipclab/ipclab/ipc"
)

// Chart is one chart of a set of results. It is a value: the option methods
// return a changed copy, and nothing is drawn until the chart is shown or
// written. A chart that cannot be drawn (no results of the right mode, only
// zeros) shows why as text instead.
type Chart struct {
	kind     kind
	results  ipc.Results
	width    int // pixels; 0 picks a size that suits the data
	height   int
	title    string
	caption  *string
	sizes    []int
	baseline string
	mode     ipc.Mode
	refs     []Reference // throughput charts: reference lines
}

type kind int

const (
	throughputChart kind = iota
	latencyChart
	cdfChart
	speedupChart
	costsChart
)

func (k kind) String() string {
	return [...]string{"throughput", "latency", "latency CDF", "speed-up", "costs"}[k]
}

// Errors a chart reports (through Err, and as its text when shown).
var (
	// ErrNoData means the results hold nothing this kind of chart can show.
	ErrNoData = errors.New("no data to plot")
	// ErrNoBaseline means the speed-up baseline is not among the results.
	ErrNoBaseline = errors.New("baseline transport not in results")
)

// Size sets the chart's size in CSS pixels; the PNG has exactly this many
// pixels and the SVG shows at this size.
func (c Chart) Size(width, height int) Chart {
	c.width, c.height = width, height
	return c
}

// Title replaces the chart's title.
func (c Chart) Title(title string) Chart {
	c.title = title
	return c
}

// Caption replaces the line under the chart that names the machine, the Go
// version and the date; an empty caption removes it.
func (c Chart) Caption(caption string) Chart {
	c.caption = &caption
	return c
}

// MessageSizes chooses the message sizes, in bytes, that latency, CDF and
// speed-up charts draw a panel for (by default up to four, smallest to
// largest), and that throughput charts draw.
func (c Chart) MessageSizes(bytes ...int) Chart {
	c.sizes = append([]int(nil), bytes...)
	return c
}

// Mode chooses whether a speed-up chart compares stream throughput or
// ping-pong latency; by default it compares throughput when the results have
// any.
func (c Chart) Mode(m ipc.Mode) Chart {
	c.mode = m
	return c
}

// Err reports why the chart cannot be drawn, or nil.
func (c Chart) Err() error {
	_, err := c.build()
	return err
}

// SVG returns the chart as an SVG document. Its text is real <text>, in
// Liberation Sans with Arial and sans-serif as fallbacks.
func (c Chart) SVG() string {
	b, err := c.encode("svg")
	if err != nil {
		b, _ = encodeMessage(err.Error(), c.pixels(nil), "svg")
	}
	return string(b)
}

// PNG returns the chart as a PNG image of exactly the chart's size.
func (c Chart) PNG() []byte {
	b, err := c.encode("png")
	if err != nil {
		b, _ = encodeMessage(err.Error(), c.pixels(nil), "png")
	}
	return b
}

// String returns the chart's alt text: its title, the machine and every
// number it draws.
func (c Chart) String() string {
	f, err := c.build()
	if err != nil {
		return err.Error()
	}
	return f.alt
}

// Render returns one display bundle with the chart as an HTML <img> of its
// SVG (crisp in front ends and HTML exports), as SVG, as PNG (for front ends
// without either) and as text listing its numbers. A chart that cannot be
// drawn renders as the reason why.
func (c Chart) Render() display.Data {
	f, err := c.build()
	if err != nil {
		return display.Text(err.Error())
	}
	s := c.pixels(f)
	svg, err1 := c.encodeFigure(f, "svg")
	png, err2 := c.encodeFigure(f, "png")
	if err := errors.Join(err1, err2); err != nil {
		return display.Text(err.Error())
	}
	return display.MIME(display.MIMEMap{
		// text/html leads: front ends and nbconvert prefer it, and some
		// nbconvert versions (Debian's 6.5) strip inline SVG of everything
		// but its text. An <img> of the same SVG stays crisp everywhere.
		display.MIMETypeHTML: svgImage(svg, s, f.alt),
		display.MIMETypeSVG:  string(svg),
		display.MIMETypePNG:  display.Any(display.MIMETypePNG, png).Data[display.MIMETypePNG],
		display.MIMETypeText: f.alt,
	}, display.MIMEMap{
		display.MIMETypePNG: display.MIMEMap{"width": s.w, "height": s.h},
		display.MIMETypeSVG: display.MIMEMap{"width": s.w, "height": s.h},
	})
}

// svgImage is an HTML <img> showing svg at s, with the alt text's first line.
func svgImage(svg []byte, s size, alt string) string {
	first, _, _ := strings.Cut(alt, "\n")
	return fmt.Sprintf(`<img src="data:image/svg+xml;base64,%s" width="%d" height="%d" alt="%s">`,
		base64.StdEncoding.EncodeToString(svg), s.w, s.h, html.EscapeString(first))
}

// size is a width and height in CSS pixels.
type size struct{ w, h int }

// pixels returns the size the chart is drawn at: the one asked for, else the
// figure's own.
func (c Chart) pixels(f *figure) size {
	s := size{900, 440}
	if f != nil {
		s = size{f.width, f.height}
	}
	if c.width > 0 {
		s.w = c.width
	}
	if c.height > 0 {
		s.h = c.height
	}
	return s
}

// build turns the results into a figure, or says why it cannot.
func (c Chart) build() (f *figure, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("plots: %s chart: %v", c.kind, r)
		}
	}()
	switch c.kind {
	case throughputChart:
		f, err = c.throughput()
	case latencyChart:
		f, err = c.latency()
	case cdfChart:
		f, err = c.cdf()
	case speedupChart:
		f, err = c.speedup()
	case costsChart:
		f, err = c.costs()
	default:
		err = fmt.Errorf("unknown chart kind %d", c.kind)
	}
	if err != nil {
		return nil, fmt.Errorf("plots: %s chart: %w", c.kind, err)
	}
	if c.title != "" {
		f.title = c.title
	}
	if c.caption != nil {
		f.caption = *c.caption
	}
	f.alt = f.title + "\n" + captionOrNone(f.caption) + f.alt
	return f, nil
}

func captionOrNone(s string) string {
	if s == "" {
		return ""
	}
	return s + "\n"
}

// encode draws the chart as "svg" or "png".
func (c Chart) encode(format string) ([]byte, error) {
	f, err := c.build()
	if err != nil {
		return nil, err
	}
	return c.encodeFigure(f, format)
}

// encodeFigure draws a built figure as "svg" or "png".
func (c Chart) encodeFigure(f *figure, format string) ([]byte, error) {
	s := c.pixels(f)
	if s.w < 120 || s.h < 80 || s.w > 8000 || s.h > 8000 {
		return nil, fmt.Errorf("plots: %s chart: size %d×%d px is outside 120×80 … 8000×8000", c.kind, s.w, s.h)
	}
	b, err := encode(format, s, f.draw, f.title, f.alt)
	if err != nil {
		return nil, fmt.Errorf("plots: %s chart: %w", c.kind, err)
	}
	return b, nil
}

// pt converts CSS pixels (96 per inch) to points (72 per inch).
func pt(px int) vg.Length { return vg.Length(px) * 0.75 }

// encode runs draw on an SVG or PNG canvas of the given size.
func encode(format string, s size, drawFn func(draw.Canvas), title, desc string) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("draw %s: %v", format, r)
		}
	}()
	var buf bytes.Buffer
	switch format {
	case "svg":
		cv := vgsvg.New(pt(s.w), pt(s.h))
		drawFn(draw.New(cv))
		if _, err := cv.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("write svg: %w", err)
		}
		return polishSVG(buf.Bytes(), title, desc), nil
	case "png":
		cv := vgimg.NewWith(vgimg.UseWH(pt(s.w), pt(s.h)), vgimg.UseDPI(96))
		drawFn(draw.New(cv))
		// BestSpeed: less time in zlib for a PNG a few percent larger
		// (178 kB vs 172 kB for 14 transports × 22 sizes).
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		if err := enc.Encode(&buf, cv.Image()); err != nil {
			return nil, fmt.Errorf("write png: %w", err)
		}
		return buf.Bytes(), nil
	}
	return nil, fmt.Errorf("unknown image format %q (want svg or png)", format)
}

// polishSVG gives the text metric-compatible fallback fonts, so that a
// browser without Liberation Sans lays it out the same, and adds a title and
// description for screen readers.
func polishSVG(b []byte, title, desc string) []byte {
	s := strings.ReplaceAll(string(b), "font-family:Liberation Sans;",
		"font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
	if i := strings.Index(s, "<svg "); i >= 0 {
		if j := strings.Index(s[i:], ">"); j >= 0 {
			k := i + j + 1
			s = s[:i] + `<svg role="img" ` + s[i+len("<svg "):k] + "\n<title>" + html.EscapeString(title) +
				"</title>\n<desc>" + html.EscapeString(desc) + "</desc>" + s[k:]
		}
	}
	return []byte(s)
}

// encodeMessage draws a message where a chart could not be drawn.
func encodeMessage(msg string, s size, format string) ([]byte, error) {
	if s.w < 120 || s.h < 80 || s.w > 8000 || s.h > 8000 {
		s = size{600, 120}
	}
	return encode(format, s, func(c draw.Canvas) {
		fillBackground(c)
		sty := textStyle(11, false, inkGrey)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
		lines := wrap(msg, sty, c.Max.X-c.Min.X-vg.Points(24))
		sty.YAlign = draw.YTop
		y := c.Center().Y + sty.Height("x")*vg.Length(len(lines))/2
		for _, l := range lines {
			c.FillText(sty, vg.Point{X: c.Center().X, Y: y}, l)
			y -= sty.Height("x") * 1.3
		}
	}, "chart not drawn", msg)
}

// wrap breaks s into lines no wider than w.
func wrap(s string, sty text.Style, w vg.Length) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && sty.Width(line+" "+word) > w {
			lines = append(lines, line)
			line = word
			continue
		}
		line = strings.TrimSpace(line + " " + word)
	}
	return append(lines, line)
}

// textStyle returns Liberation Sans at the given size in points.
func textStyle(size vg.Length, bold bool, clr color.Color) text.Style {
	f := font.Font{Typeface: "Liberation", Variant: "Sans"}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return text.Style{Color: clr, Font: font.From(f, size), Handler: plot.DefaultTextHandler}
}

func fillBackground(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
}
