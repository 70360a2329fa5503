package course

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func nbCell(typ, src string, nbg map[string]any) *Cell {
	c := &Cell{Type: typ, Source: src, rest: map[string]any{"metadata": map[string]any{}}}
	if nbg != nil {
		m := map[string]any{"schema_version": 3, "grade": false, "solution": false, "locked": false}
		for k, v := range nbg {
			m[k] = v
		}
		c.rest["metadata"].(map[string]any)["nbgrader"] = m
	}
	return c
}

func newNB(cells ...*Cell) *Notebook {
	return &Notebook{Cells: cells, rest: map[string]any{"nbformat": 4, "nbformat_minor": 5,
		"metadata": map[string]any{"kernelspec": map[string]any{"name": "ipclab", "language": "go"}}}}
}

// The expected values were computed with nbgrader's compute_checksum
// algorithm in Python (hashlib.md5 over source, cell_type, str(is_grade),
// str(is_solution), str(is_locked), grade_id and str(float(points))).
func TestChecksumIsNbgraders(t *testing.T) {
	for _, tc := range []struct {
		cell *Cell
		want string
	}{
		{nbCell("code", "check.Equal(\"x\", 1, 1)\n", map[string]any{"grade_id": "t1", "grade": true, "points": 2}), "91bd2901da362b3d784d19fdff848031"},
		{nbCell("code", "func f() {}", map[string]any{"grade_id": "sol", "solution": true, "locked": true}), "aa291f0cb5528addab5cbb4c916e3a8a"},
		{nbCell("markdown", "# Intro", map[string]any{"grade_id": "intro", "locked": true}), "ddb4874efc0631c9a756bb64c7cb24ee"},
		{nbCell("code", "x", map[string]any{"grade_id": "half", "grade": true, "points": 0.5}), "a0778eb145be926678f22f94b3471437"},
	} {
		g, _ := tc.cell.Grading()
		if got := tc.cell.Checksum(); got != tc.want {
			t.Errorf("checksum of %q = %s, want %s", g.GradeID, got, tc.want)
		}
	}
}

const solutionSrc = "func sum(n int) int {\n\t// BEGIN SOLUTION\n\treturn n * (n + 1) / 2\n\t// END SOLUTION\n}\n"

func sample() *Notebook {
	return newNB(
		nbCell("markdown", "# Sum", nil),
		nbCell("code", solutionSrc, map[string]any{"grade_id": "sum", "solution": true}),
		nbCell("code", "check.Equal(\"10\", sum(10), 55)\n// BEGIN HIDDEN TESTS\ncheck.Equal(\"100\", sum(100), 5050)\n// END HIDDEN TESTS\n",
			map[string]any{"grade_id": "test", "grade": true, "locked": true, "points": 2}),
		nbCell("markdown", "answer", map[string]any{"grade_id": "explain", "solution": true, "grade": true, "points": 1}),
	)
}

func TestRelease(t *testing.T) {
	src := sample()
	src.Cells[1].Outputs = []map[string]any{{"output_type": "stream", "name": "stdout", "text": "x"}}
	rel, err := Release(src)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rel.Cells[1].Source, "func sum(n int) int {\n\t// YOUR CODE HERE\n\tpanic(\"not implemented\")\n}\n"; got != want {
		t.Errorf("solution cell released as\n%s\nwant\n%s", got, want)
	}
	if len(rel.Cells[1].Outputs) != 0 || len(src.Cells[1].Outputs) != 1 {
		t.Error("outputs not cleared in the release, or cleared in the source")
	}
	if got := rel.Cells[2].Source; strings.Contains(got, "5050") || !strings.Contains(got, "sum(10)") {
		t.Errorf("hidden tests not removed:\n%s", got)
	}
	if rel.Cells[3].Source != TextStub {
		t.Errorf("text solution released as %q", rel.Cells[3].Source)
	}
	for _, i := range []int{1, 2, 3} {
		c := rel.Cells[i]
		ng, _ := c.nbgrader()
		if ng["checksum"] != c.Checksum() || ng["cell_type"] != c.Type {
			t.Errorf("cell %d: checksum %v, cell_type %v; want %s, %s", i, ng["checksum"], ng["cell_type"], c.Checksum(), c.Type)
		}
	}
	if md := rel.Cells[2].Metadata(); md["editable"] != false || md["deletable"] != false {
		t.Errorf("locked cell metadata %v", md)
	}
	if _, ok := rel.Cells[1].Metadata()["editable"]; ok {
		t.Error("a solution cell must stay editable")
	}
	a, _ := rel.Marshal()
	rel2, _ := Release(src)
	b, _ := rel2.Marshal()
	if !bytes.Equal(a, b) {
		t.Error("two releases of the same source differ")
	}
	back, err := ParseNotebook(a)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := back.Marshal()
	if !bytes.Equal(a, c) {
		t.Error("reading and writing a notebook changes it")
	}
}

func TestReleaseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		nb   *Notebook
		want string
	}{
		{"not an assignment", newNB(nbCell("code", "x := 1", nil)), "not an assignment"},
		{"duplicate grade_id", newNB(nbCell("code", "a", map[string]any{"grade_id": "a"}), nbCell("code", "b", map[string]any{"grade_id": "a"})), `duplicate grade_id "a"`},
		{"unclosed solution", newNB(nbCell("code", "f()\n// BEGIN SOLUTION\nx := 1\n", map[string]any{"grade_id": "s", "solution": true})), `cell "s": the region opened by "// BEGIN SOLUTION" on line 2 is not closed`},
		{"end without begin", newNB(nbCell("code", "// END SOLUTION\n", map[string]any{"grade_id": "s", "solution": true})), `without "// BEGIN SOLUTION"`},
		{"solution in a locked cell", newNB(nbCell("code", "// BEGIN SOLUTION\n// END SOLUTION\n", map[string]any{"grade_id": "t", "grade": true, "points": 1})), "not marked as a solution cell"},
		{"unclosed hidden tests", newNB(nbCell("code", "// BEGIN HIDDEN TESTS\n", map[string]any{"grade_id": "t", "grade": true, "points": 1})), "is not closed"},
		{"no grade_id", newNB(nbCell("code", "x", map[string]any{"solution": true})), "without a grade_id"},
	} {
		_, err := Release(tc.nb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", tc.name, err, tc.want)
		}
	}
	if _, err := ParseNotebook([]byte(`{"cells": 3}`)); err == nil {
		t.Error("a notebook whose cells are not a list was accepted")
	}
}

func TestMergeSubmission(t *testing.T) {
	src := sample()
	rel, err := Release(src)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := ParseNotebook(must(rel.Marshal()))
	sub.Cells[1].Source = "func sum(n int) int { return 0 }"
	sub.Cells[2].Source = "check.That(\"fine\", true, \"\")"                        // edited locked cell
	sub.Cells = append(sub.Cells[:3], nbCell("code", "fmt.Println(\"mine\")", nil)) // a cell of the student's; "explain" deleted
	sub.Cells[1].Metadata()["nbgrader"].(map[string]any)["points"] = 100            // ignored: the source's metadata counts
	m, err := mergeSubmission(src, rel, sub)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range m.nb.Cells {
		got = append(got, strings.SplitN(c.Source, "\n", 2)[0])
	}
	want := []string{"# Sum", "func sum(n int) int { return 0 }", "check.Equal(\"10\", sum(10), 55)", TextStub, "fmt.Println(\"mine\")"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("merged cells\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(m.nb.Cells[2].Source, "5050") {
		t.Error("hidden tests not restored")
	}
	if n := m.notes["test"]; len(n) != 1 || !strings.Contains(n[0], "was edited") {
		t.Errorf("notes on the edited cell: %q", n)
	}
	if n := m.notes["explain"]; len(n) != 1 || !strings.Contains(n[0], "missing") {
		t.Errorf("notes on the deleted cell: %q", n)
	}

	other := newNB(nbCell("code", "x", map[string]any{"grade_id": "ring"}))
	if _, err := mergeSubmission(src, rel, other); !errors.Is(err, ErrOtherAssignment) || !strings.Contains(err.Error(), `"ring"`) {
		t.Errorf("a submission of another assignment: %v", err)
	}
	if _, err := mergeSubmission(src, rel, newNB(nbCell("code", "x", nil))); !errors.Is(err, ErrOtherAssignment) {
		t.Errorf("a plain notebook as a submission: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// The released notebooks in git are exactly what ipclab assign writes.
func TestReleasedAssignmentsAreCurrent(t *testing.T) {
	root := filepath.Join("..", "..", "notebooks", "assignments")
	sources, _ := filepath.Glob(filepath.Join(root, "source", "*", "*.ipynb"))
	if len(sources) < 2 {
		t.Fatalf("want at least two assignments under %s/source, found %d", root, len(sources))
	}
	for _, s := range sources {
		nb, err := ReadNotebook(s)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := Release(nb)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		want := must(rel.Marshal())
		relPath := filepath.Join(root, "release", filepath.Base(filepath.Dir(s)), filepath.Base(s))
		got, err := os.ReadFile(relPath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what ipclab assign writes for %s: run ipclab assign %s -o %s", relPath, s, s, filepath.Dir(relPath))
		}
	}
}
