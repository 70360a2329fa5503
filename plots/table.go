package plots

import (
	"fmt"
	"hash/fnv"
	"html"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/ipclab/ipclab/display"
	"github.com/ipclab/ipclab/ipc"
)

// ResultsTable is results as a table: HTML whose columns sort when their
// header is clicked (where the front end runs the output's script), and
// aligned plain text. Columns follow the modes present: rates and trial
// spread for stream results, round-trip percentiles for ping-pong results,
// and always the verified, lost and corrupt message counts.
type ResultsTable struct {
	results ipc.Results
	title   string
}

// Table returns results as a table, in the order given.
func Table(results ipc.Results) ResultsTable {
	return ResultsTable{results: results, title: "Results"}
}

// Title replaces the table's title.
func (t ResultsTable) Title(title string) ResultsTable {
	t.title = title
	return t
}

// column is one column: its header, whether it is numeric, and each row's
// shown text and sort key.
type column struct {
	header string
	num    bool
	cell   func(r ipc.Result) (text string, sortKey float64)
}

func (t ResultsTable) columns() []column {
	stream, pingpong := false, false
	for _, r := range t.results {
		if modeOf(r) == ipc.Stream {
			stream = true
		} else {
			pingpong = true
		}
	}
	dur := func(d func(ipc.Result) float64) func(ipc.Result) (string, float64) {
		return func(r ipc.Result) (string, float64) {
			v := d(r)
			if modeOf(r) != ipc.PingPong || v <= 0 {
				return "", -1
			}
			return formatDuration(durationOf(v)), v
		}
	}
	cols := []column{
		{"transport", false, func(r ipc.Result) (string, float64) { return seriesOf(r), 0 }},
		{"mode", false, func(r ipc.Result) (string, float64) { return string(modeOf(r)), 0 }},
		{"size", true, func(r ipc.Result) (string, float64) { return formatBytes(r.SizeBytes), float64(r.SizeBytes) }},
		{"msg/s", true, func(r ipc.Result) (string, float64) { return formatSI(r.MessagesPerSecond, ""), r.MessagesPerSecond }},
	}
	if stream {
		cols = append(cols,
			column{"bytes/s", true, func(r ipc.Result) (string, float64) {
				return formatSI(bytesPerSecond(r), "B/s"), bytesPerSecond(r)
			}},
			column{"trials (msg/s)", true, func(r ipc.Result) (string, float64) {
				lo, hi := spread(r)
				if hi <= 0 {
					return "", -1
				}
				return fmt.Sprintf("%s – %s", formatSI(lo, ""), formatSI(hi, "")), lo
			}})
	}
	if pingpong {
		cols = append(cols,
			column{"p50", true, dur(func(r ipc.Result) float64 { return float64(r.RTTp50) })},
			column{"p90", true, dur(func(r ipc.Result) float64 { return float64(r.RTTp90) })},
			column{"p99", true, dur(func(r ipc.Result) float64 { return float64(r.RTTp99) })},
			column{"max", true, dur(func(r ipc.Result) float64 { return float64(r.RTTMax) })})
	}
	count := func(f func(ipc.Result) int64) func(ipc.Result) (string, float64) {
		return func(r ipc.Result) (string, float64) { return strconv.FormatInt(f(r), 10), float64(f(r)) }
	}
	return append(cols,
		column{"trials", true, func(r ipc.Result) (string, float64) { return strconv.Itoa(len(r.Trials)), float64(len(r.Trials)) }},
		column{"verified", true, count(func(r ipc.Result) int64 { return r.Messages })},
		column{"lost", true, count(func(r ipc.Result) int64 { return r.Lost })},
		column{"corrupt", true, count(func(r ipc.Result) int64 { return r.Corrupt })},
	)
}

