package engine

import (
	"context"
	"strings"
	"testing"
)

type textOutput struct {
	stdout, stderr strings.Builder
	displays       int
}

func (o *textOutput) Stream(name, text string) {
	if name == "stdout" {
		o.stdout.WriteString(text)
	} else {
		o.stderr.WriteString(text)
	}
}
func (o *textOutput) Display(data, metadata map[string]any, id string, update bool) { o.displays++ }
func (o *textOutput) ClearOutput(wait bool)                                         {}
func (o *textOutput) Input(context.Context, string, bool) (string, error)           { return "", ErrNoStdin }

func TestCappedOutput(t *testing.T) {
	o := &textOutput{}
	c := capOutput(o, 10)
	c.Stream("stdout", "abcdef")
	c.Display(map[string]any{"text/plain": "ab"}, nil, "", false)
	c.Stream("stdout", "gé€xyz") // 2 bytes left: "g" fits, "é" would be split
	c.Stream("stdout", "more")
	c.Display(map[string]any{"text/plain": "x"}, nil, "", false)
	if got := o.stdout.String(); got != "abcdefg" {
		t.Errorf("stdout = %q, want %q", got, "abcdefg")
	}
	if o.displays != 1 {
		t.Errorf("%d displays, want 1", o.displays)
	}
	if n := strings.Count(o.stderr.String(), "output passed 10 bytes"); n != 1 || !strings.Contains(o.stderr.String(), EnvOutputLimit) {
		t.Errorf("stderr = %q, want one notice naming %s", o.stderr.String(), EnvOutputLimit)
	}
	if capOutput(o, 0) != Output(o) {
		t.Error("a zero limit must not wrap the output")
	}
}

// TestFaultInMemoryManager: Go sometimes faults in its collector instead of
// saying "out of memory" when RLIMIT_DATA refuses an allocation (seen in
// TestLimitsBindTheSession); such a death is put down to the memory limit,
// a fault in cell code is not.
func TestFaultInMemoryManager(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		want   bool
	}{
		{"SIGSEGV: segmentation violation\nPC=0x56763d m=11 sigcode=1 addr=0x0\n\ngoroutine 0 gp=0x35fd060c4f00 m=11 mp=0x35fd062a7008 [idle]:\nruntime.(*spanQueue).tryDrain(0x7f0300000400?, 0x5701a5?, 0xaa28e8?)\n\t/usr/local/go/src/runtime/mgcmark_greenteagc.go:520 +0x5d fp=0x7f0331e9dd28\n", true},
		{"SIGSEGV: segmentation violation\nPC=0x1 m=0\n\ngoroutine 7 [running]:\nipclab.cell/c0003.Run()\n\tcell3.go:4 +0x166\n", false},
		{"panic: boom\n\ngoroutine 1 [running]:\nruntime.mallocgc()\n\t/usr/local/go/src/runtime/malloc.go:1\n", false},
	} {
		if got := faultInMemoryManager(tc.stderr); got != tc.want {
			t.Errorf("faultInMemoryManager(%.60q) = %v, want %v", tc.stderr, got, tc.want)
		}
		l := Limits{Memory: 512 << 20}
		if hint := l.crashHint(tc.stderr); (hint != "") != tc.want {
			t.Errorf("crashHint(%.60q) = %q", tc.stderr, hint)
		}
	}
}
