package plots

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/ipclab/ipclab/display"
	"github.com/ipclab/ipclab/internal/cellio"
	"github.com/ipclab/ipclab/ipc"
)

var (
	four      = []string{"shm-ring", "pipe", "unix-stream", "tcp"}
	fourSizes = []int{64, 4096, 65536, 1 << 20}
)

// svgDoc is what the tests read out of an SVG: every text, and the style of
// every path.
type svgDoc struct {
	texts  []string
	styles []map[string]string
}

func parseSVG(t *testing.T, s string) svgDoc {
	t.Helper()
	var doc svgDoc
	dec := xml.NewDecoder(strings.NewReader(s))
	inText, root := false, ""
	var cur strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse as XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = el.Name.Local
			}
			switch el.Name.Local {
			case "text":
				inText = true
				cur.Reset()
			case "path":
				st := map[string]string{}
				for _, a := range el.Attr {
					if a.Name.Local == "style" {
						for _, kv := range strings.Split(a.Value, ";") {
							if k, v, ok := strings.Cut(kv, ":"); ok {
								st[strings.TrimSpace(k)] = strings.TrimSpace(v)
							}
						}
					}
				}
				doc.styles = append(doc.styles, st)
			}
		case xml.CharData:
			if inText {
				cur.Write(el)
			}
		case xml.EndElement:
			if el.Name.Local == "text" {
				inText = false
				doc.texts = append(doc.texts, cur.String())
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element is %q, want svg", root)
	}
	return doc
}

func (d svgDoc) count(text string) int {
	n := 0
	for _, s := range d.texts {
		if s == text {
			n++
		}
	}
	return n
}

func (d svgDoc) has(sub string) bool {
	for _, s := range d.texts {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// lines counts the series lines (stroke width 1.4) drawn in a transport's
// colour and dash pattern.
func (d svgDoc) lines(l look) int {
	n := 0
	for _, st := range d.styles {
		if st["stroke-width"] == "1.4" && strings.EqualFold(st["stroke"], hexColor(l.color)) && st["stroke-dasharray"] == dashString(l.dash) {
			n++
		}
	}
	return n
}

// bars counts the translucent filled paths in about a transport's colour.
func (d svgDoc) bars(l look) int {
	n := 0
	for _, st := range d.styles {
		if st["fill-opacity"] == "" || st["stroke"] != "" {
			continue
		}
		fill := st["fill"]
		if fill == "" {
			fill = "#000000" // vgsvg leaves out the default
		}
		if near(fill, l.color.R, l.color.G, l.color.B) {
			n++
		}
	}
	return n
}

func near(hex string, r, g, b uint8) bool {
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil {
		return false
	}
	d := func(x uint64, y uint8) bool { return int(x)-int(y) <= 3 && int(y)-int(x) <= 3 }
	return d(v>>16&0xff, r) && d(v>>8&0xff, g) && d(v&0xff, b)
}

func dashString(ds []vg.Length) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.*g", 5, d.Points()))
	}
	return strings.Join(parts, ",")
}

