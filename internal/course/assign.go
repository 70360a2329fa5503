package course

import (
	"fmt"
	"strings"
)

// The delimiters nbgrader uses by default, after the language's comment
// marker; and the stub that replaces a solution (nbgrader's code_stub).
const (
	BeginSolution = "BEGIN SOLUTION"
	EndSolution   = "END SOLUTION"
	BeginHidden   = "BEGIN HIDDEN TESTS"
	EndHidden     = "END HIDDEN TESTS"
	Stub          = "// YOUR CODE HERE\npanic(\"not implemented\")"
	TextStub      = "YOUR ANSWER HERE"
)

// marker reports whether line is "// WORD" (any indent, nothing after).
func marker(line, word string) bool {
	t := strings.TrimSpace(line)
	return strings.HasPrefix(t, "//") && strings.TrimSpace(strings.TrimPrefix(t, "//")) == word
}

// Release returns the student version of the source notebook: solutions
// replaced by Stub, hidden tests removed, outputs cleared, checksums of
// graded and locked cells recorded, those cells made undeletable and locked
// cells read-only. The source is not changed. The same source gives the
// same bytes.
func Release(src *Notebook) (*Notebook, error) {
	if _, err := gradedCells(src); err != nil {
		return nil, err
	}
	out := &Notebook{rest: src.rest}
	for i, c := range src.Cells {
		rc, err := releaseCell(c)
		if err != nil {
			return nil, fmt.Errorf("cell %d: %w", i+1, err)
		}
		out.Cells = append(out.Cells, rc)
	}
	return out, nil
}

func copyCell(c *Cell) *Cell {
	n := &Cell{Type: c.Type, Source: c.Source, rest: map[string]any{}}
	for k, v := range c.rest {
		n.rest[k] = v
	}
	md := map[string]any{}
	for k, v := range c.Metadata() {
		md[k] = v
	}
	if g, ok := md["nbgrader"].(map[string]any); ok {
		ng := map[string]any{}
		for k, v := range g {
			ng[k] = v
		}
		md["nbgrader"] = ng
	}
	n.rest["metadata"] = md
	n.Outputs = append([]map[string]any(nil), c.Outputs...)
	return n
}

func releaseCell(c *Cell) (*Cell, error) {
	n := copyCell(c)
	g, graded := c.Grading()
	if n.Type == "code" {
		n.Outputs = nil
		n.rest["execution_count"] = nil
	}
	name := "a cell without nbgrader metadata"
	if graded {
		name = fmt.Sprintf("cell %q", g.GradeID)
	}
	var err error
	n.Source, err = replaceRegions(n.Source, BeginSolution, EndSolution, Stub, graded && g.Solution, name)
	if err != nil {
		return nil, err
	}
	if graded && g.Solution && !strings.Contains(c.Source, BeginSolution) {
		// nbgrader replaces a whole solution cell without delimiters
		n.Source = Stub
		if n.Type != "code" {
			n.Source = TextStub
		}
	}
	n.Source, err = replaceRegions(n.Source, BeginHidden, EndHidden, "", graded && g.Grade, name)
	if err != nil {
		return nil, err
	}
	if !graded {
		return n, nil
	}
	md := n.Metadata()
	ng := md["nbgrader"].(map[string]any)
	if g.Grade || g.Solution || g.Locked {
		ng["checksum"] = n.Checksum()
		ng["cell_type"] = n.Type
	}
	md["deletable"] = false
	if g.Locked {
		md["editable"] = false
	}
	return n, nil
}

// replaceRegions replaces every BEGIN…END region of src (delimiter lines
// included) by repl, indented as the BEGIN line. allowed says whether the
// cell may have such regions at all.
func replaceRegions(src, begin, end, repl string, allowed bool, cell string) (string, error) {
	lines := splitLines(src)
	var out []string
	open := -1
	for i, l := range lines {
		switch {
		case marker(l, begin):
			if !allowed {
				return "", fmt.Errorf("%s has %q on line %d but is not marked as a %s cell", cell, "// "+begin, i+1, map[string]string{BeginSolution: "solution", BeginHidden: "grade"}[begin])
			}
			if open >= 0 {
				return "", fmt.Errorf("%s: %q on line %d inside the region opened on line %d", cell, "// "+begin, i+1, open+1)
			}
			open = i
			if repl != "" {
				indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
				for _, r := range splitLines(repl) {
					out = append(out, indent+r)
				}
				if !strings.HasSuffix(repl, "\n") {
					out = append(out, "\n")
				}
			}
		case marker(l, end):
			if open < 0 {
				return "", fmt.Errorf("%s: %q on line %d without %q before it", cell, "// "+end, i+1, "// "+begin)
			}
			open = -1
		case open < 0:
			out = append(out, l)
		}
	}
	if open >= 0 {
		return "", fmt.Errorf("%s: the region opened by %q on line %d is not closed (no %q)", cell, "// "+begin, open+1, "// "+end)
	}
	s := strings.Join(out, "")
	if !strings.HasSuffix(src, "\n") {
		s = strings.TrimSuffix(s, "\n")
	}
	return s, nil
}
