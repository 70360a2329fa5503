package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// fastBuilder compiles and links a cell's plugin by calling the compiler and
// the linker directly, as `go build -buildmode=plugin` would, but without the
// go command's work of loading and hashing the whole build graph for every
// cell. Archives of the packages cells import come from `go list -export
// -buildmode=plugin`, which builds them into the go build cache once; cells'
// own archives stay in the session directory. Any failure that is not the
// user's compile error makes the engine fall back to `go build`.
type fastBuilder struct {
	goTool string
	ws     string
	env    []string

	once    sync.Once
	initErr error
	tools   struct{ compile, link, goroot, cc, goversion, extldflags string }

	mu       sync.Mutex
	archives map[string]string // import path → archive, for every package linked so far
	// last holds how long the last build's steps took, for the debug log.
	last struct{ locate, compile, link time.Duration }
}

// errFastUnavailable means the fast path cannot build this cell.
var errFastUnavailable = errors.New("fast build unavailable")

func newFastBuilder(goTool, ws string, env []string) *fastBuilder {
	return &fastBuilder{goTool: goTool, ws: ws, env: env, archives: map[string]string{}}
}

func (f *fastBuilder) init() error {
	f.once.Do(func() {
		out, err := f.goCmd(context.Background(), "env", "GOROOT", "GOTOOLDIR", "CC", "GOVERSION")
		if err != nil {
			f.initErr = fmt.Errorf("%w: go env: %v", errFastUnavailable, err)
			return
		}
		v := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(v) != 4 {
			f.initErr = fmt.Errorf("%w: go env printed %q", errFastUnavailable, out)
			return
		}
		f.tools.goroot, f.tools.compile, f.tools.link = v[0], filepath.Join(v[1], "compile"), filepath.Join(v[1], "link")
		f.tools.cc, f.tools.goversion = strings.Fields(v[2] + " gcc")[0], v[3]
		// gold links a plugin about a tenth faster than the default ld.
		if _, err := exec.LookPath("ld.gold"); err == nil {
			f.tools.extldflags = "-fuse-ld=gold"
		}
		if err := os.MkdirAll(filepath.Join(f.ws, "obj"), 0o755); err != nil {
			f.initErr = err
		}
	})
	return f.initErr
}

func (f *fastBuilder) goCmd(ctx context.Context, args ...string) ([]byte, error) {
	env, cleanup := privateGoTemp(f.env) // hygiene.go
	defer cleanup()
	cmd := exec.CommandContext(ctx, f.goTool, args...)
	cmd.Dir = f.ws
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%v: %s", err, firstLines(stderr.String(), 5))
	}
	return out, nil
}

// locate makes sure the plugin-mode archives of paths and all their
// dependencies are known, building them with go list when they are not.
func (f *fastBuilder) locate(ctx context.Context, paths []string) error {
	f.mu.Lock()
	var missing []string
	for _, p := range paths {
		if _, ok := f.archives[p]; !ok {
			missing = append(missing, p)
		}
	}
	f.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	args := append([]string{"list", "-e", "-deps", "-export", "-buildmode=plugin", "-f", "{{.ImportPath}}\t{{.Export}}\t{{if .Error}}x{{end}}{{if .CgoFiles}}x{{end}}"}, missing...)
	out, err := f.goCmd(ctx, args...)
	if err != nil {
		return fmt.Errorf("%w: go list: %v", errFastUnavailable, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 3 {
			continue
		}
		if fields[1] == "" {
			if fields[0] == "unsafe" || fields[0] == "C" {
				continue
			}
			return fmt.Errorf("%w: no archive for %s", errFastUnavailable, fields[0])
		}
		f.archives[fields[0]] = fields[1]
	}
	for _, p := range missing {
		if _, ok := f.archives[p]; !ok && p != "unsafe" && p != "C" { // no archives, as above
			return fmt.Errorf("%w: %s not found", errFastUnavailable, p)
		}
	}
	return nil
}

// importcfg writes the compiler's or linker's view of where packages are.
func (f *fastBuilder) importcfg(name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	keys := make([]string, 0, len(f.archives))
	for k := range f.archives {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "packagefile %s=%s\n", k, f.archives[k])
	}
	p := filepath.Join(f.ws, "obj", name)
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}

// build compiles the cell package and its plugin main and links the plugin.
// imports are the cell package's non-cell imports. A compile error returns
// the compiler's output with a nil error from errFastUnavailable's family.
func (f *fastBuilder) build(ctx context.Context, seq int, pkgFile, mainFile, plugin string, imports []string) (compileOut []byte, err error) {
	if err := f.init(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := f.locate(ctx, append(imports, "github.com/ipclab/ipclab/display/cellrt", "runtime", "runtime/cgo", "plugin")); err != nil {
		return nil, err
	}
	t1 := time.Now()
	f.last.locate = t1.Sub(t0)
	cfg, err := f.importcfg(fmt.Sprintf("importcfg.%04d", seq))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errFastUnavailable, err)
	}
	defer os.Remove(cfg)
	obj := filepath.Join(f.ws, "obj", pkgAlias(seq)+".a")
	if out, err := f.tool(ctx, f.tools.compile, f.compileArgs(pkgPath(seq), obj, cfg, pkgFile)...); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return out, nil // the user's (or our) compile error: report it
	}
	f.mu.Lock()
	f.archives[pkgPath(seq)] = obj
	f.mu.Unlock()
	cfg2, err := f.importcfg(fmt.Sprintf("importcfg.%04d.main", seq))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errFastUnavailable, err)
	}
	defer os.Remove(cfg2)
	mainPath := fmt.Sprintf("ipclab.cell/p%04d", seq)
	mainObj := filepath.Join(f.ws, "obj", fmt.Sprintf("p%04d.a", seq))
	if out, err := f.tool(ctx, f.tools.compile, f.compileArgs(mainPath, mainObj, cfg2, mainFile)...); err != nil {
		return nil, fmt.Errorf("%w: compile plugin main: %v: %s", errFastUnavailable, err, out)
	}
	defer os.Remove(mainObj)
	linkArgs := []string{"-o", plugin, "-importcfg", cfg2, "-installsuffix", "dynlink",
		"-pluginpath", mainPath, "-buildmode=plugin", "-s", "-w", "-extld=" + f.tools.cc}
	if f.tools.extldflags != "" {
		linkArgs = append(linkArgs, "-extldflags="+f.tools.extldflags)
	}
	t2 := time.Now()
	f.last.compile = t2.Sub(t1)
	defer func() { f.last.link = time.Since(t2) }()
	if out, err := f.tool(ctx, f.tools.link, append(linkArgs, mainObj)...); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: link: %v: %s", errFastUnavailable, err, out)
	}
	return nil, nil
}

func (f *fastBuilder) compileArgs(path, obj, cfg, file string) []string {
	return []string{"-o", obj, "-p", path, "-lang=go1.24", "-complete", "-installsuffix", "dynlink",
		"-goversion", f.tools.goversion, "-dynlink", "-nolocalimports", "-importcfg", cfg, "-pack", file}
}

func (f *fastBuilder) tool(ctx context.Context, tool string, args ...string) ([]byte, error) {
	env, cleanup := privateGoTemp(f.env) // hygiene.go: the linker's go-link-*
	defer cleanup()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = f.ws
	cmd.Env = append(env, "GOROOT="+f.tools.goroot)
	return cmd.CombinedOutput()
}
