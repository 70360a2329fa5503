package course

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipclab/ipclab/internal/proctab"
	"github.com/ipclab/ipclab/ipc"
	"golang.org/x/sys/unix"
)

// Options configure Grade.
type Options struct {
	Source          string        // the teacher's notebook, with solutions and hidden tests
	OutDir          string        // gradebook.csv, gradebook.json, feedback/, autograded/
	Jobs            int           // submissions graded at once (default 1)
	CellTimeout     time.Duration // per cell (default 60 s)
	NotebookTimeout time.Duration // per submission (default 10 min)
	Exe             string        // the ipclab executable that runs "grade-run DIR"
	Version         string        // ipclab's version, for the gradebook
	Progress        io.Writer     // progress lines (nil: none)
}

// Record is one line of the gradebook: one student and one grade cell.
type Record struct {
	Student   string   `json:"student"`
	GradeID   string   `json:"grade_id"`
	Points    *float64 `json:"points"` // nil: graded by hand
	MaxPoints float64  `json:"max_points"`
	Messages  []string `json:"messages"`
}

// Submission is what the gradebook says of one submission as a whole.
type Submission struct {
	Student   string        `json:"student"`
	File      string        `json:"file"`
	Points    float64       `json:"points"`
	MaxPoints float64       `json:"max_points"`
	Manual    float64       `json:"manual_points"` // points left to grade by hand
	Error     string        `json:"error,omitempty"`
	Notes     []string      `json:"notes,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
}

// Gradebook is what Grade writes to gradebook.json.
type Gradebook struct {
	Source      string       `json:"source"`
	Environment Environment  `json:"environment"`
	Submissions []Submission `json:"submissions"`
	Records     []Record     `json:"records"`
}

// Environment is where and how the grading ran.
type Environment struct {
	Hostname        string    `json:"hostname"`
	CPUModel        string    `json:"cpu_model"`
	CPUs            int       `json:"cpus"`
	LoadBefore      string    `json:"load_before"` // /proc/loadavg: 1, 5, 15 minutes
	LoadAfter       string    `json:"load_after"`
	Kernel          string    `json:"os_kernel"`
	Go              string    `json:"go"` // the toolchain that compiled the cells
	Ipclab          string    `json:"ipclab"`
	Jobs            int       `json:"jobs"`
	CellTimeout     string    `json:"cell_timeout"`
	NotebookTimeout string    `json:"notebook_timeout"`
	Started         time.Time `json:"started"`
	Finished        time.Time `json:"finished"`
}

// ErrRejected is returned by Grade, after the gradebook is written, when a
// submission could not be graded at all (unreadable, another assignment).
var ErrRejected = errors.New("some submissions could not be graded")

// Grade grades every submission against the source: each runs in a fresh
// kernel in a child process, with the time limits of opts, and whatever it
// started is killed when it ends. It writes the gradebook and feedback to
// opts.OutDir and returns the gradebook.
func Grade(ctx context.Context, opts Options, submissions []string) (*Gradebook, error) {
	if opts.Jobs < 1 {
		opts.Jobs = 1
	}
	if opts.CellTimeout <= 0 {
		opts.CellTimeout = time.Minute
	}
	if opts.NotebookTimeout <= 0 {
		opts.NotebookTimeout = 10 * time.Minute
	}
	if len(submissions) == 0 {
		return nil, errors.New("no submissions to grade")
	}
	src, err := ReadNotebook(opts.Source)
	if err != nil {
		return nil, err
	}
	rel, err := Release(src)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", opts.Source, err)
	}
	students := map[string]string{}
	for _, s := range submissions {
		name := studentName(s)
		if other, dup := students[name]; dup {
			return nil, fmt.Errorf("two submissions are both student %q: %s and %s (the student is the file name without .ipynb)", name, other, s)
		}
		students[name] = s
	}
	for _, d := range []string{opts.OutDir, filepath.Join(opts.OutDir, "feedback"), filepath.Join(opts.OutDir, "autograded")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("make output directory: %w", err)
		}
	}
	// Processes a submission orphans become this process's children, so
	// that reapOrphans can reap them: a zombie still counts as alive, and
	// ipc.Sweep leaves the segments of live processes alone.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	gb := &Gradebook{Source: opts.Source, Environment: environment(opts)}
	results := make([]gradedSubmission, len(submissions))
	var (
		mu   sync.Mutex
		done int
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for w := 0; w < min(opts.Jobs, len(submissions)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := gradeOne(ctx, opts, src, rel, submissions[i])
				mu.Lock()
				results[i] = r
				done++
				progress(opts.Progress, done, len(submissions), r)
				mu.Unlock()
			}
		}()
	}
	for i := range submissions {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("grading stopped: %w", ctx.Err())
	}
	rejected := 0
	for _, r := range results {
		gb.Submissions = append(gb.Submissions, r.sub)
		gb.Records = append(gb.Records, r.records...)
		if r.sub.Error != "" {
			rejected++
		}
	}
	gb.Environment.LoadAfter = loadavg()
	gb.Environment.Finished = time.Now().UTC().Truncate(time.Second)
	if err := writeGradebook(opts.OutDir, gb); err != nil {
		return nil, err
	}
	if rejected > 0 {
		return gb, fmt.Errorf("%w: %d of %d (see gradebook.json)", ErrRejected, rejected, len(submissions))
	}
	return gb, nil
}

func studentName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".ipynb")
}

type gradedSubmission struct {
	sub     Submission
	records []Record
}

func progress(w io.Writer, done, total int, r gradedSubmission) {
	if w == nil {
		return
	}
	const width = 20
	bar := strings.Repeat("#", done*width/total) + strings.Repeat(".", width-done*width/total)
	what := fmt.Sprintf("%s/%s points", fmtPoints(r.sub.Points), fmtPoints(r.sub.MaxPoints))
	if r.sub.Error != "" {
		what = "not graded: " + r.sub.Error
	}
	fmt.Fprintf(w, "[%s] %d/%d %s: %s (%.1fs)\n", bar, done, total, r.sub.Student, what, r.sub.Duration.Seconds())
}

func fmtPoints(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// gradeOne grades one submission; every failure is reported in the result.
func gradeOne(ctx context.Context, opts Options, src, rel *Notebook, path string) gradedSubmission {
	start := time.Now()
	r := gradedSubmission{sub: Submission{Student: studentName(path), File: path}}
	reject := func(err error) gradedSubmission {
		r.sub.Error = err.Error()
		for _, c := range src.Cells {
			if g, ok := c.Grading(); ok && g.Grade {
				r.sub.MaxPoints += g.Points
				zero := 0.0
				r.records = append(r.records, Record{Student: r.sub.Student, GradeID: g.GradeID, Points: &zero, MaxPoints: g.Points,
					Messages: []string{"not graded: " + err.Error()}})
			}
		}
		r.sub.Duration = time.Since(start)
		if err := writeFeedback(filepath.Join(opts.OutDir, "feedback", r.sub.Student+".html"), r, nil); err != nil {
			r.sub.Notes = append(r.sub.Notes, "could not write the feedback: "+err.Error())
		}
		return r
	}
	sub, err := ReadNotebook(path)
	if err != nil {
		return reject(err)
	}
	m, err := mergeSubmission(src, rel, sub)
	if err != nil {
		return reject(err)
	}
	r.sub.Notes = m.notes[""]
	results, runNote := execute(ctx, opts, m.nb)
	if runNote != "" {
		r.sub.Notes = append(r.sub.Notes, runNote)
	}
	code := 0
	for _, c := range m.nb.Cells {
		if c.Type != "code" {
			continue
		}
		res, ok := results[code]
		code++
		if !ok {
			res = cellResult{Error: &cellError{Name: "NotRun", Value: "not run: " + firstNonEmpty(runNote, "the grading stopped before this cell"),
				Traceback: []string{"not run: " + firstNonEmpty(runNote, "the grading stopped before this cell")}}}
		}
		c.Outputs = res.Outputs
		c.rest["execution_count"] = code
		if res.Error != nil {
			c.Outputs = append(c.Outputs, map[string]any{"output_type": "error", "ename": res.Error.Name, "evalue": res.Error.Value,
				"traceback": nonNil(res.Error.Traceback)})
		}
	}
	for _, c := range m.nb.Cells {
		g, ok := c.Grading()
		if !ok || !g.Grade {
			continue
		}
		rec := Record{Student: r.sub.Student, GradeID: g.GradeID, MaxPoints: g.Points, Messages: append([]string{}, m.notes[g.GradeID]...)}
		r.sub.MaxPoints += g.Points
		switch {
		case g.Solution || c.Type != "code":
			rec.Messages = append(rec.Messages, "graded by hand (a cell that is both solution and grade, or not code)")
			r.sub.Manual += g.Points
		default:
			p := g.Points
			if e := errorOutput(c); e != nil {
				p = 0
				fails := failLines(c.Outputs)
				if len(fails) == 0 {
					fails = []string{firstLine(fmt.Sprintf("%s: %s", e["ename"], e["evalue"]))}
				}
				rec.Messages = append(rec.Messages, fails...)
			} else {
				rec.Messages = append(rec.Messages, "passed")
			}
			rec.Points = &p
			r.sub.Points += p
		}
		r.records = append(r.records, rec)
	}
	// notes on locked cells that are not grade cells go to the submission
	for id, ns := range m.notes {
		if id == "" {
			continue
		}
		if c := cellByID(m.nb, id); c != nil {
			if g, _ := c.Grading(); !g.Grade {
				r.sub.Notes = append(r.sub.Notes, ns...)
			}
		}
	}
	slices.Sort(r.sub.Notes)
	r.sub.Duration = time.Since(start)
	if err := m.nb.WriteFile(filepath.Join(opts.OutDir, "autograded", r.sub.Student+".ipynb")); err != nil {
		r.sub.Notes = append(r.sub.Notes, "could not write the graded notebook: "+err.Error())
	}
	if err := writeFeedback(filepath.Join(opts.OutDir, "feedback", r.sub.Student+".html"), r, m.nb); err != nil {
		r.sub.Notes = append(r.sub.Notes, "could not write the feedback: "+err.Error())
	}
	return r
}

func cellByID(nb *Notebook, id string) *Cell {
	for _, c := range nb.Cells {
		if g, ok := c.Grading(); ok && g.GradeID == id {
			return c
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func errorOutput(c *Cell) map[string]any {
	for _, o := range c.Outputs {
		if o["output_type"] == "error" {
			return o
		}
	}
	return nil
}

// tokenEnv marks every process a grading child starts, so that what
// escapes its process group can still be found and killed.
const tokenEnv = "IPCLAB_GRADE_JOB"

// execute runs the code cells of nb in a child process and returns their
// results by code-cell index, and a note when the run did not finish.
func execute(ctx context.Context, opts Options, nb *Notebook) (map[int]cellResult, string) {
	dir, err := os.MkdirTemp("", "ipclab-grade-")
	if err != nil {
		return nil, "could not make a directory to grade in: " + err.Error()
	}
	defer os.RemoveAll(dir)
	var j job
	j.CellTimeout = opts.CellTimeout
	for _, c := range nb.Cells {
		if c.Type == "code" {
			j.Cells = append(j.Cells, c.Source)
		}
	}
	data, _ := json.Marshal(j)
	if err := os.WriteFile(filepath.Join(dir, "job.json"), data, 0o600); err != nil {
		return nil, "could not write the grading job: " + err.Error()
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, "could not make a directory to grade in: " + err.Error()
	}
	logf, err := os.Create(filepath.Join(dir, "kernel.log"))
	if err != nil {
		return nil, "could not make the kernel log: " + err.Error()
	}
	defer logf.Close()
	var tok [8]byte
	rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	cmd := exec.Command(opts.Exe, "grade-run", dir)
	cmd.Env = append(os.Environ(), "TMPDIR="+filepath.Join(dir, "tmp"), tokenEnv+"="+token)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig fires when the thread that started the child exits: start
	// and wait on one locked thread, which lives as long as the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	waited := make(chan error, 1)
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, "could not start the kernel: " + err.Error()
	}
	children.Lock()
	children.m[cmd.Process.Pid] = true
	children.Unlock()
	defer func() {
		children.Lock()
		delete(children.m, cmd.Process.Pid)
		children.Unlock()
	}()
	note := ""
	timer := time.NewTimer(opts.NotebookTimeout)
	defer timer.Stop()
	select {
	case err = <-waited:
		if err != nil {
			note = fmt.Sprintf("the kernel ended early (%v): %s", err, lastLines(filepath.Join(dir, "kernel.log"), 3))
		}
	case <-timer.C:
		note = fmt.Sprintf("the notebook's time limit of %v was reached", opts.NotebookTimeout)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
	case <-ctx.Done():
		note = "grading was stopped"
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	killTagged(token)
	reapOrphans()
	_, _ = ipc.Sweep() // shared-memory segments and queues of the dead processes
	return readResults(filepath.Join(dir, "results.jsonl")), note
}

// children are the grading processes this process started and waits for
// with exec.Cmd.Wait: reapOrphans leaves them alone.
var children = struct {
	sync.Mutex
	m map[int]bool
}{m: map[int]bool{}}

// reapOrphans waits for the dead processes that submissions left and
// that became this process's children (see PR_SET_CHILD_SUBREAPER in Grade).
func reapOrphans() {
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := 0
		for _, p := range proctab.List() {
			if p.PPID != os.Getpid() {
				continue
			}
			pid := p.PID
			children.Lock()
			ours := children.m[pid]
			children.Unlock()
			if ours {
				continue
			}
			if p.State == 'Z' {
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			} else {
				syscall.Kill(pid, syscall.SIGKILL)
				left++
			}
		}
		if left == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readResults(path string) map[int]cellResult {
	out := map[int]cellResult{}
	data, _ := os.ReadFile(path)
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var r cellResult
		if dec.Decode(&r) != nil {
			break
		}
		out[r.Index] = r
	}
	return out
}

func lastLines(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// killTagged kills every process whose environment carries the job's
// token, until none is left (a process that forks in a loop included).
func killTagged(token string) {
	want := []byte(tokenEnv + "=" + token + "\x00")
	for round := 0; round < 20; round++ {
		ents, err := os.ReadDir("/proc")
		if err != nil {
			return
		}
		found := 0
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if err != nil || !bytes.Contains(env, want) {
				continue
			}
			syscall.Kill(pid, syscall.SIGKILL)
			found++
		}
		if found == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func environment(opts Options) Environment {
	e := ipc.CurrentEnvironment()
	env := Environment{
		Hostname: e.Hostname, CPUModel: e.CPUModel, CPUs: e.CPUs, Kernel: e.KernelVersion,
		LoadBefore: loadavg(), Ipclab: opts.Version, Jobs: opts.Jobs,
		CellTimeout: opts.CellTimeout.String(), NotebookTimeout: opts.NotebookTimeout.String(),
		Started: time.Now().UTC().Truncate(time.Second),
	}
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		env.Go = strings.TrimSpace(string(out))
	}
	return env
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func writeGradebook(dir string, gb *Gradebook) error {
	data, err := json.MarshalIndent(gb, "", "  ")
	if err != nil {
		return fmt.Errorf("encode gradebook: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gradebook.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write gradebook: %w", err)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"student", "grade_id", "points", "max_points", "messages"})
	for _, r := range gb.Records {
		p := ""
		if r.Points != nil {
			p = fmtPoints(*r.Points)
		}
		w.Write([]string{r.Student, r.GradeID, p, fmtPoints(r.MaxPoints), strings.Join(r.Messages, "; ")})
	}
	w.Flush()
	if err := os.WriteFile(filepath.Join(dir, "gradebook.csv"), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write gradebook: %w", err)
	}
	return nil
}
