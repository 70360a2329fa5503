package course

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipclab/ipclab"
	"github.com/ipclab/ipclab/kernel/engine"
)

// job is what the grading process hands its child (job.json in the job
// directory); the child appends one cellResult per line to results.jsonl.
type job struct {
	Cells       []string      `json:"cells"` // sources of the code cells, in order
	CellTimeout time.Duration `json:"cell_timeout"`
}

type cellResult struct {
	Index    int              `json:"index"` // into job.Cells
	Outputs  []map[string]any `json:"outputs"`
	Error    *cellError       `json:"error,omitempty"`
	Duration time.Duration    `json:"duration"`
}

type cellError struct {
	Name      string   `json:"ename"`
	Value     string   `json:"evalue"`
	Traceback []string `json:"traceback"`
}

// maxOutput bounds what one cell's outputs keep; the rest is counted.
const maxOutput = 256 << 10

// RunJob is the child process of Grade (ipclab grade-run DIR): it executes
// the cells of DIR/job.json in a fresh ipclab engine, one at a time with
// the job's time limit each, and appends their outputs to DIR/results.jsonl
// as each ends. Errors, time limits and crashes of cells are results, not
// errors of RunJob.
func RunJob(ctx context.Context, dir string, logw io.Writer) error {
	data, err := os.ReadFile(filepath.Join(dir, "job.json"))
	if err != nil {
		return fmt.Errorf("read grading job: %w", err)
	}
	var j job
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("read grading job: %w", err)
	}
	resf, err := os.OpenFile(filepath.Join(dir, "results.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open results: %w", err)
	}
	defer resf.Close()
	work := filepath.Join(dir, "work")
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{work, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("make grading dirs: %w", err)
		}
	}
	eng, err := engine.New(engine.Options{Source: ipclab.Source, Logger: slog.New(slog.NewTextHandler(logw, nil)), TempDir: tmp, WorkDir: work})
	if err != nil {
		return fmt.Errorf("start the kernel's engine: %w", err)
	}
	defer eng.Close()
	// The first compiled cell of a kernel waits for the session program
	// and the prelude to be built: a silent cell pays for that before the
	// student's cells, so that their time limits measure their own work.
	if res := eng.Execute(ctx, engine.Request{Code: "for i := 0; i < 1; i++ {}", Silent: true}, &capture{}); res.Err != nil {
		fmt.Fprintf(logw, "ipclab grade: warm-up cell failed: %v\n", res.Err)
	}
	enc := json.NewEncoder(resf)
	for i, src := range j.Cells {
		out := &capture{}
		// Cancel (not a deadline) is what the engine treats as an interrupt.
		cctx, cancel := context.WithCancel(ctx)
		var timedOut atomic.Bool
		timer := time.AfterFunc(j.CellTimeout, func() { timedOut.Store(true); cancel() })
		start := time.Now()
		res := eng.Execute(cctx, engine.Request{Code: src, Count: i + 1}, out)
		timer.Stop()
		cancel()
		r := cellResult{Index: i, Outputs: out.take(), Duration: time.Since(start)}
		if res.Data != nil {
			r.Outputs = append(r.Outputs, map[string]any{"output_type": "execute_result", "data": res.Data,
				"metadata": orEmpty(res.Metadata), "execution_count": i + 1})
		}
		if res.Err != nil {
			r.Error = &cellError{Name: res.Err.Name, Value: res.Err.Value, Traceback: res.Err.Traceback}
			if timedOut.Load() {
				r.Error.Name = "TimeLimit"
				r.Error.Value = fmt.Sprintf("the cell did not finish within its time limit of %v (%s)", j.CellTimeout, res.Err.Value)
				r.Error.Traceback = append([]string{r.Error.Value}, res.Err.Traceback...)
			}
		}
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// capture keeps a cell's outputs as nbformat stores them, up to maxOutput
// bytes.
type capture struct {
	mu      sync.Mutex
	outs    []map[string]any
	size    int
	dropped int
}

func (c *capture) room(n int) bool {
	if c.size+n > maxOutput {
		c.dropped += n
		return false
	}
	c.size += n
	return true
}

func (c *capture) Stream(name, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.room(len(text)) {
		return
	}
	if n := len(c.outs); n > 0 && c.outs[n-1]["output_type"] == "stream" && c.outs[n-1]["name"] == name {
		c.outs[n-1]["text"] = c.outs[n-1]["text"].(string) + text
		return
	}
	c.outs = append(c.outs, map[string]any{"output_type": "stream", "name": name, "text": text})
}

func (c *capture) Display(data, metadata map[string]any, displayID string, update bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, _ := json.Marshal(data)
	if !c.room(len(b)) {
		return
	}
	c.outs = append(c.outs, map[string]any{"output_type": "display_data", "data": data, "metadata": orEmpty(metadata)})
}

func (c *capture) ClearOutput(wait bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outs, c.size = nil, 0
}

func (c *capture) Input(ctx context.Context, prompt string, password bool) (string, error) {
	return "", engine.ErrNoStdin
}

func (c *capture) take() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	outs := c.outs
	if c.dropped > 0 {
		outs = append(outs, map[string]any{"output_type": "stream", "name": "stderr",
			"text": fmt.Sprintf("\n[ipclab grade: %d more bytes of output were dropped]\n", c.dropped)})
	}
	c.outs = nil
	return outs
}

// failLines returns the check lines of a cell's outputs that say FAIL.
func failLines(outs []map[string]any) []string {
	var fails []string
	for _, o := range outs {
		if o["output_type"] != "stream" {
			continue
		}
		t, _ := o["text"].(string)
		for _, l := range strings.Split(t, "\n") {
			if strings.HasPrefix(l, "FAIL ") {
				fails = append(fails, l)
			}
		}
	}
	return fails
}
