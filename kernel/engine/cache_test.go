package engine

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipclab/ipclab"
)

// cacheEngine is an Engine with just what cachedBuild needs.
func cacheEngine(t *testing.T, cacheDir string) *Engine {
	t.Helper()
	goTool, err := findGo()
	if err != nil {
		t.Fatal(err)
	}
	return &Engine{goTool: goTool, opts: Options{CacheDir: cacheDir}, log: slog.New(slog.DiscardHandler)}
}

// TestCachedBuildVerified: a cached program whose content is not what was
// built (planted or changed after the build) is never returned: it is
// built again.
func TestCachedBuildVerified(t *testing.T) {
	e := cacheEngine(t, t.TempDir())
	builds := 0
	build := func(out string) error { builds++; return os.WriteFile(out, []byte("#!/bin/sh\necho built\n"), 0o700) }
	path, built, err := e.cachedBuild("session", "src", build)
	if err != nil || !built {
		t.Fatalf("first build: built=%v err=%v", built, err)
	}
	if _, built, err := e.cachedBuild("session", "src", build); err != nil || built {
		t.Fatalf("second use: built=%v err=%v (want the cached one)", built, err)
	}
	// Someone replaces the program (same path, new content).
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho planted\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	path2, built, err := e.cachedBuild("session", "src", build)
	if err != nil || !built || path2 != path {
		t.Fatalf("after tampering: built=%v err=%v", built, err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "built") || builds != 2 {
		t.Fatalf("the planted program is still there (%d builds): %q", builds, b)
	}
	// A program with no recorded hash (an older cache, or planted) too.
	os.Remove(path + ".sha256")
	if _, built, err := e.cachedBuild("session", "src", build); err != nil || !built {
		t.Fatalf("without a recorded hash: built=%v err=%v", built, err)
	}
}

// TestCacheDirUnsafe: a cache directory another user could write into is
// refused with an error that names it, before anything is built or run.
func TestCacheDirUnsafe(t *testing.T) {
	for _, c := range []struct {
		name string
		make func(dir string) error
	}{
		{"world-writable", func(dir string) error { os.MkdirAll(dir, 0o700); return os.Chmod(dir, 0o777) }},
		{"group-writable parent", func(dir string) error {
			os.MkdirAll(dir, 0o700)
			return os.Chmod(filepath.Dir(dir), 0o775)
		}},
		{"symlink", func(dir string) error {
			target := dir + "-target"
			os.MkdirAll(target, 0o700)
			return os.Symlink(target, dir)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache", "ipclab")
			if err := c.make(dir); err != nil {
				t.Fatal(err)
			}
			_, err := New(Options{Source: ipclab.Source, TempDir: t.TempDir(), CacheDir: dir, WorkDir: t.TempDir(), Gopls: "none"})
			if !errors.Is(err, ErrUnsafeCache) || !strings.Contains(err.Error(), "cache") {
				t.Fatalf("New with a %s cache: %v", c.name, err)
			}
		})
	}
	// Another user's directory (root only: chown).
	if os.Geteuid() == 0 {
		dir := filepath.Join(t.TempDir(), "theirs")
		os.Mkdir(dir, 0o700)
		os.Chown(dir, 65534, 65534)
		if err := secureDir(dir); !errors.Is(err, ErrUnsafeCache) || !strings.Contains(err.Error(), "uid 65534") {
			t.Fatalf("another user's cache: %v", err)
		}
	}
}

// TestNoSharedCacheFallback: with HOME and XDG_CACHE_HOME unset the engine
// caches nothing in the shared temporary directory (it once fell back to
// it, where another user could plant the session program).
func TestNoSharedCacheFallback(t *testing.T) {
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Skip("go env GOCACHE:", err)
	}
	tmp := t.TempDir()
	t.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	if d := userCacheDir(); d != "" {
		t.Fatalf("userCacheDir without HOME = %q", d)
	}
	e, err := New(Options{Source: ipclab.Source, TempDir: tmp, WorkDir: t.TempDir(), Gopls: "none", Rebuild: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !strings.HasPrefix(e.opts.CacheDir, e.ws+string(filepath.Separator)) {
		t.Fatalf("cache dir %s is outside the session's private directory %s", e.opts.CacheDir, e.ws)
	}
	if fi, err := os.Stat(e.ws); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("session directory %s: %v %v", e.ws, fi.Mode(), err)
	}
	ents, _ := os.ReadDir(tmp)
	for _, d := range ents {
		if !strings.HasPrefix(d.Name(), workspacePrefix) {
			t.Fatalf("%s made in the shared temp dir", d.Name())
		}
	}
}