func TestChartStructure(t *testing.T) {
	st4 := synthetic(four, fourSizes, ipc.Stream)
	pp4 := synthetic(four, fourSizes, ipc.PingPong)
	st14 := synthetic(allTransports, allSizes, ipc.Stream)
	pp14 := synthetic(allTransports, allSizes, ipc.PingPong)
	tests := []struct {
		name       string
		chart      Chart
		transports []string
		texts      []string // axis and panel titles that must appear
		legend     bool     // transports named in a legend with a line each
		linesPer   int      // series lines per transport (panels + legend)
		barsPer    int      // bars per transport
		baseline   bool     // pipe is the speed-up baseline
		legendBar  bool     // the legend shows a bar
	}{
		{"throughput 4x4", Throughput(st4), four,
			[]string{"Throughput vs message size", "message size", "messages per second (msg/s)", "bytes per second (decimal SI prefixes)", "64 B", "4 KiB", "1 MiB", "10 GB/s"},
			true, 3, 0, false, false},
		{"throughput 14x22", Throughput(st14), allTransports,
			[]string{"message size", "messages per second (msg/s)", "bytes per second (decimal SI prefixes)", "4 KiB", "1 MiB", "1 GB/s"},
			true, 3, 0, false, false},
		{"latency 4x4", Latency(pp4), four,
			[]string{"Round-trip latency", "round-trip time (log scale)", "64 B messages", "1 MiB messages", "p99", "1 µs", "p50 310 ns"},
			false, 0, 4, false, true},
		{"latency 14x22 picks 4 sizes", Latency(pp14), allTransports,
			[]string{"round-trip time (log scale)", "8 B", "16 MiB"},
			false, 0, 4, false, true},
		{"latency chosen size", Latency(pp14).MessageSizes(4096), allTransports,
			[]string{"4 KiB messages"},
			false, 0, 1, false, true},
		{"cdf 4x4", LatencyCDF(pp4), four,
			[]string{"Round-trip latency distribution", "round-trip time (log scale)", "share of round trips ≤ time", "50%", "100%"},
			true, 4, 0, false, false},
		{"speedup stream", Speedup(st4, "pipe"), four,
			[]string{"Speed-up over pipe", "times as fast as pipe (log scale)", "baseline", "×1"},
			false, 0, 4, true, false},
		{"speedup pingpong", Speedup(pp4, "pipe"), four,
			[]string{"Speed-up over pipe", "ping-pong mode: pipe's median round trip divided by each transport's; longer bar to the right = faster"},
			false, 0, 4, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.chart.Err(); err != nil {
				t.Fatal(err)
			}
			doc := parseSVG(t, tt.chart.SVG())
			for _, want := range tt.texts {
				if !doc.has(want) {
					t.Errorf("SVG has no text %q; texts: %q", want, doc.texts)
				}
			}
			if !doc.has("go1.26.8") || !doc.has("2026-03-01") || !doc.has("synthetic") {
				t.Errorf("caption does not name machine, Go version and date: %q", doc.texts)
			}
			// Several transports may share a look only when one comes from
			// the hash; count series per look.
			perLook := map[string]int{}
			for _, tr := range tt.transports {
				perLook[fmt.Sprint(lookOf(tr))]++
			}
			for _, tr := range tt.transports {
				l := lookOf(tr)
				if n := doc.count(tr); n != 1 {
					t.Errorf("transport %q is named %d times, want once (legend or axis)", tr, n)
				}
				if tt.linesPer > 0 {
					if got, want := doc.lines(l), tt.linesPer*perLook[fmt.Sprint(l)]; got != want {
						t.Errorf("%s: %d series lines in its colour and dash, want %d", tr, got, want)
					}
				}
				if tt.barsPer > 0 {
					// Bars match by colour only, which transports share; a
					// speed-up baseline is a line, not a bar; the latency
					// legend has one bar in shm-ring's blue.
					want := 0
					for _, o := range tt.transports {
						if lookOf(o).color == l.color && !(o == "pipe" && tt.baseline) {
							want += tt.barsPer
						}
					}
					if tt.legendBar && l.color == okabeBlue {
						want++
					}
					if got := doc.bars(l); got != want && !(tr == "pipe" && tt.baseline) {
						t.Errorf("%s: %d bars in its colour, want %d", tr, got, want)
					}
				}
			}
		})
	}
}

func TestPNGSize(t *testing.T) {
	st := synthetic(four, fourSizes, ipc.Stream)
	pp := synthetic(four, fourSizes, ipc.PingPong)
	tests := []struct {
		name string
		c    Chart
		w, h int
	}{
		{"throughput default", Throughput(st), 900, 440},
		{"throughput small", Throughput(st).Size(480, 300), 480, 300},
		{"throughput stacked", Throughput(st).Size(500, 800), 500, 800},
		{"latency large", Latency(pp).Size(1600, 900), 1600, 900},
		{"latency default", Latency(pp), 900, 300},
		{"cdf", LatencyCDF(pp).Size(640, 360), 640, 360},
		{"speedup", Speedup(st, "tcp").Size(700, 350), 700, 350},
		{"error keeps its size", Throughput(nil).Size(640, 200), 640, 200},
		{"too small for its panels", LatencyCDF(pp).Size(300, 200), 300, 200},
		{"tiny", Latency(pp).Size(120, 80), 120, 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := png.Decode(bytes.NewReader(tt.c.PNG()))
			if err != nil {
				t.Fatalf("PNG does not decode: %v", err)
			}
			if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Errorf("PNG is %d×%d, want %d×%d", b.Dx(), b.Dy(), tt.w, tt.h)
			}
			svg := tt.c.SVG()
			parseSVG(t, svg)
			if want := fmt.Sprintf(`width="%gpt" height="%gpt"`, float64(tt.w)*0.75, float64(tt.h)*0.75); !strings.Contains(svg, want) {
				t.Errorf("SVG size: want %s in %.200s", want, svg)
			}
		})
	}
}

