package plots

import (
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipclab/ipclab/ipc"
)

// TestReferenceLine: a throughput chart draws a reference (the C limit of
// ipclab bench --compare) as a labelled line in both panels, in a colour no
// transport (nor a variant of one) is drawn in, and above every transport's
// rate it stretches the axis to show it; other charts and callers without
// references are unchanged.
func TestReferenceLine(t *testing.T) {
	st := synthetic(four, fourSizes, ipc.Stream)
	limit := Reference{Label: "C limit (plain ring)", BySize: map[int]float64{64: 3e9, 4096: 1e8, 65536: 1e7, 1 << 20: 1e6}}
	tests := []struct {
		name  string
		chart Chart
		lines int // reference line styles: two panels and the legend
	}{
		{"four sizes", Throughput(st).References(limit), 3},
		{"one size", Throughput(synthetic(four, []int{64}, ipc.Stream)).References(Reference{Label: "C limit (plain ring)", BySize: map[int]float64{64: 3e9}}), 3},
		{"sizes the chart does not draw", Throughput(st).References(Reference{Label: "C limit (plain ring)", BySize: map[int]float64{128: 3e9}}), 0},
		{"no references", Throughput(st), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.chart.Err(); err != nil {
				t.Fatal(err)
			}
			doc := parseSVG(t, tt.chart.SVG())
			if got := doc.lines(refLook); got != tt.lines {
				t.Errorf("reference lines drawn: %d, want %d", got, tt.lines)
			}
			if want := tt.lines > 0; doc.count("C limit (plain ring)") == 1 != want {
				t.Errorf("legend names the reference: %v, want %v (texts %q)", !want, want, doc.texts)
			}
			for _, tr := range four { // every transport still drawn
				if doc.lines(lookOf(tr)) == 0 {
					t.Errorf("%s not drawn", tr)
				}
			}
		})
	}
	// the axis reaches the reference: 3 G msg/s is above every synthetic rate
	if doc := parseSVG(t, Throughput(st).References(limit).SVG()); !doc.has("1G") && !doc.has("1 G") {
		t.Errorf("the message-rate axis does not reach the reference line (texts %q)", doc.texts)
	}
	// the alt text lists the reference's numbers
	if alt := Throughput(st).References(limit).String(); !strings.Contains(alt, "C limit (plain ring)") {
		t.Errorf("alt text does not list the reference:\n%s", alt)
	}
	// WriteFile passes references on; a latency chart ignores them
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "ref.svg"), st, limit); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ref.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if doc := parseSVG(t, string(b)); doc.lines(refLook) != 3 {
		t.Errorf("WriteFile: %d reference lines, want 3", doc.lines(refLook))
	}
	if err := WriteFile(filepath.Join(dir, "pp.svg"), synthetic(four, fourSizes, ipc.PingPong), limit); err != nil {
		t.Fatal(err)
	}
}

// TestReferenceColour: the reference's look is no transport's, no variant's
// and no palette colour, and stays apart from them.
func TestReferenceColour(t *testing.T) {
	for _, c := range palette {
		if c == refLook.color {
			t.Errorf("reference colour %v is in the transports' palette", c)
		}
	}
	for _, tr := range ipc.Transports() {
		names := []string{tr}
		for v := range variantIndex {
			names = append(names, tr+"/"+v)
		}
		for _, n := range names {
			l := lookOf(n)
			if l.color == refLook.color {
				t.Errorf("%s is drawn in the reference colour %v", n, l.color)
			}
			if !strings.Contains(n, "/") && dist(l.color, refLook.color) < 30 {
				t.Errorf("%s (%v) is hard to tell from the reference line (%v)", n, l.color, refLook.color)
			}
			if sameDash(l.dash, refLook.dash) {
				t.Errorf("%s has the reference line's dashes", n)
			}
		}
	}
	if refLook.color == (color.NRGBA{}) {
		t.Error("reference colour unset")
	}
}
