package course

import (
	"fmt"
	"html/template"
	"os"
	"strings"
)

var feedbackPage = template.Must(template.New("feedback").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Feedback: {{.Student}}</title>
<style>
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; }
.pass { color: #0a6b0a; } .fail { color: #b00020; } .manual { color: #8a5a00; }
.cell { border-left: 4px solid #ccc; padding-left: 1em; margin: 1.5em 0; }
.cell.fail { border-color: #b00020; } .cell.pass { border-color: #0a6b0a; }
td, th { padding: .2em .8em; text-align: left; vertical-align: top; }
</style></head><body>
<h1>{{.Student}}: {{.Points}} / {{.Max}} points</h1>
{{if .Error}}<p class="fail">Not graded: {{.Error}}</p>{{end}}
{{range .Notes}}<p class="manual">{{.}}</p>{{end}}
<table><tr><th>check</th><th>points</th><th>messages</th></tr>
{{range .Records}}<tr class="{{.Class}}"><td>{{.ID}}</td><td>{{.Points}} / {{.Max}}</td><td>{{range .Messages}}{{.}}<br>{{end}}</td></tr>
{{end}}</table>
{{range .Cells}}<div class="cell {{.Class}}">{{if .ID}}<p><b>{{.ID}}</b> {{.Label}}</p>{{end}}
{{if .Markdown}}<pre>{{.Source}}</pre>{{else}}<pre><code>{{.Source}}</code></pre>{{range .Outputs}}<pre class="{{.Class}}">{{.Text}}</pre>{{end}}{{end}}
</div>
{{end}}
</body></html>
`))

type fbRecord struct {
	ID, Points, Max, Class string
	Messages               []string
}

type fbOutput struct{ Text, Class string }

type fbCell struct {
	ID, Label, Class, Source string
	Markdown                 bool
	Outputs                  []fbOutput
}

// writeFeedback writes the student's feedback page: the score per check
// and every cell with what it printed.
func writeFeedback(path string, r gradedSubmission, nb *Notebook) error {
	page := struct {
		Student, Points, Max, Error string
		Notes                       []string
		Records                     []fbRecord
		Cells                       []fbCell
	}{Student: r.sub.Student, Points: fmtPoints(r.sub.Points), Max: fmtPoints(r.sub.MaxPoints), Error: r.sub.Error, Notes: r.sub.Notes}
	class := map[string]string{}
	for _, rec := range r.records {
		fr := fbRecord{ID: rec.GradeID, Max: fmtPoints(rec.MaxPoints), Messages: rec.Messages, Class: "manual", Points: "by hand"}
		if rec.Points != nil {
			fr.Points = fmtPoints(*rec.Points)
			fr.Class = "pass"
			if *rec.Points < rec.MaxPoints {
				fr.Class = "fail"
			}
		}
		class[rec.GradeID] = fr.Class
		page.Records = append(page.Records, fr)
	}
	if nb != nil {
		for _, c := range nb.Cells {
			fc := fbCell{Source: c.Source, Markdown: c.Type != "code"}
			if g, ok := c.Grading(); ok {
				fc.ID = g.GradeID
				fc.Class = class[g.GradeID]
				switch {
				case g.Grade:
					fc.Label = fmt.Sprintf("(%s points)", fmtPoints(g.Points))
				case g.Solution:
					fc.Label = "(your code)"
				}
			}
			for _, o := range c.Outputs {
				fc.Outputs = append(fc.Outputs, outputText(o))
			}
			page.Cells = append(page.Cells, fc)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := feedbackPage.Execute(f, page); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func outputText(o map[string]any) fbOutput {
	switch o["output_type"] {
	case "stream":
		t, _ := o["text"].(string)
		return fbOutput{Text: t}
	case "error":
		var tb []string
		if l, ok := o["traceback"].([]any); ok {
			for _, x := range l {
				tb = append(tb, fmt.Sprint(x))
			}
		} else if l, ok := o["traceback"].([]string); ok {
			tb = l
		}
		text := fmt.Sprintf("%v: %v", o["ename"], o["evalue"])
		if len(tb) > 0 {
			text = stripANSI(strings.Join(tb, "\n"))
		}
		return fbOutput{Text: text, Class: "fail"}
	default:
		if d, ok := o["data"].(map[string]any); ok {
			if t, ok := d["text/plain"].(string); ok {
				return fbOutput{Text: t}
			}
			return fbOutput{Text: "[rich output]"}
		}
	}
	return fbOutput{}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < '@' || s[j] > '~') {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
