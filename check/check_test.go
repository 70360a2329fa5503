package check

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ipclab/ipclab/display/cellrt"
)

// outcome runs f and returns the Failure it ended with ("" for none).
func outcome(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			fl, ok := r.(Failure)
			if !ok {
				panic(r)
			}
			msg = fl.Error()
		}
	}()
	f()
	return ""
}

func TestChecks(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	for _, tc := range []struct {
		name string
		f    func()
		want string // "" for PASS
	}{
		{"equal", func() { Equal("sum", 55, 55) }, ""},
		{"not equal", func() { Equal("sum", 54, 55) }, "FAIL sum: want 55, got 54"},
		{"that", func() { That("empty", false, "Len() = %d", 3) }, "FAIL empty: Len() = 3"},
		{"no error", func() { NoError("open", errors.New("boom")) }, "FAIL open: unexpected error: boom"},
		{"run", func() { Run("ok", time.Second, func(ctx context.Context) error { return nil }) }, ""},
		{"run error", func() { Run("e", time.Second, func(ctx context.Context) error { return errors.New("bad") }) }, "FAIL e: bad"},
		{"run panic", func() {
			Run("p", time.Second, func(ctx context.Context) error { var m map[int]int; m[1] = 1; return nil })
		}, "FAIL p: panic: assignment to entry in nil map"},
		{"run exit", func() { Run("x", time.Second, func(ctx context.Context) error { cellrt.Exit(1); return nil }) }, "FAIL x: the code called os.Exit(1)"},
		{"run goexit", func() { Run("g", time.Second, func(ctx context.Context) error { cellrt.Goexit(); return nil }) }, "FAIL g: the code called runtime.Goexit"},
		{"run deadlock", func() { Run("d", 100*time.Millisecond, func(ctx context.Context) error { <-block; return nil }) }, "FAIL d: time limit exceeded (100ms): the code is blocked"},
		{"run ctx", func() {
			Run("c", 100*time.Millisecond, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		}, "FAIL c: time limit exceeded (100ms)"},
		{"faster", func() {
			Faster("sleeps", 10*time.Second, 2, func(ctx context.Context) (time.Duration, error) { return time.Millisecond, nil },
				func(ctx context.Context) (time.Duration, error) { return 10 * time.Millisecond, nil })
		}, ""},
		{"not faster", func() {
			Faster("sleeps", 10*time.Second, 2, func(ctx context.Context) (time.Duration, error) { return 10 * time.Millisecond, nil },
				func(ctx context.Context) (time.Duration, error) { return time.Millisecond, nil })
		}, "FAIL sleeps: want the first 2.00× as fast as the second or better, got 0.10×"},
		{"faster error", func() {
			Faster("f", 10*time.Second, 2, func(ctx context.Context) (time.Duration, error) { return 0, errors.New("lost message 3") },
				func(ctx context.Context) (time.Duration, error) { return time.Millisecond, nil })
		}, "FAIL f: first run 1: lost message 3"},
	} {
		got := outcome(tc.f)
		if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
