package verdict

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		unit string
		want string
	}{
		{31.234, "×", "31.2×"},
		{0.4219, "×", "0.422×"},
		{3, "×", "3×"},
		{12_500_000, "msg/s", "12.5M msg/s"},
		{29_499, "msgs", "29.5k msgs"},
		{1234.7, "ns", "1235 ns"},
		{2.5, "%", "2.50%"},
		{0, "updates", "0 updates"},
		{-0.25, "", "-0.25"},
		{math.Inf(1), "×", "+Inf×"},
		{math.NaN(), "", "NaN"},
	} {
		if got := Format(tt.v, tt.unit); got != tt.want {
			t.Errorf("Format(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func TestVerdictOutcomes(t *testing.T) {
	v := New("2", "Shared memory is faster.")
	r := v.Ratio("shm-ring ÷ pipe", 10, 4)
	if r != 2.5 {
		t.Fatalf("Ratio = %v", r)
	}
	v.Number("shm-ring ÷ pipe", 3, "×") // replaces, does not add
	v.Param("sizes", []int{64})
	c := v.Confirm("the ring was %.1f× faster", r)
	if c.Outcome != Confirmed || c.Label() != "confirmed" || c.Reason != "the ring was 2.5× faster" {
		t.Errorf("confirmed verdict = %+v", c)
	}
	if len(c.Numbers) != 1 || c.Numbers[0].Value != 3 || c.Parameters["sizes"] != "[64]" {
		t.Errorf("numbers %v, parameters %v", c.Numbers, c.Parameters)
	}
	// Ending a verdict copies it: later numbers do not change a verdict already ended.
	v.Number("later", 1, "")
	if len(c.Numbers) != 1 {
		t.Errorf("an ended verdict changed: %v", c.Numbers)
	}
	rf := v.Refine("only above 4 KiB", "no 100%% sure")
	if rf.Label() != "refined: only above 4 KiB" || rf.Reason != "no 100%% sure" {
		t.Errorf("refined: label %q reason %q (a reason without args is not a format)", rf.Label(), rf.Reason)
	}
	if got := New("x", "").Label(); got != "undecided" {
		t.Errorf("undecided label = %q", got)
	}
	if got := v.Contradict("no").Outcome; got != Contradicted {
		t.Errorf("outcome %q", got)
	}
}

func TestVerdictRendersItsNumbers(t *testing.T) {
	v := New("3", `Bulk <data> & "small"`)
	v.Ratio("shm ÷ pipe", 1, 0) // +Inf: JSON has no infinity
	v.Number("nan", math.NaN(), "")
	v.Number("lost", 0, "updates")
	d := v.Contradict("because").Render()
	js, ok := d.Data[VerdictMIME].(map[string]any)
	if !ok {
		t.Fatalf("no %s in %v", VerdictMIME, d.Data)
	}
	if _, err := json.Marshal(d.Data); err != nil {
		t.Fatalf("bundle is not JSON: %v", err)
	}
	nums := js["numbers"].([]any)
	if nums[0].(map[string]any)["value"] != "+Inf" || nums[2].(map[string]any)["value"] != 0.0 {
		t.Errorf("numbers = %v", nums)
	}
	if js["outcome"] != "contradicted" || js["label"] != "contradicted" {
		t.Errorf("json = %v", js)
	}
	if d.Metadata["ipclab"].(map[string]any)["verdict"] == nil {
		t.Errorf("metadata = %v", d.Metadata)
	}
	h := d.Data["text/html"].(string)
	if strings.Contains(h, "<data>") || !strings.Contains(h, "Bulk &lt;data&gt;") {
		t.Errorf("statement not escaped: %s", h)
	}
	// The HTML carries the same JSON in data-verdict, for readers of an exported page.
	m := regexp.MustCompile(`data-verdict="([^"]*)"`).FindStringSubmatch(h)
	if m == nil {
		t.Fatalf("no data-verdict in %s", h)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(unescape(m[1])), &back); err != nil || back["claim"] != "3" {
		t.Errorf("data-verdict = %v (%v)", back, err)
	}
	text := d.Data["text/plain"].(string)
	for _, want := range []string{"Claim 3: CONTRADICTED", "shm ÷ pipe: +Inf×", "lost: 0 updates"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func unescape(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&quot;", `"`, "&lt;", "<", "&gt;", ">", "&#39;", "'", "&amp;", "&").Replace(s)
}

func TestSummaryOneRowPerClaim(t *testing.T) {
	s := NewSummary("test-summary", "Claims")
	if !strings.Contains(s.String(), "no verdicts yet") {
		t.Errorf("empty summary: %q", s.String())
	}
	for _, id := range []string{"10", "2", "race", "1"} {
		v := New(id, "claim "+id)
		v.Number("n", 1, "")
		if err := s.Add(v.Confirm("ok")); err != nil {
			t.Fatal(err)
		}
	}
	again := New("2", "claim 2")
	again.Number("n", 0.5, "×")
	s.Add(again.Refine("only sometimes", "rerun"))
	var order []string
	for _, v := range s.Verdicts() {
		order = append(order, v.Claim+":"+string(v.Outcome))
	}
	if got := strings.Join(order, " "); got != "1:confirmed 2:refined 10:confirmed race:confirmed" {
		t.Errorf("rows = %s", got)
	}
	d := s.Render()
	rows := regexp.MustCompile(`class="ipclab-summary-row"`).FindAllString(d.Data["text/html"].(string), -1)
	if len(rows) != 4 {
		t.Errorf("%d HTML rows", len(rows))
	}
	if vs := d.Data[SummaryMIME].(map[string]any)["verdicts"].([]any); len(vs) != 4 {
		t.Errorf("%d JSON verdicts", len(vs))
	}
}

func TestRawData(t *testing.T) {
	d := RawData("claim9", map[string]int{"lost": 3})
	h := d.Data["text/html"].(string)
	m := regexp.MustCompile(`download="claim9.json" href="data:application/json;base64,([^"]+)"`).FindStringSubmatch(h)
	if m == nil {
		t.Fatalf("no download link: %s", h)
	}
	b, _ := base64.StdEncoding.DecodeString(m[1])
	var back map[string]int
	if err := json.Unmarshal(b, &back); err != nil || back["lost"] != 3 {
		t.Errorf("link holds %s (%v)", b, err)
	}
	if bad := RawData("x", func() {}); !strings.Contains(bad.Data["text/plain"].(string), "cannot write JSON") {
		t.Errorf("unencodable value: %v", bad.Data)
	}
}

func TestCharts(t *testing.T) {
	c := RatioBars("scoreboard", Number{"shm-ring ÷ pipe", 31, "×"}, Number{"sleeping", 0.8, "×"}, Number{"broken", math.NaN(), "×"})
	svg := c.SVG()
	for _, want := range []string{"<svg", "scoreboard", "shm-ring ÷ pipe", "31×", "0.8×", "×1"} {
		if !strings.Contains(svg, want) {
			t.Errorf("ratio chart lacks %q", want)
		}
	}
	d := Bars("lost", Number{"none", 12, "%"}, Number{"atomic", 0, "%"}).Render()
	if !strings.HasPrefix(d.Data["text/html"].(string), `<img class="ipclab-chart" src="data:image/svg+xml;base64,`) {
		t.Errorf("html = %.80s", d.Data["text/html"])
	}
	if empty := Bars("nothing").Render(); !strings.Contains(empty.Data["text/plain"].(string), "no numbers") {
		t.Errorf("empty chart: %v", empty.Data)
	}
}

func TestMachine(t *testing.T) {
	m := CurrentMachine()
	if m.CPUs <= 0 || m.Allowed <= 0 || m.GoVersion == "" || m.Ipclab == "" {
		t.Errorf("machine = %+v", m)
	}
	d := m.Render()
	if d.Data[MachineMIME].(map[string]any)["cpus_allowed"] == nil {
		t.Errorf("json = %v", d.Data[MachineMIME])
	}
}

func TestResumeSummary(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	if got := ResumeSummary("none").Verdicts(); len(got) != 0 {
		t.Errorf("resumed outside the kernel: %v", got)
	}
	// In a session process the summary is saved for the next one of the
	// same kernel (same parent process).
	t.Setenv("IPCLAB_SESSION", "1")
	t.Setenv("IPCLAB_STATE_DIR", t.TempDir())
	s := NewSummary("resume-test", "Claims")
	v := New("1", "one")
	v.Ratio("inf", 1, 0)
	s.Add(v.Confirm("ok"))
	back := ResumeSummary("resume-test")
	vs := back.Verdicts()
	if len(vs) != 1 || vs[0].Outcome != Confirmed || !math.IsInf(vs[0].Numbers[0].Value, 1) || back.title != "Claims" {
		t.Errorf("resumed %+v", vs)
	}
	if other := ResumeSummary("other"); len(other.Verdicts()) != 0 {
		t.Errorf("another id resumed %v", other.Verdicts())
	}
}
