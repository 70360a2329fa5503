package engine_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipclab/ipclab"
	"github.com/ipclab/ipclab/kernel/engine"
)

func TestCompletionAndInspect(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	for _, mode := range []string{"gopls", "go/types"} {
		t.Run(mode, func(t *testing.T) {
			opts := engine.Options{Source: ipclab.Source, TempDir: t.TempDir(), WorkDir: t.TempDir()}
			if mode == "go/types" {
				opts.Gopls = "none"
			} else if !hasGopls() {
				if os.Getenv("CI") == "true" {
					t.Fatal("gopls is not installed (make setup installs it)")
				}
				t.Skip("gopls is not installed")
			}
			e, err := engine.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			s := &session{t: t, e: e}
			s.ok("type point struct{ x, y float64 }\nfunc (p point) norm() float64 { return p.x + p.y }\npt := point{1, 2}")

			c := e.Complete("fmt.Print", len("fmt.Print"))
			if mode == "gopls" {
				// A gopls still loading answers nothing within goplsColdWait:
				// go/types answers meanwhile, and gopls once it is warm.
				c = completeWhenWarm(t, e, "fmt.Print", c)
			}
			if c.Metadata["ipclab_source"] != mode {
				t.Errorf("completion answered by %v, want %s", c.Metadata["ipclab_source"], mode)
			}
			for _, want := range []string{"Print", "Printf", "Println"} {
				if !slices.Contains(c.Matches, want) {
					t.Errorf("fmt.Print: matches %v lack %s", c.Matches, want)
				}
			}
			if c.CursorStart != len("fmt.") || c.CursorEnd != len("fmt.Print") {
				t.Errorf("fmt.Print: cursor %d..%d", c.CursorStart, c.CursorEnd)
			}
			c = e.Complete("pt.", 3)
			if c.Metadata["ipclab_source"] != mode {
				t.Errorf("pt. completion answered by %v, want %s", c.Metadata["ipclab_source"], mode)
			}
			for _, want := range []string{"x", "y", "norm"} {
				if !slices.Contains(c.Matches, want) {
					t.Errorf("pt.: matches %v lack %s", c.Matches, want)
				}
			}
			in := e.Inspect("fmt.Println", 6, 0)
			if !in.Found || !strings.Contains(in.Data["text/plain"].(string), "Println") {
				t.Errorf("inspect fmt.Println: %+v", in)
			}
			in = e.Inspect("pt", 1, 0)
			if !in.Found || !strings.Contains(in.Data["text/plain"].(string), "point") {
				t.Errorf("inspect pt: %+v", in)
			}
		})
	}
}

func hasGopls() bool {
	for _, dir := range append(strings.Split(os.Getenv("PATH"), ":"), os.Getenv("HOME")+"/go/bin") {
		if _, err := os.Stat(dir + "/gopls"); err == nil {
			return true
		}
	}
	return false
}

// completeWhenWarm asks again until gopls, not the go/types fallback,
// answers; each answer in between must still complete code.
func completeWhenWarm(t *testing.T, e *engine.Engine, code string, c engine.Completion) engine.Completion {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for c.Metadata["ipclab_source"] != "gopls" {
		if len(c.Matches) == 0 {
			t.Fatalf("%s: the fallback while gopls loads answered nothing: %+v", code, c)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: gopls did not answer within 90 s", code)
		}
		time.Sleep(300 * time.Millisecond)
		c = e.Complete(code, len(code))
	}
	return c
}
