package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The assignments' expected scores: points per grade_id, or -1 where a
// wrong submission must lose some but not necessarily all of a check's
// points (it fails whenever the scheduling exposes the bug: a Push that
// busy-waits slows the ring below the speed check on a busy machine), and the words
// the feedback must show.
type want struct {
	points map[string]float64
	says   []string // in the student's gradebook messages
}

const assignments = "../../notebooks/assignments"

// buildIpclab builds this command into a temporary directory.
func buildIpclab(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ipclab")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func requireKernelRuns(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("grades notebooks in real kernels; skipped in -short mode")
	}
}

// TestGradeAssignments grades, for each assignment, the reference solution,
// the released student version and the wrong submissions in testdata, with
// the real ipclab in child kernels, and checks the gradebook, the feedback
// and that nothing is left behind.
func TestGradeAssignments(t *testing.T) {
	requireKernelRuns(t)
	bin := buildIpclab(t)
	for _, tc := range []struct {
		name     string
		subs     []string
		students map[string]want
	}{
		{"lost-updates", []string{"testdata/lost-solved", "release/lost-updates/lost-updates", "testdata/lost-deadlock",
			"testdata/lost-panic", "testdata/lost-exit", "testdata/lost-flood", "testdata/ring-solved", "testdata/missing"}, map[string]want{
			"lost-solved":   {points: map[string]float64{"test_mutex": 3, "test_messages": 3, "test_cost": 1}},
			"lost-updates":  {points: map[string]float64{"test_mutex": 0, "test_messages": 0, "test_cost": 0}, says: []string{"not implemented"}},
			"lost-deadlock": {points: map[string]float64{"test_mutex": 0, "test_messages": 3, "test_cost": 0}, says: []string{"FAIL no lost updates with the mutex", "time limit"}},
			"lost-panic":    {points: map[string]float64{"test_mutex": 3, "test_messages": 0, "test_cost": 0}, says: []string{"FAIL no lost updates with messages", "nil map"}},
			"lost-exit":     {points: map[string]float64{"test_mutex": 3, "test_messages": 0, "test_cost": 0}, says: []string{"FAIL no lost updates with messages", "os.Exit(1)"}},
			"lost-flood":    {points: map[string]float64{"test_mutex": 3, "test_messages": 3, "test_cost": 1}},
			"ring-solved":   {points: map[string]float64{"test_mutex": 0, "test_messages": 0, "test_cost": 0, "explain": 0}, says: []string{"different assignment"}},
			"missing":       {points: map[string]float64{"test_mutex": 0, "test_messages": 0, "test_cost": 0, "explain": 0}, says: []string{"no such file"}},
		}},
		{"ring-buffer", []string{"testdata/ring-solved", "release/ring-buffer/ring-buffer", "testdata/ring-offbyone",
			"testdata/ring-loop", "testdata/ring-edited", "testdata/ring-racy"}, map[string]want{
			"ring-solved":   {points: map[string]float64{"test_local": 2, "test_order": 3, "test_speed": 2, "test_race": 1}},
			"ring-buffer":   {points: map[string]float64{"test_local": 0, "test_order": 0, "test_speed": 0, "test_race": 0}, says: []string{"not implemented"}},
			"ring-offbyone": {points: map[string]float64{"test_local": 0, "test_order": -1, "test_speed": -1, "test_race": -1}, says: []string{"FAIL push and pop in one process", "Push into a full ring"}},
			"ring-loop":     {points: map[string]float64{"test_local": 0, "test_order": 3, "test_speed": -1, "test_race": 1}, says: []string{"FAIL push and pop in one process", "time limit"}},
			"ring-racy":     {points: map[string]float64{"test_local": 2, "test_order": -1, "test_speed": -1, "test_race": 0}, says: []string{"DataRace: the race detector found"}},
			"ring-edited":   {points: map[string]float64{"test_local": 0, "test_order": 0, "test_speed": 0, "test_race": 0}, says: []string{"was edited", "not implemented"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			out := filepath.Join(tmp, "graded")
			shmBefore := shmSegments()
			args := []string{"grade", "--source", filepath.Join(assignments, "source", tc.name, tc.name+".ipynb"), "-o", out,
				"--jobs", "2", "--cell-timeout", "5m", "--timeout", "15m"}
			for _, s := range tc.subs {
				args = append(args, filepath.Join(assignments, s+".ipynb"))
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			// ring-solved handed in for lost-updates is rejected: exit status 1
			_, rejected := tc.students["ring-solved"].points["test_mutex"]
			if rejected != (err != nil) {
				t.Errorf("ipclab grade: %v (a submission was rejected: %v)", err, rejected)
			}
			if !strings.Contains(stderr.String(), "] "+strconv.Itoa(len(tc.subs))+"/"+strconv.Itoa(len(tc.subs))+" ") {
				t.Error("no progress line for the last submission on stderr")
			}
			var gb struct {
				Environment map[string]any
				Records     []struct {
					Student   string
					GradeID   string `json:"grade_id"`
					Points    *float64
					MaxPoints float64 `json:"max_points"`
					Messages  []string
				}
			}
			data, rerr := os.ReadFile(filepath.Join(out, "gradebook.json"))
			if rerr != nil {
				t.Fatal(rerr)
			}
			if err := json.Unmarshal(data, &gb); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"hostname", "cpus", "load_before", "go", "ipclab"} {
				if v, ok := gb.Environment[k]; !ok || v == "" {
					t.Errorf("gradebook environment lacks %s: %v", k, gb.Environment)
				}
			}
			csvData, _ := os.ReadFile(filepath.Join(out, "gradebook.csv"))
			if !strings.HasPrefix(string(csvData), "student,grade_id,points,max_points,messages\n") {
				t.Errorf("gradebook.csv starts %.80q", csvData)
			}
			seen := map[string]bool{}
			for _, r := range gb.Records {
				w, ok := tc.students[r.Student]
				if !ok {
					t.Errorf("unexpected student %q", r.Student)
					continue
				}
				seen[r.Student] = true
				exp, graded := w.points[r.GradeID]
				if !graded {
					if r.Points != nil {
						t.Errorf("%s %s: %v points for a cell graded by hand", r.Student, r.GradeID, *r.Points)
					}
					continue
				}
				switch {
				case r.Points == nil:
					t.Errorf("%s %s: no points", r.Student, r.GradeID)
				case exp >= 0 && *r.Points != exp:
					t.Errorf("%s %s: %v points, want %v; messages %q", r.Student, r.GradeID, *r.Points, exp, r.Messages)
				}
			}
			for student, w := range tc.students {
				if !seen[student] {
					t.Errorf("no gradebook records for %s", student)
				}
				var msgs []string
				for _, r := range gb.Records {
					if r.Student == student {
						msgs = append(msgs, r.Messages...)
					}
				}
				all := strings.Join(msgs, "\n")
				for _, s := range w.says {
					if !strings.Contains(all, s) {
						t.Errorf("%s: the gradebook messages do not say %q:\n%s", student, s, all)
					}
				}
				fb, err := os.ReadFile(filepath.Join(out, "feedback", student+".html"))
				if err != nil {
					t.Errorf("feedback for %s: %v", student, err)
				}
				if len(w.says) > 0 && err == nil && !strings.Contains(string(fb), strings.ReplaceAll(w.says[0], "\"", "&#34;")) {
					t.Errorf("feedback/%s.html does not say %q", student, w.says[0])
				}
			}
			assertNothingLeft(t, tmp, shmBefore)
		})
	}
}

// shmSegments lists ipclab's POSIX shared-memory segments.
func shmSegments() map[string]bool {
	m := map[string]bool{}
	ents, _ := os.ReadDir("/dev/shm")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "ipclab-") {
			m[e.Name()] = true
		}
	}
	return m
}

