package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestInstallPrefix(t *testing.T) {
	prefix := t.TempDir()
	var out, errOut bytes.Buffer
	if err := installCommand([]string{"--prefix", prefix}, &out, &errOut); err != nil {
		t.Fatalf("install: %v\n%s", err, errOut.String())
	}
	dir := filepath.Join(prefix, "share", "jupyter", "kernels", "ipclab")
	data, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Argv          []string       `json:"argv"`
		DisplayName   string         `json:"display_name"`
		Language      string         `json:"language"`
		InterruptMode string         `json:"interrupt_mode"`
		Metadata      map[string]any `json:"metadata"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	if len(spec.Argv) != 3 || spec.Argv[0] != exe || !filepath.IsAbs(spec.Argv[0]) || spec.Argv[1] != "kernel" || spec.Argv[2] != "{connection_file}" {
		t.Errorf("argv = %q, want [%s kernel {connection_file}]", spec.Argv, exe)
	}
	if spec.DisplayName != "Go (ipclab)" || spec.Language != "go" || spec.InterruptMode != "message" ||
		!reflect.DeepEqual(spec.Metadata, map[string]any{"debugger": false}) {
		t.Errorf("kernel.json = %s", data)
	}
	for _, name := range []string{"logo-32x32.png", "logo-64x64.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(f); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		f.Close()
	}
	for _, want := range []string{"Installed kernel spec \"ipclab\"", dir, "jupyter kernelspec list", "JUPYTER_PATH=" + filepath.Join(prefix, "share", "jupyter")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestInstallNameAndUser(t *testing.T) {
	data := t.TempDir()
	t.Setenv("JUPYTER_DATA_DIR", data)
	var out bytes.Buffer
	if err := installCommand([]string{"--name", "go-dev", "--display-name", "Go (dev)"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(data, "kernels", "go-dev", "kernel.json"))
	if err != nil {
		t.Fatalf("default install is not in the user data dir: %v\n%s", err, out.String())
	}
	if !strings.Contains(string(b), `"display_name": "Go (dev)"`) {
		t.Errorf("kernel.json = %s", b)
	}
	if err := installCommand([]string{"--user"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "kernels", "ipclab", "kernel.json")); err != nil {
		t.Error(err)
	}
}

func TestInstallErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--frobnicate"}, "flag provided but not defined"},
		{[]string{"--user", "--prefix", "/tmp/x"}, "choose one of"},
		{[]string{"--sys-prefix", "--user"}, "choose one of"},
		{[]string{"--prefix", ""}, "--prefix needs a directory"},
		{[]string{"--prefix"}, "flag needs an argument"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--prefix", t.TempDir(), "--name", "no/slash"}, "may contain only"},
		{[]string{"--prefix", file}, "install kernel spec into " + filepath.Join(file, "share")},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := installCommand(tt.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("install %q = %v, want an error with %q", tt.args, err, tt.want)
		}
	}
	var out bytes.Buffer
	if err := installCommand([]string{"-h"}, &out, &out); err != nil || !strings.Contains(out.String(), "usage: ipclab install") {
		t.Errorf("-h: %v %s", err, out.String())
	}
}

func TestInstallEnv(t *testing.T) {
	prefix := t.TempDir()
	var out, errOut bytes.Buffer
	args := []string{"--prefix", prefix, "--env", "IPCLAB_MEMORY_LIMIT=2GiB", "--env", "GOPROXY=file:///srv/go,https://proxy.golang.org"}
	if err := installCommand(args, &out, &errOut); err != nil {
		t.Fatalf("install: %v\n%s", err, errOut.String())
	}
	data, err := os.ReadFile(filepath.Join(prefix, "share", "jupyter", "kernels", "ipclab", "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Env map[string]string `json:"env"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"IPCLAB_MEMORY_LIMIT": "2GiB", "GOPROXY": "file:///srv/go,https://proxy.golang.org"}
	if !reflect.DeepEqual(spec.Env, want) {
		t.Fatalf("env = %v, want %v", spec.Env, want)
	}
	for _, bad := range []string{"NOVALUE", "=x", "A B=1"} {
		errOut.Reset()
		if err := installCommand([]string{"--prefix", prefix, "--env", bad}, &out, &errOut); err == nil {
			t.Errorf("--env %q: no error", bad)
		}
	}
}
