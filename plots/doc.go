// Package plots draws comparative charts of ipc results with gonum/plot and
// shows them inline in a notebook.
//
// Each chart is a value built from a set of results and shown by leaving it
// as a cell's last expression or passing it to display.Show:
//
//	plots.Throughput(results)        // msg/s and bytes/s vs message size, log-log
//	plots.Latency(results)           // round trips: bar to p50, marker at p99
//	plots.LatencyCDF(results)        // distribution of round-trip times
//	plots.Speedup(results, "pipe")   // ×12.3: each transport vs a baseline
//	plots.Costs(results)             // system calls and kernel CPU per message
//	plots.Table(results)             // sortable HTML table and plain text
//
// Options return a changed copy: plots.Latency(rs).Size(600, 300).Title("…").
// A throughput chart can also draw reference lines, rates no transport of the
// results measured, such as the C limit of `ipclab bench --compare`:
// plots.Throughput(rs).References(plots.Reference{Label: "C limit (plain ring)", BySize: rates}).
// A Chart renders as one display bundle with SVG (also as an HTML <img>, for
// crisp HTML exports), PNG of exactly its size and a text/plain alt text that lists every number it
// draws, under a caption naming the machine, Go version and date. Live redraws
// a chart in place (update_display_data) as results arrive, and WriteFile and
// Chart.Save write a chart to an .svg or .png file, as `ipclab bench --plot`
// does.
//
// A chart draws one series per variant (Result.Label: "shm-ring/spin"), and
// its caption names each result's own parameters, whether the machine was
// busy and which trials were too short to trust (starred series). Every chart
// draws a series in the same colour, dash and marker: a colour of its own for
// each transport ipc ships (Okabe–Ito and Tol's colour-blind-safe palettes),
// a shade of it for a variant, from a hash of the name for others, so the
// charts of a notebook agree and also read in grey. Color returns that
// colour for cells that draw their own.
//
// A chart that cannot be drawn (no results of its mode, only zeros, a missing
// baseline) shows why as text; Err returns that reason. Nothing in the package
// panics on bad data, and it never imports the kernel.
package plots
