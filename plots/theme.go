package plots

import (
	"hash/fnv"
	"image/color"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The theme: the Okabe–Ito colour-blind-safe palette (its yellow left out, too
// pale on white), a dash pattern and a marker per transport so that every
// series also reads in grey, and Liberation Sans, which gonum/plot embeds and
// which is metric-compatible with Arial for SVG viewers that lack it.

var (
	okabeBlue       = color.NRGBA{0x00, 0x72, 0xB2, 0xff}
	okabeVermillion = color.NRGBA{0xD5, 0x5E, 0x00, 0xff}
	okabeGreen      = color.NRGBA{0x00, 0x9E, 0x73, 0xff}
	okabeOrange     = color.NRGBA{0xE6, 0x9F, 0x00, 0xff}
	okabePurple     = color.NRGBA{0xCC, 0x79, 0xA7, 0xff}
	okabeSky        = color.NRGBA{0x56, 0xB4, 0xE9, 0xff}
	okabeBlack      = color.NRGBA{0x00, 0x00, 0x00, 0xff}

	palette = []color.NRGBA{okabeBlue, okabeVermillion, okabeGreen, okabeOrange, okabePurple, okabeSky, okabeBlack}

	inkGrey  = color.NRGBA{0x55, 0x55, 0x55, 0xff}
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
	"tcp":            {okabeBlack, dashed, draw.BoxGlyph{}},
	"unix-stream":    {okabeGreen, dashDot, draw.SquareGlyph{}},
	"unix-dgram":     {okabePurple, dashDot, draw.BoxGlyph{}},
	"unix-seqpacket": {okabeSky, dashDot, draw.CrossGlyph{}},
	"posix-mq":       {okabeGreen, dotted, draw.PyramidGlyph{}},
	"sysv-mq":        {okabePurple, dotted, draw.TriangleGlyph{}},
	"zmq-ipc":        {okabeOrange, long, draw.CircleGlyph{}},
	"zmq-tcp":        {okabeVermillion, long, draw.SquareGlyph{}},
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
	for _, l := range known {
		used[key(l)] = true
	}
	var out []look
	// Vary the colour fastest so that neighbouring hashes differ in colour.
	for g := range glyphs {
		for d := range dashPatterns {
			for c := range palette {
				l := look{palette[c], dashPatterns[d], glyphs[g]}
				if !used[key(l)] {
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

// lookOf returns the look of a transport: fixed for the known ones, chosen by
// a hash of the name for the others, so it is the same in every chart, cell
// and process.
func lookOf(transport string) look {
	if l, ok := known[transport]; ok {
		return l
	}
	h := fnv.New32a()
	h.Write([]byte(transport))
	return spare[int(h.Sum32()%uint32(len(spare)))]
}

// Color returns the colour a transport is drawn in by every chart, for cells
// that draw their own plots and want to match.
func Color(transport string) color.Color { return lookOf(transport).color }

// fade returns c with the given opacity, for bands and bars.
func fade(c color.NRGBA, alpha float64) color.NRGBA {
	c.A = uint8(alpha*255 + 0.5)
	return c
}
