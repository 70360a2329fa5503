// Package course is ipclab's assignment tooling: notebooks in nbgrader's
// format, the student version a teacher releases (Assign), and the grading
// of submissions in fresh kernels (Grade), with a gradebook and feedback.
//
// A cell's role is its metadata.nbgrader, exactly as nbgrader writes it
// (schema_version 3): "solution" cells are where students write code, with
// the teacher's answer between "// BEGIN SOLUTION" and "// END SOLUTION";
// "grade" cells earn "points" when they run without an error output;
// "locked" cells (every grade cell that is not also a solution) are restored
// from the source before grading, with their hidden tests between
// "// BEGIN HIDDEN TESTS" and "// END HIDDEN TESTS". Checksums are
// nbgrader's (compute_checksum), so a teacher can take the same notebooks
// to nbgrader.
//
// The package never runs student code in its own process: Grade starts one
// child process per submission (ipclab grade-run) and kills what it leaves.
package course

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Notebook is a Jupyter notebook (nbformat 4). Keys this package does not
// use are kept as they were read.
type Notebook struct {
	Cells []*Cell
	rest  map[string]any // metadata, nbformat, nbformat_minor, …
}

// Cell is one cell of a Notebook.
type Cell struct {
	Type   string // "code", "markdown" or "raw"
	Source string
	// Outputs of a code cell, as nbformat stores them.
	Outputs []map[string]any
	rest    map[string]any // metadata, execution_count, id, attachments
}

// Grading is a cell's metadata.nbgrader.
type Grading struct {
	GradeID  string
	Solution bool
	Grade    bool
	Locked   bool
	Points   float64
}

// ErrNotAssignment says a notebook has no cell with nbgrader metadata.
var ErrNotAssignment = errors.New("not an assignment: no cell has nbgrader metadata (metadata.nbgrader.grade_id)")

// ReadNotebook reads an .ipynb file.
func ReadNotebook(path string) (*Notebook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	nb, err := ParseNotebook(data)
	if err != nil {
		return nil, fmt.Errorf("read notebook %s: %w", path, err)
	}
	return nb, nil
}

// ParseNotebook parses the JSON of a notebook.
func ParseNotebook(data []byte) (*Notebook, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a notebook (JSON): %w", err)
	}
	rawCells, ok := raw["cells"].([]any)
	if !ok {
		return nil, errors.New("not a notebook: no \"cells\" list")
	}
	delete(raw, "cells")
	nb := &Notebook{rest: raw}
	for i, rc := range rawCells {
		m, ok := rc.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("cell %d is not an object", i+1)
		}
		c := &Cell{rest: m}
		c.Type, _ = m["cell_type"].(string)
		c.Source = joinSource(m["source"])
		if outs, ok := m["outputs"].([]any); ok {
			for _, o := range outs {
				if om, ok := o.(map[string]any); ok {
					c.Outputs = append(c.Outputs, om)
				}
			}
		}
		delete(m, "cell_type")
		delete(m, "source")
		delete(m, "outputs")
		nb.Cells = append(nb.Cells, c)
	}
	return nb, nil
}

func joinSource(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case []any:
		var b strings.Builder
		for _, l := range s {
			if ls, ok := l.(string); ok {
				b.WriteString(ls)
			}
		}
		return b.String()
	}
	return ""
}

// splitLines splits s after every newline, as nbformat stores sources.
func splitLines(s string) []string {
	lines := []string{}
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// Marshal writes the notebook as Jupyter does (keys sorted, one-space
// indent, a final newline), so that the same notebook gives the same bytes.
func (nb *Notebook) Marshal() ([]byte, error) {
	out := map[string]any{}
	for k, v := range nb.rest {
		out[k] = v
	}
	cells := make([]any, 0, len(nb.Cells))
	for _, c := range nb.Cells {
		m := map[string]any{}
		for k, v := range c.rest {
			m[k] = v
		}
		m["cell_type"] = c.Type
		m["source"] = splitLines(c.Source)
		if _, ok := m["metadata"]; !ok {
			m["metadata"] = map[string]any{}
		}
		if c.Type == "code" {
			outs := make([]any, 0, len(c.Outputs))
			for _, o := range c.Outputs {
				outs = append(outs, o)
			}
			m["outputs"] = outs
			if _, ok := m["execution_count"]; !ok {
				m["execution_count"] = nil
			}
		}
		cells = append(cells, m)
	}
	out["cells"] = cells
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteFile writes the notebook to path.
func (nb *Notebook) WriteFile(path string) error {
	data, err := nb.Marshal()
	if err != nil {
		return fmt.Errorf("encode notebook %s: %w", path, err)
	}
	return os.WriteFile(path, data, 0o644)
}

// Metadata is the cell's metadata object (made if missing).
func (c *Cell) Metadata() map[string]any {
	m, ok := c.rest["metadata"].(map[string]any)
	if !ok {
		m = map[string]any{}
		if c.rest == nil {
			c.rest = map[string]any{}
		}
		c.rest["metadata"] = m
	}
	return m
}

func (c *Cell) nbgrader() (map[string]any, bool) {
	m, ok := c.Metadata()["nbgrader"].(map[string]any)
	return m, ok
}

// Grading returns the cell's nbgrader metadata; ok is false for a cell
// without it.
func (c *Cell) Grading() (g Grading, ok bool) {
	m, ok := c.nbgrader()
	if !ok {
		return g, false
	}
	g.GradeID, _ = m["grade_id"].(string)
	g.Solution, _ = m["solution"].(bool)
	g.Grade, _ = m["grade"].(bool)
	g.Locked, _ = m["locked"].(bool)
	switch p := m["points"].(type) {
	case json.Number:
		g.Points, _ = p.Float64()
	case float64:
		g.Points = p
	case int:
		g.Points = float64(p)
	}
	// nbgrader's is_locked: a solution cell is never locked, a grade cell
	// always is.
	if g.Solution {
		g.Locked = false
	} else if g.Grade {
		g.Locked = true
	}
	return g, true
}

// Checksum is nbgrader's compute_checksum of the cell: the MD5 of its
// source, its type, is_grade, is_solution and is_locked as Python prints
// booleans, its grade_id, and for grade cells its points as a Python float.
func (c *Cell) Checksum() string {
	g, _ := c.Grading()
	h := md5.New()
	h.Write([]byte(c.Source))
	h.Write([]byte(c.Type))
	h.Write([]byte(pyBool(g.Grade)))
	h.Write([]byte(pyBool(g.Solution)))
	h.Write([]byte(pyBool(g.Locked)))
	h.Write([]byte(g.GradeID))
	if g.Grade {
		h.Write([]byte(pyFloat(g.Points)))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// pyFloat formats f as Python's str(float) does for the numbers points are.
func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// gradedCells returns the cells with nbgrader metadata and checks that
// their grade_ids are present and unique.
func gradedCells(nb *Notebook) (map[string]*Cell, error) {
	ids := map[string]*Cell{}
	for i, c := range nb.Cells {
		g, ok := c.Grading()
		if !ok {
			continue
		}
		if g.GradeID == "" {
			return nil, fmt.Errorf("cell %d has nbgrader metadata without a grade_id", i+1)
		}
		if _, dup := ids[g.GradeID]; dup {
			return nil, fmt.Errorf("duplicate grade_id %q (cell %d and an earlier cell)", g.GradeID, i+1)
		}
		if g.Grade && g.Points < 0 {
			return nil, fmt.Errorf("grade cell %q has negative points", g.GradeID)
		}
		ids[g.GradeID] = c
	}
	if len(ids) == 0 {
		return nil, ErrNotAssignment
	}
	return ids, nil
}
