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