// hand is a hand-written result set with round numbers to look for in the
// alt text (not measurements).
func hand() ipc.Results {
	env := ipc.Environment{Hostname: "handmade", GoVersion: "go1.26.8", Date: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}
	return ipc.Results{
		{Transport: "shm-ring", Mode: ipc.Stream, SizeBytes: 64, MessagesPerSecond: 12_345_678, BytesPerSecond: 790_123_392,
			MinMessagesPerSecond: 11_000_000, MaxMessagesPerSecond: 13_000_000, Environment: env},
		{Transport: "shm-ring", Mode: ipc.Stream, SizeBytes: 4096, MessagesPerSecond: 2_500_000, Environment: env},
		{Transport: "pipe", Mode: ipc.Stream, SizeBytes: 64, MessagesPerSecond: 1_000_000, Environment: env},
		{Transport: "pipe", Mode: ipc.Stream, SizeBytes: 4096, MessagesPerSecond: 400_000, Environment: env},
		{Transport: "shm-ring", Mode: ipc.PingPong, SizeBytes: 64, RTTp50: 1234 * time.Nanosecond, RTTp90: 2 * time.Microsecond,
			RTTp99: 8765 * time.Nanosecond, RTTMax: 45 * time.Microsecond, Messages: 1000, Environment: env},
		{Transport: "pipe", Mode: ipc.PingPong, SizeBytes: 64, RTTp50: 15 * time.Microsecond, RTTp90: 20 * time.Microsecond,
			RTTp99: 98 * time.Microsecond, RTTMax: 2 * time.Millisecond, Messages: 1000, Environment: env},
	}
}

func TestAltText(t *testing.T) {
	rs := hand()
	tests := []struct {
		name string
		c    Chart
		want []string
	}{
		{"throughput", Throughput(rs), []string{"Throughput vs message size", "handmade", "go1.26.8", "2026-03-02 09:30 UTC",
			"shm-ring", "12.3 M", "790 MB/s", "11 M – 13 M", "2.5 M", "10.2 GB/s", "pipe", "1 M", "400 k", "1.64 GB/s", "64 B", "4 KiB"}},
		{"latency", Latency(rs), []string{"Round-trip latency", "1.23 µs", "2 µs", "8.77 µs", "45 µs", "15 µs", "98 µs", "2 ms"}},
		{"cdf without quantiles", LatencyCDF(rs), []string{"1.23 µs", "8.77 µs", "only p50, p90, p99 and max"}},
		{"speedup stream", Speedup(rs, "pipe"), []string{"×12.3", "×6.25", "×1"}},
		{"speedup pingpong", Speedup(rs, "pipe").Mode(ipc.PingPong), []string{"×12.2", "1.23 µs", "15 µs"}},
		{"speedup other baseline", Speedup(rs, "shm-ring"), []string{"×0.081", "×0.16"}},
		{"title and caption options", Throughput(rs).Title("Mine").Caption("my laptop"), []string{"Mine\nmy laptop\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alt := tt.c.String()
			for _, w := range tt.want {
				if !strings.Contains(alt, w) {
					t.Errorf("alt text lacks %q:\n%s", w, alt)
				}
			}
			d := tt.c.Render()
			if d.Data[display.MIMETypeText] != alt {
				t.Errorf("bundle text/plain differs from String()")
			}
			if desc := parseSVG(t, tt.c.SVG()); len(desc.texts) == 0 {
				t.Errorf("SVG has no text")
			}
		})
	}
}

