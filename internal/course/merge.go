package course

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrOtherAssignment says a submission's cells are not those of the source.
var ErrOtherAssignment = errors.New("the submission is from a different assignment")

// merged is a submission made ready to grade: the source's locked cells
// (hidden tests included) and the student's solutions, in the student's
// order, with notes on what had to be restored.
type merged struct {
	nb    *Notebook
	notes map[string][]string // by grade_id; "" for the notebook
}

func (m *merged) note(id, format string, args ...any) {
	m.notes[id] = append(m.notes[id], fmt.Sprintf(format, args...))
}

// mergeSubmission checks that sub belongs to src and builds what is graded.
func mergeSubmission(src, rel, sub *Notebook) (*merged, error) {
	srcIDs, err := gradedCells(src)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	relIDs, _ := gradedCells(rel)
	subIDs, err := gradedCells(sub)
	if errors.Is(err, ErrNotAssignment) {
		return nil, fmt.Errorf("%w: it has no cell with nbgrader metadata", ErrOtherAssignment)
	}
	if err != nil {
		return nil, fmt.Errorf("submission: %w", err)
	}
	var unknown []string
	common := 0
	for id := range subIDs {
		if _, ok := srcIDs[id]; ok {
			common++
		} else {
			unknown = append(unknown, id)
		}
	}
	slices.Sort(unknown)
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: grade_ids %s are not in the source", ErrOtherAssignment, strings.Join(quoteAll(unknown), ", "))
	}
	if common == 0 {
		return nil, fmt.Errorf("%w: it shares no grade_id with the source", ErrOtherAssignment)
	}
	m := &merged{nb: &Notebook{rest: src.rest}, notes: map[string][]string{}}
	var order []string // grade_id of each output cell ("" for unmarked)
	for _, c := range sub.Cells {
		g, ok := c.Grading()
		if !ok {
			m.nb.Cells = append(m.nb.Cells, copyCell(c))
			order = append(order, "")
			continue
		}
		sc := srcIDs[g.GradeID]
		sg, _ := sc.Grading()
		n := copyCell(sc)
		if sg.Solution {
			n.Source = c.Source
			if c.Type != sc.Type {
				m.note(g.GradeID, "cell %q was changed from %s to %s; graded as %s", g.GradeID, sc.Type, c.Type, sc.Type)
			}
		} else if rc := relIDs[g.GradeID]; rc != nil && (c.Source != rc.Source && c.Source != sc.Source || c.Type != rc.Type) {
			m.note(g.GradeID, "the locked cell %q was edited in the submission; it was graded as the teacher wrote it", g.GradeID)
		}
		m.nb.Cells = append(m.nb.Cells, n)
		order = append(order, g.GradeID)
	}
	// Cells the student deleted come back after the cell that preceded them.
	prev := ""
	for _, sc := range src.Cells {
		sg, ok := sc.Grading()
		if !ok {
			continue
		}
		if _, present := subIDs[sg.GradeID]; present {
			prev = sg.GradeID
			continue
		}
		n := copyCell(relIDs[sg.GradeID])
		what := "restored from the source"
		if !sg.Solution {
			n = copyCell(sc)
		} else {
			what = "graded with the released stub"
		}
		m.note(sg.GradeID, "cell %q was missing from the submission; %s", sg.GradeID, what)
		at := 0
		if prev != "" {
			at = slices.Index(order, prev) + 1
		}
		m.nb.Cells = slices.Insert(m.nb.Cells, at, n)
		order = slices.Insert(order, at, sg.GradeID)
		prev = sg.GradeID
	}
	for _, c := range m.nb.Cells {
		if c.Type == "code" {
			c.Outputs = nil
			c.rest["execution_count"] = nil
		}
	}
	return m, nil
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return q
}
