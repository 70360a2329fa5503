package verdict

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ipclab/ipclab/display"
)

// SummaryMIME is the MIME type under which a Summary's JSON travels.
const SummaryMIME = "application/vnd.ipclab.summary+json"

// Summary is a table of verdicts, one row per claim, shown once (Show) and
// updated in place as verdicts are added — also when the row's section runs
// after the table, so a summary at the top of a notebook fills in as the
// notebook runs. It is safe for use by several goroutines.
type Summary struct {
	id    string
	title string

	mu       sync.Mutex
	shown    bool
	verdicts []Verdict
}

// NewSummary returns an empty summary shown as the output named id.
func NewSummary(id, title string) *Summary {
	return &Summary{id: id, title: title}
}

// Show displays the summary under the current cell.
func (s *Summary) Show() error {
	s.mu.Lock()
	s.shown = true
	s.mu.Unlock()
	s.save()
	return display.Update(s.id, s.Render())
}

// ResumeSummary takes up the summary id where an earlier session process of
// the same kernel left it: a cell after a restart (%goflags, an interrupt
// that had to restart the session) assigns it again, and later Adds update
// the table shown before the restart. Without a saved summary it returns an
// empty one that is not shown anywhere yet.
func ResumeSummary(id string) *Summary {
	s := &Summary{id: id}
	b, err := os.ReadFile(s.stateFile())
	if err != nil {
		return s
	}
	var st summaryState
	if json.Unmarshal(b, &st) == nil {
		s.title, s.shown, s.verdicts = st.Title, st.Shown, st.Verdicts
	}
	return s
}

type summaryState struct {
	Title    string    `json:"title"`
	Shown    bool      `json:"shown"`
	Verdicts []Verdict `json:"verdicts"`
}

// stateFile is where a summary is kept for ResumeSummary: in the kernel's
// state directory, private to the user and removed with the kernel's
// workspace. Empty outside the kernel, where there is nothing to resume.
func (s *Summary) stateFile() string {
	dir := os.Getenv(display.StateDirEnv)
	if os.Getenv(display.SessionEnv) == "" || dir == "" {
		return ""
	}
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == 0 {
			return '_'
		}
		return r
	}, s.id)
	return filepath.Join(dir, "summary-"+name+".json")
}

// save writes the summary for ResumeSummary; a summary that cannot be
// saved still works, it just cannot be resumed.
func (s *Summary) save() {
	file := s.stateFile()
	if file == "" {
		return
	}
	s.mu.Lock()
	b, err := json.Marshal(summaryState{s.title, s.shown, s.verdicts})
	s.mu.Unlock()
	if err != nil || os.MkdirAll(filepath.Dir(file), 0o700) != nil {
		return
	}
	tmp := file + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		os.Rename(tmp, file)
	}
}

// Add records v, replacing an earlier verdict on the same claim, shows v
// under the current cell, and redraws the summary wherever it was shown —
// also above the current cell, so a summary at the top of a notebook fills
// in as the sections below it run.
func (s *Summary) Add(v Verdict) error {
	s.mu.Lock()
	replaced := false
	for i := range s.verdicts {
		if s.verdicts[i].Claim == v.Claim {
			s.verdicts[i], replaced = v, true
		}
	}
	if !replaced {
		s.verdicts = append(s.verdicts, v)
		sort.SliceStable(s.verdicts, func(i, j int) bool { return claimLess(s.verdicts[i].Claim, s.verdicts[j].Claim) })
	}
	shown := s.shown
	s.mu.Unlock()
	s.save()
	err := display.Show(v)
	if shown {
		if uerr := display.Replace(s.id, s.Render()); err == nil {
			err = uerr
		}
	}
	return err
}

// Verdicts returns the verdicts recorded so far, in claim order.
func (s *Summary) Verdicts() []Verdict {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Verdict(nil), s.verdicts...)
}

// claimLess orders "2" before "10" and numbers before words.
func claimLess(a, b string) bool {
	var x, y int
	_, ea := fmt.Sscan(a, &x)
	_, eb := fmt.Sscan(b, &y)
	switch {
	case ea == nil && eb == nil && x != y:
		return x < y
	case (ea == nil) != (eb == nil):
		return ea == nil
	}
	return a < b
}

// String is the summary as a text table.
func (s *Summary) String() string {
	vs := s.Verdicts()
	var b strings.Builder
	if s.title != "" {
		b.WriteString(s.title + "\n")
	}
	if len(vs) == 0 {
		b.WriteString("(no verdicts yet: run the sections below)\n")
	}
	for _, v := range vs {
		fmt.Fprintf(&b, "claim %-3s %-40s %s\n", v.Claim, v.Label(), v.Deciding())
	}
	return b.String()
}

// HTML is the summary as a table: claim, verdict, deciding numbers.
func (s *Summary) HTML() string {
	vs := s.Verdicts()
	var b strings.Builder
	js, _ := json.Marshal(s.JSON())
	fmt.Fprintf(&b, `<div class="ipclab-summary" data-summary="%s">`, html.EscapeString(string(js)))
	if s.title != "" {
		fmt.Fprintf(&b, `<div style="font-weight:bold;margin-bottom:4px">%s</div>`, html.EscapeString(s.title))
	}
	if len(vs) == 0 {
		b.WriteString(`<p><i>No verdicts yet: they appear here as the sections below run.</i></p></div>`)
		return b.String()
	}
	b.WriteString(`<table><tr><th style="text-align:left">claim</th><th style="text-align:left">verdict</th><th style="text-align:left">deciding numbers</th></tr>`)
	for _, v := range vs {
		fmt.Fprintf(&b, `<tr class="ipclab-summary-row" data-claim="%s" data-outcome="%s"><td style="text-align:left;vertical-align:top"><b>%s</b> %s</td><td style="text-align:left;vertical-align:top;color:%s;font-weight:bold">%s</td><td style="text-align:left;vertical-align:top">%s</td></tr>`,
			html.EscapeString(v.Claim), html.EscapeString(string(v.Outcome)), html.EscapeString(v.Claim),
			html.EscapeString(v.Statement), v.Outcome.colour(), html.EscapeString(v.Label()), html.EscapeString(v.Deciding()))
	}
	b.WriteString(`</table></div>`)
	return b.String()
}

// JSON is the summary as {"title": …, "verdicts": [ … ]}.
func (s *Summary) JSON() map[string]any {
	vs := s.Verdicts()
	list := make([]any, len(vs))
	for i, v := range vs {
		list[i] = v.JSON()
	}
	return map[string]any{"title": s.title, "verdicts": list}
}

// Render is the display bundle: HTML, text, and the JSON under SummaryMIME
// and in the metadata ("ipclab": {"summary": …}).
func (s *Summary) Render() display.Data {
	return bundle(s.HTML(), s.String(), SummaryMIME, "summary", s.JSON())
}