// assertNothingLeft checks that grading left no process, segment or
// temporary directory behind.
func assertNothingLeft(t *testing.T, tmp string, shmBefore map[string]bool) {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && bytes.Contains(env, []byte("IPCLAB_GRADE_JOB=")) && bytes.Contains(env, []byte("TMPDIR="+tmp)) {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			t.Errorf("process %s (%q) outlived the grading", e.Name(), bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
	// Other tests may make segments meanwhile: a leaked one is one whose
	// creator ("ipclab-PID-…") is dead, as every grading process is now.
	for name := range shmSegments() {
		f := strings.SplitN(name, "-", 3)
		pid, err := strconv.Atoi(f[1])
		if shmBefore[name] || err != nil || syscall.Kill(pid, 0) == nil {
			continue
		}
		t.Errorf("/dev/shm/%s outlived the grading", name)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "ipclab-grade-*"))
	if len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
}

// TestAssignCommand runs ipclab assign on the assignments (the output must
// be the released notebook, byte for byte) and on bad input.
func TestAssignCommand(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(assignments, "source", "ring-buffer", "ring-buffer.ipynb")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"assign", src, "-o", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("ipclab assign: exit %d: %s", code, stderr.String())
	}
	got, _ := os.ReadFile(filepath.Join(dir, "ring-buffer.ipynb"))
	want, _ := os.ReadFile(filepath.Join(assignments, "release", "ring-buffer", "ring-buffer.ipynb"))
	if !bytes.Equal(got, want) {
		t.Error("ipclab assign output differs from the released notebook")
	}

	cell := func(src, nbgrader string) string {
		md := "{}"
		if nbgrader != "" {
			md = `{"nbgrader": {` + nbgrader + `, "schema_version": 3}}`
		}
		b, _ := json.Marshal(src)
		return `{"cell_type": "code", "metadata": ` + md + `, "source": ` + string(b) + `, "outputs": [], "execution_count": null}`
	}
	for _, tc := range []struct {
		name, cells, want string
	}{
		{"plain", cell("x := 1", ""), "not an assignment"},
		{"duplicate", cell("a", `"grade_id": "q1", "solution": true`) + "," + cell("b", `"grade_id": "q1", "grade": true, "points": 1`), `duplicate grade_id "q1"`},
		{"unclosed", cell("func f() {\n// BEGIN SOLUTION\n}\n", `"grade_id": "q1", "solution": true`), "is not closed"},
	} {
		p := filepath.Join(dir, tc.name+".ipynb")
		os.WriteFile(p, []byte(`{"cells": [`+tc.cells+`], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`), 0o644)
		stderr.Reset()
		code := run([]string{"assign", p, "-o", filepath.Join(dir, "out")}, &stdout, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 saying %q", tc.name, code, stderr.String(), tc.want)
		}
		if _, err := os.Stat(filepath.Join(dir, "out", tc.name+".ipynb")); err == nil {
			t.Errorf("%s: a release was written for a bad source", tc.name)
		}
	}
	stderr.Reset()
	if code := run([]string{"grade", "--source", filepath.Join(dir, "plain.ipynb"), "-o", filepath.Join(dir, "g"), src}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "not an assignment") {
		t.Errorf("grade against a plain notebook: exit %d, %q", code, stderr.String())
	}
}
