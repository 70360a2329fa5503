package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGallery(t *testing.T) {
	docs := t.TempDir()
	md := filepath.Join(docs, "plots.md")
	if err := os.WriteFile(md, []byte("# Hand-written\n\nkept\n\n"+begin+"\nold\n"+end+"\n\ntail kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run("", "", docs, "pipe", true); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"# Hand-written\n\nkept", "tail kept", "**Made-up data**", "![Throughput vs message size](plots/throughput.svg)", "<table", "×"} {
		if !strings.Contains(s, want) {
			t.Errorf("plots.md lacks %q", want)
		}
	}
	if strings.Contains(s, "\nold\n") || strings.Count(s, begin) != 1 || strings.Contains(s, "<script>") {
		t.Errorf("gallery section not replaced cleanly:\n%s", s)
	}
	for _, f := range []string{"throughput.svg", "latency.svg", "latency-cdf.svg", "speedup.svg", "speedup-latency.svg", "no-data.svg", "styles.svg", "styles-grey.png"} {
		if fi, err := os.Stat(filepath.Join(docs, "plots", f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := run(filepath.Join(docs, "missing.json"), "", docs, "pipe", false); err == nil || !strings.Contains(err.Error(), "-synthetic") {
		t.Errorf("missing input: %v", err)
	}
}