func TestRenderBundle(t *testing.T) {
	c := Throughput(hand()).Size(640, 320)
	d := display.Bundle(c) // as the kernel sees a trailing expression
	svg, ok := d.Data[display.MIMETypeSVG].(string)
	if !ok || !strings.HasPrefix(svg, "<?xml") {
		t.Fatalf("bundle has no SVG: %v", keys(d.Data))
	}
	parseSVG(t, svg)
	b64, ok := d.Data[display.MIMETypePNG].(string)
	if !ok {
		t.Fatalf("bundle PNG is %T, want base64 string", d.Data[display.MIMETypePNG])
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil || img.Bounds().Dx() != 640 || img.Bounds().Dy() != 320 {
		t.Fatalf("bundle PNG: %v, %v", err, img.Bounds())
	}
	if !strings.Contains(d.Data[display.MIMETypeText].(string), "12.3 M") {
		t.Errorf("text/plain lacks the numbers")
	}
	meta, _ := d.Metadata[display.MIMETypePNG].(display.MIMEMap)
	if meta["width"] != 640 || meta["height"] != 320 {
		t.Errorf("PNG metadata = %v", d.Metadata)
	}
	if len(d.Data) != 4 {
		t.Errorf("bundle has %v, want exactly html, svg, png and text", keys(d.Data))
	}
	// The HTML is an <img> of the same SVG, which survives nbconvert's
	// sanitising of inline SVG.
	html, _ := d.Data[display.MIMETypeHTML].(string)
	prefix := `<img src="data:image/svg+xml;base64,`
	if !strings.HasPrefix(html, prefix) || !strings.Contains(html, `width="640" height="320"`) {
		t.Fatalf("text/html = %.120q", html)
	}
	enc := html[len(prefix):strings.Index(html, `" width=`)]
	inner, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || string(inner) != d.Data[display.MIMETypeSVG].(string) {
		t.Errorf("the <img> does not carry the bundle's SVG (%v)", err)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestChartsThatCannotDraw(t *testing.T) {
	zero := ipc.Results{{Transport: "pipe", Mode: ipc.Stream, SizeBytes: 64}, {Transport: "pipe", Mode: ipc.PingPong, SizeBytes: 64}}
	tests := []struct {
		name string
		c    Chart
		is   error
		says string
	}{
		{"no results", Throughput(nil), ErrNoData, "results are empty"},
		{"wrong mode", Throughput(synthetic(four, fourSizes, ipc.PingPong)), ErrNoData, "plots.Latency"},
		{"latency of stream", Latency(synthetic(four, fourSizes, ipc.Stream)), ErrNoData, "no pingpong results"},
		{"all zero stream", Throughput(zero), ErrNoData, "rate of zero"},
		{"all zero latency", Latency(zero), ErrNoData, "round-trip time of zero"},
		{"all zero cdf", LatencyCDF(zero), ErrNoData, "round-trip time of zero"},
		{"missing baseline", Speedup(hand(), "carrier-pigeon"), ErrNoBaseline, "shm-ring, pipe"},
		{"zero baseline", Speedup(zero, "pipe"), ErrNoData, "no non-zero"},
		{"size not measured", Throughput(hand()).MessageSizes(123), ErrNoData, "no stream results"},
		{"bad image size", Throughput(hand()).Size(10, 10), nil, "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.is != nil && !errors.Is(tt.c.Err(), tt.is) {
				t.Errorf("Err() = %v, want %v", tt.c.Err(), tt.is)
			}
			d := tt.c.Render()
			text, _ := d.Data[display.MIMETypeText].(string)
			if !strings.Contains(text, tt.says) || !strings.HasPrefix(text, "plots: ") {
				t.Errorf("renders as %q, want it to say %q", text, tt.says)
			}
			if tt.is != nil {
				if len(d.Data) != 1 || tt.c.String() != text {
					t.Errorf("a chart that cannot draw should render as text only, got %v", keys(d.Data))
				}
			}
			doc := parseSVG(t, tt.c.SVG())
			if len(doc.texts) == 0 {
				t.Errorf("SVG of the explanation has no text")
			}
			if _, err := png.Decode(bytes.NewReader(tt.c.PNG())); err != nil {
				t.Errorf("PNG of the explanation: %v", err)
			}
		})
	}
}

func TestNaNAndInfDoNotPanic(t *testing.T) {
	inf := ipc.Results{{Transport: "pipe", Mode: ipc.Stream, SizeBytes: 64, MessagesPerSecond: math.Inf(1)}, {Transport: "fifo", Mode: ipc.Stream, SizeBytes: 64, MessagesPerSecond: math.NaN()},
		{Transport: "tcp", Mode: ipc.Stream, SizeBytes: 64, MessagesPerSecond: -5},
		{Transport: "x", Mode: ipc.PingPong, SizeBytes: 0, RTTp50: -1, RTTQuantiles: []time.Duration{0, 0}}}
	for _, c := range []Chart{Throughput(inf), Latency(inf), LatencyCDF(inf), Speedup(inf, "pipe")} {
		_ = c.String()
		_ = c.SVG()
		_ = c.PNG()
		_ = c.Render()
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	st, pp := synthetic(four, fourSizes, ipc.Stream), synthetic(four, fourSizes, ipc.PingPong)
	tests := []struct {
		file    string
		results ipc.Results
		title   string // for SVG
		err     string
	}{
		{"stream.svg", st, "Throughput vs message size", ""},
		{"STREAM.PNG", st, "", ""},
		{"both.svg", append(append(ipc.Results{}, pp...), st...), "Throughput vs message size", ""},
		{"pingpong.svg", pp, "Round-trip latency", ""},
		{"pingpong.png", pp, "", ""},
		{"out.jpg", st, "", `unsupported extension ".jpg" (use .svg or .png)`},
		{"noext", st, "", "unsupported extension"},
		{"empty.svg", nil, "", "results are empty"},
		{"missing/dir/x.svg", st, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			err := WriteFile(path, tt.results)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("WriteFile = %v, want error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(strings.ToLower(tt.file), ".png") {
				if _, err := png.Decode(bytes.NewReader(b)); err != nil {
					t.Fatal(err)
				}
				return
			}
			if doc := parseSVG(t, string(b)); doc.count(tt.title) != 1 {
				t.Errorf("SVG title: want %q in %q", tt.title, doc.texts)
			}
		})
	}
}

func TestLooks(t *testing.T) {
	seen := map[string]string{}
	full := func(l look) string { return fmt.Sprintf("%v %v %T", l.color, l.dash, l.glyph) }
	for name, l := range known {
		k := fmt.Sprint(hexColor(l.color), l.dash)
		if other, dup := seen[k]; dup {
			t.Errorf("%s and %s share colour and dash", name, other)
		}
		seen[k] = name
		if lookOf(name).color != l.color || Color(name) != l.color {
			t.Errorf("%s: lookOf/Color differ from the table", name)
		}
	}
	if len(known) != 13 {
		t.Errorf("known has %d transports, want the 13 ipc ships", len(known))
	}
	// Others: stable, and never a known transport's exact look.
	for _, name := range []string{"mmap-file", "sysv-shm", "posix-shm", "seqlock", "futex-sem", "x"} {
		a, b := lookOf(name), lookOf(name)
		if full(a) != full(b) {
			t.Errorf("%s: look not stable", name)
		}
		for kn, kl := range known {
			if full(kl) == full(a) {
				t.Errorf("%s looks exactly like %s", name, kn)
			}
		}
	}
}

func TestTicks(t *testing.T) {
	labels := func(ticks []string) string { return strings.Join(ticks, ",") }
	tests := []struct {
		name   string
		labels []string
		want   string
	}{
		{"measured sizes", tickLabels(log2Ticks(6, fourSizes), 40, 2<<20), "64 B,4 KiB,64 KiB,1 MiB"},
		{"22 sizes thinned", tickLabels(log2Ticks(6, allSizes), 5, 24<<20), "16 B,256 B,4 KiB,64 KiB,1 MiB,16 MiB"},
		{"22 sizes roomy", tickLabels(log2Ticks(12, allSizes), 5, 24<<20), "16 B,64 B,256 B,1 KiB,4 KiB,16 KiB,64 KiB,256 KiB,1 MiB,4 MiB,16 MiB"},
		{"odd sizes", tickLabels(log2Ticks(3, []int{8, 16, 32, 64, 128, 256, 512}), 5, 800), "8 B,64 B,512 B"},
		{"msg/s", tickLabels(log10Ticks(func(v float64) string { return tickSI(v, "") }, 8), 500, 2e7), "1k,10k,100k,1M,10M"},
		{"GB/s", tickLabels(log10Ticks(func(v float64) string { return tickSI(v, "B/s") }, 8), 2e8, 3e10), "1 GB/s,10 GB/s"},
		{"narrow range adds 2 and 5", tickLabels(log10Ticks(func(v float64) string { return tickSI(v, "B/s") }, 8), 1.5e9, 9e9), "2 GB/s,5 GB/s"},
		{"durations", tickLabels(log10Ticks(durationTick, 8), 90, 2e6), "100 ns,1 µs,10 µs,100 µs,1 ms"},
		{"durations thinned", tickLabels(log10Ticks(durationTick, 3), 90, 2e8), "1 µs,1 ms"},
	}
	for _, tt := range tests {
		if got := labels(tt.labels); got != tt.want {
			t.Errorf("%s: labels %q, want %q", tt.name, got, tt.want)
		}
	}
}

func tickLabels(tk plot.Ticker, lo, hi float64) []string {
	var out []string
	for _, t := range tk.Ticks(lg(lo), lg(hi)) {
		if t.Label != "" {
			out = append(out, t.Label)
		}
	}
	return out
}

func TestUnits(t *testing.T) {
	tests := []struct{ got, want string }{
		{formatBytes(64), "64 B"}, {formatBytes(4096), "4 KiB"}, {formatBytes(1 << 20), "1 MiB"}, {formatBytes(1536), "1.5 KiB"},
		{formatBytes(16 << 20), "16 MiB"}, {formatBytes(1000), "1000 B"},
		{formatSI(12_345_678, ""), "12.3 M"}, {formatSI(999.7, "B/s"), "1 kB/s"}, {formatSI(1.5e9, "B/s"), "1.5 GB/s"}, {formatSI(42, "msg/s"), "42 msg/s"},
		{formatDuration(845), "845 ns"}, {formatDuration(1234), "1.23 µs"}, {formatDuration(12_345_678), "12.3 ms"}, {formatDuration(2 * time.Second), "2 s"},
		{formatRatio(12.34), "×12.3"}, {formatRatio(1), "×1"}, {formatRatio(0.0456), "×0.0456"}, {formatRatio(1234), "×1234"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

func TestTable(t *testing.T) {
	rs := hand()
	tab := Table(rs).Title("Run 1")
	text := tab.String()
	for _, w := range []string{"Run 1", "handmade", "transport", "p99", "verified", "12.3 M", "790 MB/s", "11 M – 13 M", "1.23 µs", "8.77 µs", "2 ms"} {
		if !strings.Contains(text, w) {
			t.Errorf("text table lacks %q:\n%s", w, text)
		}
	}
	if n := strings.Count(text, "\n"); n != len(rs)+2 {
		t.Errorf("text table has %d lines, want title, caption, header and %d rows:\n%s", n+1, len(rs), text)
	}
	h := tab.HTML()
	dec := xml.NewDecoder(strings.NewReader("<div>" + h + "</div>"))
	dec.Strict, dec.AutoClose, dec.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	rows, headers, cells := 0, 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("HTML table does not parse: %v", err)
		}
		if el, ok := tok.(xml.StartElement); ok {
			switch el.Name.Local {
			case "tr":
				rows++
			case "th":
				headers++
			case "td":
				cells++
			}
		}
	}
	if rows != len(rs)+1 || cells != len(rs)*headers {
		t.Errorf("HTML table: %d rows, %d headers, %d cells for %d results", rows, headers, cells, len(rs))
	}
	if !strings.Contains(h, `data-v="1.2345678e+07"`) || !strings.Contains(h, "<script>") || !strings.Contains(h, "#0072b2") {
		t.Errorf("HTML table lacks sort keys, its script or the transport colour")
	}
	d := display.Bundle(tab)
	if d.Data[display.MIMETypeHTML] != nil && d.Data[display.MIMETypeText] != nil && len(d.Data) != 2 {
		t.Errorf("table bundle: %v", keys(d.Data))
	}
	if s := Table(nil).String(); !strings.Contains(s, "no results") {
		t.Errorf("empty table: %q", s)
	}
	streamOnly := Table(synthetic(four, fourSizes, ipc.Stream)).String()
	if strings.Contains(streamOnly, "p99") || !strings.Contains(streamOnly, "bytes/s") {
		t.Errorf("stream-only table has the wrong columns:\n%s", streamOnly)
	}
}

// captureStdout runs f with os.Stdout redirected and returns what it wrote.
func captureStdout(t *testing.T, f func()) []byte {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	defer func() { os.Stdout = old }()
	f()
	w.Close()
	os.Stdout = old
	return <-done
}

func TestLive(t *testing.T) {
	t.Setenv(display.SessionEnv, "test") // records as the kernel would see them
	rs := synthetic(four, fourSizes, ipc.Stream)
	live := Live("tput-"+t.Name(), func(r ipc.Results) Chart { return Throughput(r).Size(400, 250) })
	out := captureStdout(t, func() {
		for _, r := range rs[:3] {
			if err := live.Add(r); err != nil {
				t.Error(err)
			}
		}
		again := rs[0]
		again.MessagesPerSecond *= 2
		if err := live.Add(again); err != nil { // replaces, does not add
			t.Error(err)
		}
	})
	if n := len(live.Results()); n != 3 {
		t.Errorf("live chart holds %d results, want 3", n)
	}
	var sp cellio.Splitter
	var kinds []string
	for _, it := range sp.Feed(out) {
		if it.Message == nil {
			continue
		}
		kinds = append(kinds, it.Message.Kind)
		if it.Message.DisplayID != "tput-"+t.Name() {
			t.Errorf("display id %q", it.Message.DisplayID)
		}
		if _, ok := it.Message.Data[display.MIMETypeSVG]; !ok {
			t.Errorf("%s record has no SVG", it.Message.Kind)
		}
	}
	want := []string{cellio.KindDisplay, cellio.KindUpdate, cellio.KindUpdate, cellio.KindUpdate}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("records %v, want %v", kinds, want)
	}
	if !strings.Contains(live.Chart().String(), formatSI(2*rs[0].MessagesPerSecond, "")) {
		t.Errorf("re-added result did not replace the old one")
	}
}

func TestConcurrentRender(t *testing.T) {
	st := synthetic(four, fourSizes, ipc.Stream)
	pp := synthetic(four, fourSizes, ipc.PingPong)
	charts := []Chart{Throughput(st), Latency(pp), LatencyCDF(pp), Speedup(st, "pipe")}
	done := make(chan struct{})
	for _, c := range charts {
		go func() {
			defer func() { done <- struct{}{} }()
			if d := c.Size(500, 300).Render(); len(d.Data) != 4 {
				t.Errorf("bundle: %v", keys(d.Data))
			}
		}()
	}
	for range charts {
		<-done
	}
}

// TestAnySize draws every kind of chart at awkward sizes: it must finish
// (the rasteriser loops forever on NaN bounds) and never write NaN.
func TestAnySize(t *testing.T) {
	st := synthetic(allTransports, fourSizes, ipc.Stream)
	pp := synthetic(allTransports, fourSizes, ipc.PingPong)
	charts := map[string]Chart{"throughput": Throughput(st), "latency": Latency(pp), "cdf": LatencyCDF(pp), "speedup": Speedup(st, "pipe")}
	sizes := [][2]int{{120, 80}, {200, 150}, {300, 200}, {400, 120}, {640, 360}, {1200, 300}, {300, 900}}
	for name, c := range charts {
		for _, s := range sizes {
			c := c.Size(s[0], s[1])
			if _, err := png.Decode(bytes.NewReader(c.PNG())); err != nil {
				t.Errorf("%s %v: %v", name, s, err)
			}
			if svg := c.SVG(); strings.Contains(svg, "NaN") {
				t.Errorf("%s %v: SVG has NaN", name, s)
			}
		}
	}
}
