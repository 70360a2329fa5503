package plots

import (
	"hash/fnv"
	"image/color"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The theme: the Okabe–Ito colour-blind-safe palette (its yellow left out, too
// pale on white) extended with Paul Tol's "muted" colours, so that each of
// the 13 transports ipc ships has a colour no other transport has; a dash
// pattern and a marker per transport so that every series also reads in
// grey; and Liberation Sans, which gonum/plot embeds and which is
// metric-compatible with Arial for SVG viewers that lack it. A variant of a
// transport ("shm-ring/spin") is drawn in a shade of its transport's colour
// with a marker of its own.

var (
	okabeBlue       = color.NRGBA{0x00, 0x72, 0xB2, 0xff}
	okabeVermillion = color.NRGBA{0xD5, 0x5E, 0x00, 0xff}
	okabeGreen      = color.NRGBA{0x00, 0x9E, 0x73, 0xff}
	okabeOrange     = color.NRGBA{0xE6, 0x9F, 0x00, 0xff}
	okabePurple     = color.NRGBA{0xCC, 0x79, 0xA7, 0xff}
	okabeSky        = color.NRGBA{0x56, 0xB4, 0xE9, 0xff}
	okabeBlack      = color.NRGBA{0x00, 0x00, 0x00, 0xff}
	tolIndigo       = color.NRGBA{0x33, 0x22, 0x88, 0xff}
	tolTeal         = color.NRGBA{0x44, 0xAA, 0x99, 0xff}
	tolWine         = color.NRGBA{0x88, 0x22, 0x55, 0xff}
	tolRose         = color.NRGBA{0xCC, 0x66, 0x77, 0xff}
	tolOlive        = color.NRGBA{0x99, 0x99, 0x33, 0xff}
	tolPurple       = color.NRGBA{0xAA, 0x44, 0x99, 0xff}
	tolGreen        = color.NRGBA{0x11, 0x77, 0x33, 0xff}
	tolSand         = color.NRGBA{0xDD, 0xCC, 0x77, 0xff}
	tolCyan         = color.NRGBA{0x88, 0xCC, 0xEE, 0xff}

	palette = []color.NRGBA{okabeBlue, okabeVermillion, okabeGreen, okabeOrange, okabePurple, okabeSky, okabeBlack,
		tolIndigo, tolTeal, tolWine, tolRose, tolOlive, tolPurple, tolGreen, tolSand, tolCyan}

	inkGrey  = color.NRGBA{0x55, 0x55, 0x55, 0xff}
	refGrey  = color.NRGBA{0x8c, 0x8c, 0x8c, 0xff} // reference lines (Reference): no transport's colour
	gridGrey = color.NRGBA{0xe4, 0xe4, 0xe4, 0xff}
)

// Dash patterns, by family: solid for shared memory and in-process
// transports, dashed for pipes and TCP, dash-dot for Unix sockets, dotted for
// message queues, long dashes for ZeroMQ.
var (
	solid   []vg.Length
	dashed  = []vg.Length{vg.Points(5), vg.Points(2.5)}
	dashDot = []vg.Length{vg.Points(5), vg.Points(2), vg.Points(1.2), vg.Points(2)}
	dotted  = []vg.Length{vg.Points(1.2), vg.Points(1.8)}
	long    = []vg.Length{vg.Points(9), vg.Points(3)}

	dashPatterns = [][]vg.Length{solid, dashed, dashDot, dotted, long}
	glyphs       = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.RingGlyph{}, draw.PyramidGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}
)

// look is how one transport is drawn in every chart.
type look struct {
	color color.NRGBA
	dash  []vg.Length
	glyph draw.GlyphDrawer
}

// known fixes the look of the transports ipc ships, so that a notebook that
// adds or removes a transport never repaints the others.
var known = map[string]look{
	"shm-ring":       {okabeBlue, solid, draw.CircleGlyph{}},
	"shm-mutex":      {okabeSky, solid, draw.RingGlyph{}},
	"chan":           {okabeBlack, solid, draw.PlusGlyph{}},
	"pipe":           {okabeVermillion, dashed, draw.TriangleGlyph{}},
	"fifo":           {okabeOrange, dashed, draw.PyramidGlyph{}},
	"tcp":            {tolIndigo, dashed, draw.BoxGlyph{}},
	"unix-stream":    {okabeGreen, dashDot, draw.SquareGlyph{}},
	"unix-dgram":     {okabePurple, dashDot, draw.BoxGlyph{}},
	"unix-seqpacket": {tolTeal, dashDot, draw.CrossGlyph{}},
	"posix-mq":       {tolWine, dotted, draw.PyramidGlyph{}},
	"sysv-mq":        {tolRose, dotted, draw.TriangleGlyph{}},
	"zmq-ipc":        {tolOlive, long, draw.CircleGlyph{}},
	"zmq-tcp":        {tolPurple, long, draw.SquareGlyph{}},
}

// spare lists the looks no known transport uses, for the others.
var spare = func() []look {
	used := map[[3]int]bool{}
	key := func(l look) [3]int {
		k := [3]int{-1, -1, -1}
		for i, c := range palette {
			if c == l.color {
				k[0] = i
			}
		}
		for i, d := range dashPatterns {
			if sameDash(d, l.dash) {
				k[1] = i
			}
		}
		for i, g := range glyphs {
			if g == l.glyph {
				k[2] = i
			}
		}
		return k
	}
	taken := map[color.NRGBA]bool{}
	for _, l := range known {
		used[key(l)] = true
		taken[l.color] = true
	}
	var out []look
	// Only colours no known transport has; vary the colour fastest so that
	// neighbouring hashes differ in colour.
	for g := range glyphs {
		for d := range dashPatterns {
			for c := range palette {
				l := look{palette[c], dashPatterns[d], glyphs[g]}
				if !used[key(l)] && !taken[l.color] {
					out = append(out, l)
				}
			}
		}
	}
	return out
}()

func sameDash(a, b []vg.Length) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lookOf returns the look of a series, named by a transport or a variant
// label ("shm-ring/spin"): fixed for the known transports; for a variant of
// one, a shade of its colour (darker or lighter, never another transport's
// colour) with its own marker; chosen by a hash of the name for others. It
// is the same in every chart, cell and process.
func lookOf(name string) look {
	if l, ok := known[name]; ok {
		return l
	}
	if base, variant, ok := strings.Cut(name, "/"); ok {
		if l, ok := known[base]; ok {
			i, ok := variantIndex[variant]
			if !ok { // combinations ("spin/zero-copy"): by a hash
				h := fnv.New32a()
				h.Write([]byte(variant))
				i = int(h.Sum32() % uint32(len(shades)))
			}
			l.color = shade(l.color, shades[i%len(shades)])
			l.glyph = variantGlyphs[i%len(variantGlyphs)]
			return l
		}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return spare[int(h.Sum32()%uint32(len(spare)))]
}

// variantIndex fixes the shade and marker of the variants ipc names; the
// variants one transport can have at once get different shades (the
// in-process, pinned and remote variants of a socket reuse the wait
// strategies' shades, which sockets never have).
var variantIndex = map[string]int{
	"spin": 0, "yield": 1, "futex": 2, "sysv": 3, "file": 4, "memfd": 5, "zero-copy": 6,
	"in-process": 0, "pinned": 2, "remote": 1,
}

// shades: negative darkens towards black, positive lightens towards white;
// about 0.2 apart, so that neighbours stay distinguishable, and never so
// light that a line fades into the white.
var shades = []float64{-0.5, 0.4, -0.28, 0.6, -0.7, 0.2, -0.12}

var variantGlyphs = []draw.GlyphDrawer{draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.RingGlyph{}, draw.PyramidGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}

func shade(c color.NRGBA, f float64) color.NRGBA {
	if f < 0 && max(c.R, c.G, c.B) < 64 { // black cannot darken: lighten
		f = -f
	}
	mix := func(v uint8) uint8 {
		if f < 0 {
			return uint8(float64(v)*(1+f) + 0.5)
		}
		return uint8(float64(v) + (255-float64(v))*f + 0.5)
	}
	return color.NRGBA{mix(c.R), mix(c.G), mix(c.B), c.A}
}

// Color returns the colour a transport is drawn in by every chart, for cells
// that draw their own plots and want to match.
func Color(transport string) color.Color { return lookOf(transport).color }

// fade returns c with the given opacity, for bands and bars.
func fade(c color.NRGBA, alpha float64) color.NRGBA {
	c.A = uint8(alpha*255 + 0.5)
	return c
}
