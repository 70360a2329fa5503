package verdict

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/ipclab/ipclab/display"
)

// VerdictMIME is the MIME type under which a Verdict's JSON travels in its
// display bundle (front ends ignore it; tools read it).
const VerdictMIME = "application/vnd.ipclab.verdict+json"

// Outcome is how a claim fared against the measurements.
type Outcome string

const (
	// Undecided: the verdict has numbers but no conclusion yet.
	Undecided Outcome = ""
	// Confirmed: the measurements agree with the claim as stated.
	Confirmed Outcome = "confirmed"
	// Refined: the claim holds only under a condition the verdict names.
	Refined Outcome = "refined"
	// Contradicted: the measurements disagree with the claim.
	Contradicted Outcome = "contradicted"
)

// Number is one deciding measurement: "shm-ring ÷ pipe, 64 B" = 31.2 "×".
type Number struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// MarshalJSON writes NaN and infinities, which JSON lacks, as strings.
func (n Number) MarshalJSON() ([]byte, error) {
	type plain Number
	if math.IsNaN(n.Value) || math.IsInf(n.Value, 0) {
		return json.Marshal(struct {
			Name  string `json:"name"`
			Value string `json:"value"`
			Unit  string `json:"unit,omitempty"`
		}{n.Name, strconv.FormatFloat(n.Value, 'g', -1, 64), n.Unit})
	}
	return json.Marshal(plain(n))
}

