// Package verdict turns what a notebook just measured into a conclusion about
// a claim, and collects the conclusions into a summary.
//
// A Verdict quotes a claim, records the numbers that decide it, and ends
// Confirmed, Refined (true only under a condition, which it names) or
// Contradicted. The notebook decides with ordinary Go on numbers measured in
// the same run — orderings and ratios, never absolute speeds — so that the same
// cell reaches the same verdict on a laptop and on a busy two-core server:
//
//	summary := verdict.NewSummary("summary", "What we found") // at the top
//	summary.Show()
//	…
//	v := verdict.New("2", "Shared memory is faster …")
//	r := v.Ratio("shm-ring ÷ pipe, 64 B msg/s", shm, pipe)
//	if r > 1 {
//		summary.Add(v.Confirm("the ring moved %.1f× the messages of a pipe", r))
//	} else {
//		summary.Add(v.Contradict("a pipe was %.1f× faster", 1/r))
//	}
//
// Add shows the verdict under the cell and updates the summary in place.
//
// A Verdict shown in a cell renders as a coloured box (HTML) and as text, and
// carries itself as JSON under the MIME type VerdictMIME in the display
// bundle and in its metadata, so tests, graders and publishing scripts read
// the numbers the reader sees. A Summary is a table of verdicts, one row per
// claim (re-running a section replaces its row), shown once and updated in
// place. Machine describes where the numbers came from (CPU, load, Go,
// ipclab version); Bars and RatioBars chart numbers that are not ipc results;
// RawData attaches any value as a downloadable JSON file to the output.
//
// Nothing here measures or decides by itself; the package never imports the
// kernel and never panics on bad numbers (NaN and infinities are shown as such).
package verdict
