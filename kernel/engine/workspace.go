package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// workspacePrefix starts the name of every session's build directory, so that
// the next kernel can find and remove what a killed one left behind.
const workspacePrefix = "ipclab-session-"

// findGo locates the go command: PATH first (Jupyter may start the kernel
// with a short PATH), then the usual install locations.
func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/local/go/bin/go", "/usr/lib/go/bin/go", filepath.Join(os.Getenv("HOME"), "go/bin/go"), "/snap/bin/go"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the go command was not found on PATH or in /usr/local/go/bin: install Go (https://go.dev/dl) to run cells")
}

// unpackSource writes the embedded ipclab module to a cache directory named
// by its content hash, once, and returns the directory.
func unpackSource(src fs.FS, cacheDir string) (string, error) {
	h := sha256.New()
	var files []string
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
			b, err := fs.ReadFile(src, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read embedded ipclab source: %w", err)
	}
	dir := filepath.Join(cacheDir, "src-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(cacheDir, "src-tmp-")
	if err != nil {
		return "", fmt.Errorf("unpack ipclab source: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, p := range files {
		b, _ := fs.ReadFile(src, p)
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("unpack ipclab source: %w", err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return "", fmt.Errorf("unpack ipclab source: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, statErr := os.Stat(filepath.Join(dir, "go.mod")); statErr != nil {
			return "", fmt.Errorf("unpack ipclab source: %w", err)
		}
	}
	return dir, nil
}

// moduleFiles returns the session module's go.mod and go.sum: the cells'
// module requires ipclab (replaced by the unpacked source) and everything
// ipclab requires, so that builds need no network.
func moduleFiles(src fs.FS, srcDir string) (gomod, gosum []byte, err error) {
	mod, err := fs.ReadFile(src, "go.mod")
	if err != nil {
		return nil, nil, fmt.Errorf("read ipclab go.mod: %w", err)
	}
	sum, _ := fs.ReadFile(src, "go.sum")
	var b bytes.Buffer
	b.WriteString("module ipclab.cell\n\ngo 1.24\n\nrequire github.com/ipclab/ipclab v0.0.0-00010101000000-000000000000\n\n")
	sc := bufio.NewScanner(bytes.NewReader(mod))
	inRequire := false
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "require (":
			inRequire = true
			b.WriteString(line + "\n")
		case inRequire:
			b.WriteString(line + "\n")
			if trimmed == ")" {
				inRequire = false
			}
		case strings.HasPrefix(trimmed, "require "):
			b.WriteString(line + "\n")
		}
	}
	fmt.Fprintf(&b, "\nreplace github.com/ipclab/ipclab => %s\n", srcDir)
	return b.Bytes(), sum, nil
}

// sweepWorkspaces removes session directories whose kernel process is gone.
func sweepWorkspaces(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), workspacePrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		os.RemoveAll(filepath.Join(parent, e.Name()))
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// goEnv is the environment for the go command and the session process.
func goEnv(extra map[string]string) []string {
	env := os.Environ()
	set := map[string]string{
		"GOWORK":      "off",
		"GOTOOLCHAIN": "local",
		"CGO_ENABLED": "1",
		"GOFLAGS":     strings.TrimSpace(os.Getenv("GOFLAGS") + " -mod=mod"),
	}
	for k, v := range extra {
		set[k] = v
	}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; ok {
			continue
		}
		out = append(out, kv)
	}
	for _, k := range sortedKeys(set) {
		out = append(out, k+"="+set[k])
	}
	return out
}

// runGo runs the go command in dir and returns its combined output.
func runGo(ctx context.Context, goTool, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd.CombinedOutput()
}
