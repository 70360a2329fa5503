package kernel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestInstallSpec(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share", "jupyter", "kernels", "ipclab")
	spec := Spec{
		Argv:          []string{"/opt/ipclab", "kernel", "{connection_file}"},
		DisplayName:   "Go (ipclab)",
		Language:      "go",
		InterruptMode: "message",
		Metadata:      map[string]any{"debugger": false},
	}
	if err := InstallSpec(dir, spec); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"argv":           []any{"/opt/ipclab", "kernel", "{connection_file}"},
		"display_name":   "Go (ipclab)",
		"language":       "go",
		"interrupt_mode": "message",
		"metadata":       map[string]any{"debugger": false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kernel.json = %s", data)
	}
	for _, size := range []int{32, 64} {
		name := filepath.Join(dir, fmt.Sprintf("logo-%dx%d.png", size, size))
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
			t.Errorf("%s is %v", name, r)
		}
		// Corners are transparent (rounded), the centre is opaque.
		if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
			t.Errorf("%s: corner alpha %d", name, a)
		}
		if _, _, _, a := img.At(size/2, size/2).RGBA(); a != 0xffff {
			t.Errorf("%s: centre alpha %d", name, a)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, "logo-svg.svg"))
	if err != nil || !strings.HasPrefix(string(svg), "<svg") || !utf8.Valid(svg) {
		t.Errorf("logo-svg.svg: %v %q", err, svg)
	}
	if err := InstallSpec(filepath.Join(dir, "kernel.json", "sub"), spec); err == nil {
		t.Error("installing below a file succeeded")
	}
	if err := InstallSpec(dir, Spec{}); err == nil {
		t.Error("a spec without argv was installed")
	}
}