// UnmarshalJSON reads what MarshalJSON writes.
func (n *Number) UnmarshalJSON(b []byte) error {
	var raw struct {
		Name  string          `json:"name"`
		Value json.RawMessage `json:"value"`
		Unit  string          `json:"unit"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	n.Name, n.Unit = raw.Name, raw.Unit
	var s string
	if json.Unmarshal(raw.Value, &s) == nil {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("number %q: value %q: %w", raw.Name, s, err)
		}
		n.Value = v
		return nil
	}
	return json.Unmarshal(raw.Value, &n.Value)
}

// String writes the number with its unit: "31.2×", "12.5M msg/s", "0 lost".
func (n Number) String() string { return Format(n.Value, n.Unit) }

// Format writes v with three significant digits, with an SI prefix from
// 10 000 on, and unit: "×" and "%" follow directly, other units after a
// space ("31.2×", "12.5M msg/s", "840 ns").
func Format(v float64, unit string) string {
	num, prefix := v, ""
	if !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) >= 1e4 {
		for _, p := range []string{"k", "M", "G", "T", "P"} {
			if math.Abs(num) < 1e3 {
				break
			}
			num, prefix = num/1e3, p
		}
	}
	var s string
	switch a := math.Abs(num); {
	case math.IsNaN(num) || math.IsInf(num, 0):
		s = strconv.FormatFloat(num, 'g', -1, 64)
	case num == math.Trunc(num) || a >= 100:
		s = strconv.FormatFloat(num, 'f', 0, 64)
	case a >= 10:
		s = strconv.FormatFloat(num, 'f', 1, 64)
	case a >= 1:
		s = strconv.FormatFloat(num, 'f', 2, 64)
	default:
		s = strconv.FormatFloat(num, 'g', 3, 64)
	}
	switch unit {
	case "":
		return s + prefix
	case "×", "%":
		return s + prefix + unit
	}
	return s + prefix + " " + unit
}

// Verdict is a claim and what the measurements say about it. Build one with
// New, record numbers with Number and Ratio, then end it with Confirm, Refine
// or Contradict. Its methods return changed copies except Number, Ratio and
// Param, which record into the verdict they are called on.
type Verdict struct {
	// Claim identifies the claim ("1", "2", "race").
	Claim string `json:"claim"`
	// Statement is the claim as quoted.
	Statement string  `json:"statement"`
	Outcome   Outcome `json:"outcome"`
	// Condition is, for a refined claim, when it holds ("only above 4 KiB").
	Condition string `json:"condition,omitempty"`
	// Reason says in a sentence, with numbers, why.
	Reason string `json:"reason"`
	// Numbers are the measurements the decision rests on.
	Numbers []Number `json:"numbers"`
	// Parameters are the experiment's settings (sizes, durations, seeds…).
	Parameters map[string]string `json:"parameters,omitempty"`
}

// New starts the verdict on claim id, quoting statement.
func New(id, statement string) *Verdict {
	return &Verdict{Claim: id, Statement: statement}
}

// Number records a deciding measurement and returns its value.
func (v *Verdict) Number(name string, value float64, unit string) float64 {
	for i := range v.Numbers {
		if v.Numbers[i].Name == name {
			v.Numbers[i] = Number{name, value, unit}
			return value
		}
	}
	v.Numbers = append(v.Numbers, Number{name, value, unit})
	return value
}

// Ratio records a ÷ b (unit "×") as a deciding number and returns it. A zero
// b gives +Inf (or NaN for 0/0), which compares as Go compares it.
func (v *Verdict) Ratio(name string, a, b float64) float64 {
	return v.Number(name, a/b, "×")
}

// Param records an experiment parameter; values are formatted with %v.
func (v *Verdict) Param(name string, value any) *Verdict {
	if v.Parameters == nil {
		v.Parameters = map[string]string{}
	}
	v.Parameters[name] = fmt.Sprint(value)
	return v
}

// Confirm ends the verdict as Confirmed, because of reason (a format for
// fmt.Sprintf with args).
func (v *Verdict) Confirm(reason string, args ...any) Verdict {
	return v.end(Confirmed, "", reason, args)
}

// Refine ends the verdict as Refined: the claim holds only under condition.
func (v *Verdict) Refine(condition, reason string, args ...any) Verdict {
	return v.end(Refined, condition, reason, args)
}

// Contradict ends the verdict as Contradicted.
func (v *Verdict) Contradict(reason string, args ...any) Verdict {
	return v.end(Contradicted, "", reason, args)
}

func (v *Verdict) end(o Outcome, condition, reason string, args []any) Verdict {
	out := *v
	out.Outcome, out.Condition = o, condition
	out.Reason = reason
	if len(args) > 0 {
		out.Reason = fmt.Sprintf(reason, args...)
	}
	out.Numbers = append([]Number(nil), v.Numbers...)
	if v.Parameters != nil {
		out.Parameters = make(map[string]string, len(v.Parameters))
		for k, p := range v.Parameters {
			out.Parameters[k] = p
		}
	}
	return out
}

// Label is the outcome as a reader sees it: "confirmed", "refined: only
// above 4 KiB", "contradicted", "undecided".
func (v Verdict) Label() string {
	switch v.Outcome {
	case Undecided:
		return "undecided"
	case Refined:
		if v.Condition != "" {
			return "refined: " + v.Condition
		}
	}
	return string(v.Outcome)
}

// Deciding lists the numbers as "name = value" joined by "; ".
func (v Verdict) Deciding() string {
	parts := make([]string, len(v.Numbers))
	for i, n := range v.Numbers {
		parts[i] = n.Name + " = " + n.String()
	}
	return strings.Join(parts, "; ")
}

// String is the verdict as plain text.
func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Claim %s: %s\n", v.Claim, strings.ToUpper(v.Label()))
	if v.Statement != "" {
		fmt.Fprintf(&b, "  “%s”\n", v.Statement)
	}
	if v.Reason != "" {
		fmt.Fprintf(&b, "  %s\n", v.Reason)
	}
	for _, n := range v.Numbers {
		fmt.Fprintf(&b, "  - %s: %s\n", n.Name, n)
	}
	if len(v.Parameters) > 0 {
		fmt.Fprintf(&b, "  parameters: %s\n", params(v.Parameters))
	}
	return b.String()
}

// JSON is the verdict as a JSON object (what VerdictMIME carries).
func (v Verdict) JSON() map[string]any {
	var m map[string]any
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{"claim": v.Claim, "error": err.Error()}
	}
	json.Unmarshal(b, &m)
	m["label"] = v.Label()
	return m
}

// colours of the outcomes: Okabe–Ito green, orange, vermillion; grey.
func (o Outcome) colour() string {
	switch o {
	case Confirmed:
		return "#009E73"
	case Refined:
		return "#E69F00"
	case Contradicted:
		return "#D55E00"
	}
	return "#888888"
}

// HTML is the verdict as a box; its JSON is also in the data-verdict
// attribute, so that an exported page still carries the numbers.
func (v Verdict) HTML() string {
	var b strings.Builder
	js, _ := json.Marshal(v.JSON())
	fmt.Fprintf(&b, `<div class="ipclab-verdict" data-claim="%s" data-outcome="%s" data-verdict="%s" style="border-left:6px solid %s;padding:6px 12px;margin:6px 0;background:#fafafa">`,
		html.EscapeString(v.Claim), html.EscapeString(string(v.Outcome)), html.EscapeString(string(js)), v.Outcome.colour())
	fmt.Fprintf(&b, `<div style="font-weight:bold">Claim %s: <span style="color:%s">%s</span></div>`,
		html.EscapeString(v.Claim), v.Outcome.colour(), html.EscapeString(v.Label()))
	if v.Statement != "" {
		fmt.Fprintf(&b, `<div style="font-style:italic">“%s”</div>`, html.EscapeString(v.Statement))
	}
	if v.Reason != "" {
		fmt.Fprintf(&b, `<p style="margin:4px 0">%s</p>`, html.EscapeString(v.Reason))
	}
	if len(v.Numbers) > 0 {
		b.WriteString(`<table style="margin:0"><tr><th style="text-align:left">deciding number</th><th style="text-align:right">value</th></tr>`)
		for _, n := range v.Numbers {
			fmt.Fprintf(&b, `<tr><td style="text-align:left">%s</td><td style="text-align:right">%s</td></tr>`,
				html.EscapeString(n.Name), html.EscapeString(n.String()))
		}
		b.WriteString(`</table>`)
	}
	if len(v.Parameters) > 0 {
		fmt.Fprintf(&b, `<details><summary>parameters</summary><code>%s</code></details>`, html.EscapeString(params(v.Parameters)))
	}
	b.WriteString(`</div>`)
	return b.String()
}

// Render is the display bundle: HTML, text, and the JSON under VerdictMIME
// and in the metadata ("ipclab": {"verdict": …}).
func (v Verdict) Render() display.Data {
	return bundle(v.HTML(), v.String(), VerdictMIME, "verdict", v.JSON())
}

func params(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + p[k]
	}
	return strings.Join(parts, " ")
}

// bundle is how a verdict, a summary and a machine description display:
// HTML, text, and their JSON under mime and in the output's metadata
// ("ipclab": {key: …}), where tests and other tools read the numbers.
func bundle(htmlText, text, mime, key string, js any) display.Data {
	return display.MIME(display.MIMEMap{
		display.MIMETypeHTML: htmlText,
		display.MIMETypeText: text,
		mime:                 js,
	}, display.MIMEMap{"ipclab": display.MIMEMap{key: js}})
}
