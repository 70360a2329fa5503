package engine_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipclab/ipclab"
	"github.com/ipclab/ipclab/kernel/engine"
)

// recorder is an engine.Output that keeps everything a cell sends.
type recorder struct {
	mu       sync.Mutex
	stdout   strings.Builder
	stderr   strings.Builder
	displays []map[string]any
	updates  int
	clears   int
	inputs   []string // answers to give
}

func (r *recorder) Stream(name, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "stdout" {
		r.stdout.WriteString(text)
	} else {
		r.stderr.WriteString(text)
	}
}

func (r *recorder) Display(data, metadata map[string]any, id string, update bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.displays = append(r.displays, data)
	if update {
		r.updates++
	}
}

func (r *recorder) ClearOutput(wait bool) {
	r.mu.Lock()
	r.clears++
	r.mu.Unlock()
}

func (r *recorder) Input(ctx context.Context, prompt string, password bool) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.inputs) == 0 {
		return "", engine.ErrNoStdin
	}
	s := r.inputs[0]
	r.inputs = r.inputs[1:]
	return s, nil
}

func (r *recorder) out() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stdout.String()
}

type session struct {
	t     *testing.T
	e     *engine.Engine
	count int
}

func newSession(t *testing.T) *session {
	t.Helper()
	e, err := engine.New(engine.Options{Source: ipclab.Source, TempDir: t.TempDir(), WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return &session{t: t, e: e}
}

// run executes one cell and returns its recorder and result.
func (s *session) run(code string) (*recorder, engine.Result) {
	s.t.Helper()
	s.count++
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res := s.e.Execute(ctx, engine.Request{Code: code, Count: s.count, AllowStdin: true}, rec)
	return rec, res
}

func text(res engine.Result) string {
	if res.Data == nil {
		return ""
	}
	s, _ := res.Data["text/plain"].(string)
	return s
}

// ok runs a cell that must succeed and returns its text/plain value and stdout.
func (s *session) ok(code string) (value, stdout string) {
	s.t.Helper()
	rec, res := s.run(code)
	if res.Err != nil {
		s.t.Fatalf("cell %d failed: %s: %s\n%s\nstderr: %s", s.count, res.Err.Name, res.Err.Value, strings.Join(res.Err.Traceback, "\n"), rec.stderr.String())
	}
	return text(res), rec.out()
}

func TestWorkerPoolAcrossCells(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	s := newSession(t)
	s.ok(`import ("fmt"; "time")
func worker(id int, jobs <-chan int, results chan<- int) { for j := range jobs { results <- j * 2 } }
var _ = time.Second
var _ = fmt.Sprint`)
	s.ok(`jobs := make(chan int, 100); results := make(chan int, 100)`)
	s.ok(`for w := 1; w <= 3; w++ { go worker(w, jobs, results) }`)
	s.ok(`for j := 1; j <= 9; j++ { jobs <- j }; close(jobs)`)
	v, _ := s.ok(`sum := 0; for i := 0; i < 9; i++ { sum += <-results }; sum`)
	if v != "90" {
		t.Fatalf("sum = %q, want 90", v)
	}
}

func TestMain(m *testing.M) {
	fmt.Fprintln(os.Stderr, "engine tests build Go plugins; the first run fills the build cache")
	os.Exit(m.Run())
}

func TestRebuildFallbackRecomputes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs")
	}
	e, err := engine.New(engine.Options{Source: ipclab.Source, TempDir: t.TempDir(), WorkDir: t.TempDir(), Rebuild: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	s := &session{t: t, e: e}
	rec, res := s.run("type point struct{ x, y int }\nn := 0\nfmt.Println(\"first run\")")
	if res.Err != nil || !strings.Contains(rec.stderr.String(), "values are recomputed") {
		t.Fatalf("err %v, stderr %q", res.Err, rec.stderr.String())
	}
	for want := 1; want <= 3; want++ {
		v, out := s.ok("n++; n")
		if v != fmt.Sprint(want) || strings.Contains(out, "first run") {
			t.Fatalf("n = %q (want %d), stdout %q (earlier cells' output must stay hidden)", v, want, out)
		}
	}
	if v, _ := s.ok("p := point{1, 2}; p.x + p.y"); v != "3" {
		t.Fatalf("p.x+p.y = %q", v)
	}
}

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }
