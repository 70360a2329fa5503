package plots

import (
	"image/color"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ipclab/ipclab/ipc"
)

// TestMergedResultsKeepTheirParameters: results of several runs merged into
// one chart keep each run's parameters in the caption (four wait strategies
// do not all read "wait=spin"; goroutine and process peers are both named).
func TestMergedResultsKeepTheirParameters(t *testing.T) {
	var rs ipc.Results
	date := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	for i, w := range []string{"spin", "yield", "futex", "adaptive"} {
		label := "shm-ring/" + w
		if w == "adaptive" {
			label = "shm-ring"
		}
		rs = append(rs, ipc.Result{Transport: "shm-ring", Label: label, Mode: ipc.PingPong, SizeBytes: 64, MessagesPerSecond: 1e5, RTTp50: time.Duration(1000 * (i + 1)), RTTp99: 5000,
			Environment: ipc.Environment{CPUs: 2, Date: date, Parameters: map[string]string{"mode": "pingpong", "wait": w, "peer": "process", "trials": "3"}}})
	}
	rs = append(rs,
		ipc.Result{Transport: "chan", Label: "chan", Mode: ipc.PingPong, SizeBytes: 64, MessagesPerSecond: 1e6, RTTp50: 900, RTTp99: 2000,
			Environment: ipc.Environment{CPUs: 2, Date: date, Parameters: map[string]string{"mode": "pingpong", "wait": "spin", "peer": "goroutine", "trials": "3"}}},
		ipc.Result{Transport: "pipe", Label: "pipe", Mode: ipc.PingPong, SizeBytes: 64, MessagesPerSecond: 5e4, RTTp50: 20000, RTTp99: 40000, Busy: true, OtherCPU: 0.4,
			Environment: ipc.Environment{CPUs: 2, Date: date, Parameters: map[string]string{"mode": "pingpong", "wait": "spin", "peer": "process", "trials": "3"}}},
	)
	for _, c := range []Chart{Latency(rs), LatencyCDF(rs), Speedup(rs, "pipe"), Costs(rs)} {
		f, err := c.build()
		if err != nil {
			t.Fatalf("%s: %v", c.kind, err)
		}
		for _, want := range []string{"wait=adaptive (shm-ring), futex (shm-ring/futex), spin (shm-ring/spin), yield (shm-ring/yield)",
			"peer=goroutine (chan), process (", "trials=3", "busy"} {
			if !strings.Contains(f.caption, want) {
				t.Errorf("%s caption lacks %q:\n%s", c.kind, want, f.caption)
			}
		}
		if strings.Contains(f.caption, "wait=spin ") {
			t.Errorf("%s caption claims one wait strategy for all: %s", c.kind, f.caption)
		}
		for _, label := range []string{"shm-ring/spin", "shm-ring/yield", "shm-ring/futex"} {
			if !strings.Contains(f.alt, label) {
				t.Errorf("%s: no series %q in:\n%s", c.kind, label, f.alt)
			}
		}
	}
}

// TestEverySeriesHasItsOwnColour: no two transports ipc ships share a
// colour, and the variants of a transport get shades that are neither each
// other's, nor their transport's, nor any other transport's colour.
func TestEverySeriesHasItsOwnColour(t *testing.T) {
	owner := map[color.NRGBA]string{}
	for _, name := range ipc.Transports() {
		c := lookOf(name).color
		if o, ok := owner[c]; ok {
			t.Errorf("%s and %s are both drawn in %v", o, name, c)
		}
		owner[c] = name
	}
	base := map[color.NRGBA]string{}
	for c, o := range owner {
		base[c] = o
	}
	for _, tr := range ipc.Transports() {
		variants := []string{"in-process", "pinned"}
		if ipc.SpansHosts(tr) {
			variants = append(variants, "remote")
		}
		if tr == "shm-ring" {
			variants = []string{"spin", "yield", "futex", "sysv", "file", "memfd", "zero-copy"}
		}
		mine := map[color.NRGBA]string{known[tr].color: tr}
		for _, v := range variants {
			name := tr + "/" + v
			l := lookOf(name)
			if o, ok := base[l.color]; ok {
				t.Errorf("%s is drawn in the colour of %s", name, o)
			}
			for c, o := range base {
				if o != tr && dist(c, l.color) < 30 {
					t.Errorf("%s (%v) is hard to tell from %s (%v)", name, l.color, o, c)
				}
			}
			for c, o := range mine {
				if dist(c, l.color) < 25 {
					t.Errorf("%s (%v) is hard to tell from %s (%v)", name, l.color, o, c)
				}
			}
			mine[l.color] = name
			if l2 := lookOf(name); l2.color != l.color || l2.glyph != l.glyph {
				t.Errorf("%s: look not stable", name)
			}
		}
	}
}

func dist(a, b color.NRGBA) float64 {
	dr, dg, db := float64(a.R)-float64(b.R), float64(a.G)-float64(b.G), float64(a.B)-float64(b.B)
	return math.Sqrt(dr*dr + dg*dg + db*db)
}

// TestSizeTicksNeverCollide: measured sizes closer together than a label's
// room get a tick but no label.
func TestSizeTicksNeverCollide(t *testing.T) {
	seven := []int{64, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}
	for _, maxLabels := range []int{3, 5, 7, 9} {
		lo, hi := lg(64/1.5), lg((1<<20)*1.5)
		room := (hi - lo) / float64(maxLabels)
		last := math.Inf(-1)
		var labels []string
		for _, tk := range log2Ticks(maxLabels, seven).Ticks(lo, hi) {
			if tk.Label == "" {
				continue
			}
			if tk.Value-last < room*0.9 {
				t.Errorf("maxLabels %d: %q is too close to the label before it", maxLabels, tk.Label)
			}
			last = tk.Value
			labels = append(labels, tk.Label)
		}
		if len(labels) < 2 {
			t.Errorf("maxLabels %d: labels %v", maxLabels, labels)
		}
	}
}
