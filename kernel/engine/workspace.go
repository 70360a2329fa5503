package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ipclab/ipclab/internal/proctab"
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

// sweepWorkspaces removes the user's session directories whose kernel
// process is gone.
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
		if err != nil || pid == os.Getpid() || proctab.Alive(pid) {
			continue
		}
		var st syscall.Stat_t
		dir := filepath.Join(parent, e.Name())
		if syscall.Lstat(dir, &st) != nil || st.Uid != uint32(os.Geteuid()) {
			continue // another user's: not ours to remove
		}
		os.RemoveAll(dir)
	}
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
	env, cleanup := privateGoTemp(env)
	defer cleanup()
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd.CombinedOutput()
}

// ErrUnsafeCache is returned when the build cache directory could be written
// by another user: a program or plugin cached there would run as this user.
var ErrUnsafeCache = errors.New("unsafe cache directory")

// userCacheDir returns $XDG_CACHE_HOME/ipclab or ~/.cache/ipclab, or "" when
// neither is set: then builds are kept in the session's private directory
// only, never in a directory shared with other users.
func userCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil || dir == "" || !filepath.IsAbs(dir) {
		return ""
	}
	return filepath.Join(dir, "ipclab")
}

// secureDir creates dir (0700) if missing and checks that it and every
// directory above it can be changed by no one but the user and root: each
// is owned by the effective user or root, and is not writable by group or
// others unless it is sticky (as /tmp is; then only its owner can rename
// what is in it). dir itself must be the user's own and not a symlink.
func secureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make cache directory %s: %w", dir, err)
	}
	uid := uint32(os.Geteuid())
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return fmt.Errorf("check cache directory %s: %w", dir, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return fmt.Errorf("cache directory %s: %w: it is a symlink or not a directory", dir, ErrUnsafeCache)
	}
	if st.Uid != uid {
		return fmt.Errorf("cache directory %s: %w: it belongs to uid %d, not to uid %d", dir, ErrUnsafeCache, st.Uid, uid)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("check cache directory %s: %w", dir, err)
	}
	for p := real; ; p = filepath.Dir(p) {
		if err := syscall.Stat(p, &st); err != nil {
			return fmt.Errorf("check cache directory %s: %w", p, err)
		}
		if st.Uid != uid && st.Uid != 0 {
			return fmt.Errorf("cache directory %s: %w: %s belongs to uid %d; set XDG_CACHE_HOME to a directory of your own", dir, ErrUnsafeCache, p, st.Uid)
		}
		if st.Mode&0o022 != 0 && (st.Mode&syscall.S_ISVTX == 0 || p == real) {
			return fmt.Errorf("cache directory %s: %w: %s is writable by other users (mode %o); run chmod go-w %s or set XDG_CACHE_HOME", dir, ErrUnsafeCache, p, st.Mode&0o7777, p)
		}
		if p == "/" || p == "." {
			return nil
		}
	}
}

// fileSum returns the hex SHA-256 of a file that is a regular file of the
// effective user and not writable by others, or an error saying why not.
func fileSum(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return "", err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Uid != uint32(os.Geteuid()) || st.Mode&0o022 != 0 {
		return "", fmt.Errorf("%s: %w: not a regular file of uid %d, or writable by others", path, ErrUnsafeCache, os.Geteuid())
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verifyBuilt reports whether a cached build is what was built: its content
// hash matches the one recorded next to it at build time.
func verifyBuilt(path string) error {
	want, err := os.ReadFile(path + ".sha256")
	if err != nil {
		return fmt.Errorf("no recorded content hash: %w", err)
	}
	got, err := fileSum(path)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(want)) != got {
		return fmt.Errorf("%s: content hash %s differs from the one recorded at build time", path, got[:16])
	}
	return nil
}