// String returns the table as aligned plain text.
func (t ResultsTable) String() string {
	if len(t.results) == 0 {
		return t.title + ": no results"
	}
	var b strings.Builder
	b.WriteString(t.title + "\n")
	if c := captionOf(t.results); c != "" {
		b.WriteString(c + "\n")
	}
	cols := t.columns()
	cells := make([][]string, 0, len(t.results)+1)
	head := make([]string, len(cols))
	for i, c := range cols {
		head[i] = c.header
	}
	cells = append(cells, head)
	for _, r := range t.results {
		row := make([]string, len(cols))
		for i, c := range cols {
			if row[i], _ = c.cell(r); row[i] == "" {
				row[i] = "–"
			}
		}
		cells = append(cells, row)
	}
	width := make([]int, len(cols))
	for _, row := range cells {
		for i, s := range row {
			width[i] = max(width[i], utf8.RuneCountInString(s))
		}
	}
	for _, row := range cells {
		var line strings.Builder
		for i, s := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(s))
			if i > 0 {
				line.WriteString("  ")
			}
			if cols[i].num {
				line.WriteString(pad + s)
			} else {
				line.WriteString(s + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

var tableSeq atomic.Int64

// HTML returns the table as HTML with a small script that sorts a column when
// its header is clicked; without the script it is a plain table.
func (t ResultsTable) HTML() string {
	if len(t.results) == 0 {
		return "<p>" + html.EscapeString(t.title) + ": no results</p>"
	}
	cols := t.columns()
	h := fnv.New32a()
	h.Write([]byte(t.String()))
	id := fmt.Sprintf("ipclab-table-%08x-%d", h.Sum32(), tableSeq.Add(1))
	var b strings.Builder
	fmt.Fprintf(&b, `<table id="%s" class="ipclab-results" style="border-collapse:collapse;font-variant-numeric:tabular-nums">`+"\n", id)
	fmt.Fprintf(&b, `<caption style="caption-side:top;text-align:left"><b>%s</b>`, html.EscapeString(t.title))
	if c := captionOf(t.results); c != "" {
		fmt.Fprintf(&b, `<br><small>%s</small>`, html.EscapeString(c))
	}
	b.WriteString("</caption>\n<thead><tr>")
	for _, c := range cols {
		align, typ := "left", "text"
		if c.num {
			align, typ = "right", "num"
		}
		fmt.Fprintf(&b, `<th data-type="%s" style="text-align:%s;cursor:pointer" title="click to sort">%s</th>`, typ, align, html.EscapeString(c.header))
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for _, r := range t.results {
		b.WriteString("<tr>")
		for i, c := range cols {
			text, key := c.cell(r)
			switch {
			case i == 0:
				fmt.Fprintf(&b, `<td style="text-align:left;white-space:nowrap"><span style="display:inline-block;width:.75em;height:.75em;margin-right:.4em;background:%s"></span>%s</td>`,
					hexColor(lookOf(seriesOf(r)).color), html.EscapeString(text))
			case c.num:
				fmt.Fprintf(&b, `<td data-v="%g" style="text-align:right;white-space:nowrap">%s</td>`, key, html.EscapeString(text))
			default:
				fmt.Fprintf(&b, `<td style="text-align:left">%s</td>`, html.EscapeString(text))
			}
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n")
	fmt.Fprintf(&b, `<script>(function(){var t=document.getElementById(%q);if(!t||!t.tHead)return;var hs=t.tHead.rows[0].cells;`+
		`Array.prototype.forEach.call(hs,function(h,i){h.addEventListener("click",function(){`+
		`var num=h.getAttribute("data-type")==="num",dir=h.getAttribute("data-dir")==="asc"?-1:1,b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);`+
		`Array.prototype.forEach.call(hs,function(o){o.removeAttribute("data-dir");o.textContent=o.textContent.replace(/ [▲▼]$/,"")});`+
		`h.setAttribute("data-dir",dir===1?"asc":"desc");h.textContent+=dir===1?" ▲":" ▼";`+
		`rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i];if(num){return dir*(parseFloat(a.getAttribute("data-v"))-parseFloat(c.getAttribute("data-v")))}return dir*a.textContent.localeCompare(c.textContent)});`+
		`rows.forEach(function(r){b.appendChild(r)})})})})();</script>`, id)
	return b.String()
}

// Render returns the table as HTML and plain text in one bundle.
func (t ResultsTable) Render() display.Data {
	return display.MIME(display.MIMEMap{
		display.MIMETypeHTML: t.HTML(),
		display.MIMETypeText: t.String(),
	}, nil)
}

func hexColor(c interface{ RGBA() (r, g, b, a uint32) }) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02x%02x%02x", r>>8, g>>8, b>>8)
}
