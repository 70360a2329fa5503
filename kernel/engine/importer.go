package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// exportImporter type-checks imports from the compiler's export data, which
// `go list -export` builds (and caches) in the session's module, so that
// standard, third-party and ipclab packages all resolve as the build will.
type exportImporter struct {
	goTool string
	dir    string
	env    []string

	mu    sync.Mutex
	files map[string]string // import path → export data file
	fset  *token.FileSet
	imp   types.ImporterFrom
}

func newExportImporter(goTool, dir string, env []string) *exportImporter {
	e := &exportImporter{goTool: goTool, dir: dir, env: env, files: map[string]string{}, fset: token.NewFileSet()}
	e.imp = importer.ForCompiler(e.fset, "gc", e.lookup).(types.ImporterFrom)
	return e
}

func (e *exportImporter) Import(p string) (*types.Package, error) {
	return e.ImportFrom(p, "", 0)
}

func (e *exportImporter) ImportFrom(p, dir string, mode types.ImportMode) (*types.Package, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p == "unsafe" {
		return types.Unsafe, nil
	}
	if _, ok := e.files[p]; !ok {
		if err := e.locate(context.Background(), p); err != nil {
			return nil, err
		}
	}
	return e.imp.ImportFrom(p, dir, mode)
}

// unlocated returns the paths whose export data has not been located yet.
func (e *exportImporter) unlocated(paths []string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		if _, ok := e.files[p]; !ok && p != "unsafe" && p != "C" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// required reports whether the session's go.mod already requires the module
// that provides importPath, so that using it downloads nothing new.
func (e *exportImporter) required(importPath string) bool {
	mod, err := os.ReadFile(filepath.Join(e.dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(mod), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && (importPath == f[0] || strings.HasPrefix(importPath, f[0]+"/")) {
			return true
		}
	}
	return false
}

// prefetch locates the export data of several packages in one go list run.
func (e *exportImporter) prefetch(ctx context.Context, paths []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var missing []string
	for _, p := range paths {
		if _, ok := e.files[p]; !ok && p != "unsafe" && p != "C" {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return e.locate(ctx, missing...)
}

func (e *exportImporter) locate(ctx context.Context, paths ...string) error {
	args := append([]string{"list", "-e", "-export", "-f", "{{.ImportPath}}\t{{.Export}}\t{{if .Error}}{{.Error.Err}}{{end}}"}, paths...)
	cmd := exec.CommandContext(ctx, e.goTool, args...)
	cmd.Dir = e.dir
	cmd.Env = e.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		return fmt.Errorf("go list %s: %v: %s", strings.Join(paths, " "), err, firstLines(stderr.String(), 5))
	}
	var problems []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) < 3 {
			continue
		}
		if f[1] != "" {
			e.files[f[0]] = f[1]
		} else if f[2] != "" {
			problems = append(problems, f[2])
		}
	}
	for _, p := range paths {
		if _, ok := e.files[p]; !ok {
			if len(problems) > 0 {
				return fmt.Errorf("import %q: %s", p, strings.Join(problems, "; "))
			}
			return fmt.Errorf("import %q: package not found (%s)", p, firstLines(stderr.String(), 3))
		}
	}
	return nil
}

func (e *exportImporter) lookup(p string) (io.ReadCloser, error) {
	f, ok := e.files[p]
	if !ok {
		if err := e.locate(context.Background(), p); err != nil {
			return nil, err
		}
		f = e.files[p]
	}
	return os.Open(f)
}

// forget drops cached export data, after %go get changed module versions.
func (e *exportImporter) forget() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.files = map[string]string{}
	e.fset = token.NewFileSet()
	e.imp = importer.ForCompiler(e.fset, "gc", e.lookup).(types.ImporterFrom)
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "; ")
}

// knownPackages maps a package name to the import path a cell most likely
// means when it uses the name without importing it (goimports-style).
type knownPackages struct {
	once  sync.Once
	names map[string]string
}

// preferred settles names that several standard packages share.
var preferred = map[string]string{
	"rand":      "math/rand",
	"template":  "text/template",
	"scanner":   "text/scanner",
	"parser":    "go/parser",
	"ast":       "go/ast",
	"token":     "go/token",
	"types":     "go/types",
	"pprof":     "runtime/pprof",
	"trace":     "runtime/trace",
	"url":       "net/url",
	"http":      "net/http",
	"json":      "encoding/json",
	"xml":       "encoding/xml",
	"csv":       "encoding/csv",
	"hex":       "encoding/hex",
	"base64":    "encoding/base64",
	"binary":    "encoding/binary",
	"big":       "math/big",
	"bits":      "math/bits",
	"cmplx":     "math/cmplx",
	"atomic":    "sync/atomic",
	"signal":    "os/signal",
	"exec":      "os/exec",
	"filepath":  "path/filepath",
	"heap":      "container/heap",
	"list":      "container/list",
	"ring":      "container/ring",
	"color":     "image/color",
	"draw":      "image/draw",
	"png":       "image/png",
	"jpeg":      "image/jpeg",
	"sha256":    "crypto/sha256",
	"md5":       "crypto/md5",
	"errors":    "errors",
	"slog":      "log/slog",
	"maps":      "maps",
	"slices":    "slices",
	"iter":      "iter",
	"utf8":      "unicode/utf8",
	"debug":     "runtime/debug",
	"tabwriter": "text/tabwriter",
	"unix":      "golang.org/x/sys/unix",
	"check":     "github.com/ipclab/ipclab/check",
	"display":   "github.com/ipclab/ipclab/display",
	"ipc":       "github.com/ipclab/ipclab/ipc",
	"plots":     "github.com/ipclab/ipclab/plots",
	"verdict":   "github.com/ipclab/ipclab/verdict",
	"mat":       "gonum.org/v1/gonum/mat",
	"stat":      "gonum.org/v1/gonum/stat",
	"plot":      "gonum.org/v1/plot",
	"plotter":   "gonum.org/v1/plot/plotter",
	"vg":        "gonum.org/v1/plot/vg",
}

// lookup returns the import path for name, listing the standard library once.
func (k *knownPackages) lookup(goTool string, env []string, name string) (string, bool) {
	if p, ok := preferred[name]; ok {
		return p, true
	}
	k.once.Do(func() {
		k.names = map[string]string{}
		cmd := exec.Command(goTool, "list", "std")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			return
		}
		for _, p := range strings.Fields(string(out)) {
			if strings.Contains(p, "internal") || strings.HasPrefix(p, "vendor/") || strings.Contains(p, "/testdata") {
				continue
			}
			n := path.Base(p)
			if len(n) >= 2 && n[0] == 'v' && n[1] >= '0' && n[1] <= '9' {
				continue // math/rand/v2: its name is rand, which means math/rand
			}
			if old, ok := k.names[n]; !ok || len(p) < len(old) {
				k.names[n] = p
			}
		}
	})
	p, ok := k.names[name]
	return p, ok
}
