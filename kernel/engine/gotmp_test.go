package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipclab/ipclab"
)

type discardOutput struct{}

func (discardOutput) Stream(name, text string)                                      {}
func (discardOutput) Display(data, metadata map[string]any, id string, update bool) {}
func (discardOutput) ClearOutput(wait bool)                                         {}
func (discardOutput) Input(ctx context.Context, prompt string, password bool) (string, error) {
	return "", ErrNoStdin
}

// TestInterruptCompileNoTempDirs: an interrupt while a cell compiles (the
// build killed mid-way) leaves no go-build* or go-link-* directory: each go
// command gets its own temporary directory, removed when it ends.
func TestInterruptCompileNoTempDirs(t *testing.T) {
	e, err := New(Options{Source: ipclab.Source, TempDir: t.TempDir(), WorkDir: t.TempDir(), Gopls: "none", CompileAll: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !e.rebuild && !e.WaitPrelude(5*time.Minute) {
		t.Fatal("prelude not built")
	}
	gotmp := goTempDir(e.ws)
	seen := ""
	for i := 0; i < 5 && seen == ""; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Result, 1)
		code := "import \"fmt\"\ntype T" + strings.Repeat("x", i) + " struct{ a int }\nfunc (t T" + strings.Repeat("x", i) + ") M() int { return t.a }\nfmt.Println(1)"
		go func() { done <- e.Execute(ctx, Request{Code: code, Count: i + 1}, discardOutput{}) }()
	poll:
		for {
			select {
			case <-done:
				cancel()
				break poll
			default:
			}
			if m, _ := filepath.Glob(filepath.Join(gotmp, "cmd-*", "go-*")); len(m) > 0 {
				seen = m[0]
				cancel()
				<-done
				break poll
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	if seen == "" {
		t.Skip("no build was caught with a temporary directory open")
	}
	t.Logf("interrupted while %s existed", seen)
	if ents, _ := os.ReadDir(gotmp); len(ents) > 0 {
		t.Fatalf("left in %s after the interrupt: %v", gotmp, ents)
	}
}
