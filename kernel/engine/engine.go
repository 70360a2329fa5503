package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipclab/ipclab/display/cellhost"
	"github.com/ipclab/ipclab/ipc"
)

// Options configure an Engine.
type Options struct {
	// Source is the ipclab module (go.mod, go.sum, display, internal, ipc,
	// plots) that cells build against; see package ipclab.
	Source fs.FS
	// TempDir holds the session's build directory; os.TempDir() if empty.
	TempDir string
	// CacheDir holds the unpacked ipclab source; the user cache dir if empty.
	CacheDir string
	// WorkDir is where cells run (the notebook's directory); the current
	// directory if empty.
	WorkDir string
	Logger  *slog.Logger
	// Gopls is the gopls binary for completion and inspection: "" finds it
	// on PATH or in GOPATH/bin, "none" uses go/types and go doc only.
	Gopls string
	// Rebuild forces the fallback that needs no Go plugins: every cell
	// rebuilds one program that runs all earlier cells again, silently.
	Rebuild bool
	// CompileAll compiles every cell, even those the session process could
	// evaluate without a build (see lower.go): for comparing the two.
	CompileAll bool
	// Limits bound the session process and a cell's output (see Limits);
	// the zero value sets none.
	Limits Limits
}

// Engine runs the cells of one notebook session.
type Engine struct {
	opts   Options
	log    *slog.Logger
	goTool string
	ws     string // the session's module directory
	env    map[string]string
	imp    *exportImporter
	fast   *fastBuilder
	known  knownPackages

	mu sync.Mutex // one cell at a time
	// shellGroups are the process groups of !commands run without a
	// session process; Close kills them.
	shellGroups []int
	w           *world
	seq         int
	cells       map[string]*cellSource // //line file name → source, for messages
	goflags     []string

	// rebuild is set where Go plugins cannot work (no cgo, no C compiler,
	// another OS): values are then recomputed for every cell.
	rebuild     bool
	rebuildSaid bool
	// noPlugins is set where Go plugins cannot work at all; race is set
	// while %goflags has -race (see race.go).
	noPlugins bool
	race      bool

	// gopls runs from the first completion or inspection until it idles
	// for goplsIdle (see gopls.go).
	goplsMu     sync.Mutex
	gopls       *goplsClient
	goplsTimer  *time.Timer
	goplsClosed bool
	goplsFailed bool

	srcDir       string // the unpacked ipclab source cells build against
	buildKeyOnce sync.Once
	buildKeyVal  string
	hostOnce     sync.Once
	hostPath     string
	hostErr      error
	sess         *session
	// exported are the packages whose export tables the session process
	// has loaded whole, for evaluated cells (see lower.go).
	exported map[string]bool
	// prelude is the plugin with the export tables of preludePackages,
	// built by warmUp.
	preludeMu sync.Mutex
	prelude   string
	// lostValues is set when the session process had to be restarted, so
	// that the next cell can say that earlier values are gone.
	lostValues string
}

// cellSource is what error messages need to quote a cell.
type cellSource struct {
	label string
	src   string
}

// New prepares a session: a module directory for the cells' packages, and
// the session process's program, built in the background.
func New(opts Options) (*Engine, error) {
	if opts.Source == nil {
		return nil, errors.New("engine: Options.Source is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	if opts.CacheDir == "" {
		opts.CacheDir = userCacheDir()
	}
	if opts.WorkDir == "" {
		opts.WorkDir, _ = os.Getwd()
	}
	goTool, err := findGo()
	if err != nil {
		return nil, err
	}
	sweepWorkspaces(opts.TempDir)
	if _, err := ipc.Sweep(); err != nil { // a kernel killed with -9 left these
		opts.Logger.Warn("sweeping ipc objects of ended sessions", "err", err)
	}
	ws, err := os.MkdirTemp(opts.TempDir, fmt.Sprintf("%s%d-", workspacePrefix, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("engine: make session dir: %w", err)
	}
	if err := os.Mkdir(goTempDir(ws), 0o700); err != nil {
		os.RemoveAll(ws)
		return nil, fmt.Errorf("engine: make session dir: %w", err)
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		// No user cache directory (HOME and XDG_CACHE_HOME unset): build
		// into the session's own private directory, never a shared one.
		opts.Logger.Warn("no user cache directory (HOME and XDG_CACHE_HOME are unset): the session program is built for this kernel only")
		cacheDir = filepath.Join(ws, "cache")
	}
	if err := secureDir(cacheDir); err != nil {
		os.RemoveAll(ws)
		return nil, fmt.Errorf("engine: %w", err)
	}
	opts.CacheDir = cacheDir
	srcDir, err := unpackSource(opts.Source, opts.CacheDir)
	if err != nil {
		os.RemoveAll(ws)
		return nil, err
	}
	gomod, gosum, err := moduleFiles(opts.Source, srcDir)
	if err != nil {
		os.RemoveAll(ws)
		return nil, err
	}
	host := "package main\n\nimport (\n\t\"github.com/ipclab/ipclab/display/cellhost\"\n\t_ \"github.com/ipclab/ipclab/ipc\" // so that the session process can be an ipc worker\n)\n\nfunc main() { cellhost.Serve() }\n"
	for name, content := range map[string][]byte{"go.mod": gomod, "go.sum": gosum, "host/main.go": []byte(host)} {
		p := filepath.Join(ws, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			os.RemoveAll(ws)
			return nil, fmt.Errorf("engine: write %s: %w", name, err)
		}
	}
	e := &Engine{
		opts: opts, log: opts.Logger, goTool: goTool, ws: ws,
		env:      map[string]string{},
		w:        newWorld(),
		cells:    map[string]*cellSource{},
		exported: map[string]bool{},
		srcDir:   srcDir,
	}
	e.imp = newExportImporter(goTool, ws, e.goEnv())
	e.fast = newFastBuilder(goTool, ws, e.goEnv())
	e.noPlugins = opts.Rebuild || !pluginsWork(goTool, e.goEnv())
	e.rebuild = e.noPlugins
	if e.rebuild {
		e.log.Warn("Go plugins are not available: every cell rebuilds the program and recomputes earlier cells")
	} else {
		go e.warmUp() // build while the front end connects
	}
	return e, nil
}

// goEnv is the go command's environment: its temporary files (go-build*,
// go-link-*) in the workspace, so that an interrupted build leaves none.
func (e *Engine) goEnv() []string {
	return goEnv(map[string]string{"TMPDIR": goTempDir(e.ws), "GOTMPDIR": goTempDir(e.ws)})
}

// sessionEnv is the environment of the session process.
func (e *Engine) sessionEnv() []string {
	// display.SessionEnv and display.StateDirEnv (the state dir goes with the workspace).
	extra := map[string]string{"IPCLAB_SESSION": "1", "IPCLAB_STATE_DIR": filepath.Join(e.ws, "state")}
	e.opts.Limits.env(extra)
	for k, v := range e.env {
		extra[k] = v
	}
	return goEnv(extra)
}

// preludePackages are the packages whose functions and variables evaluated
// cells can use from a session's start, without a compiled cell first.
var preludePackages = []string{"fmt", "strings", "strconv", "math", "time", "os", "sort", "errors",
	"github.com/ipclab/ipclab/display", "github.com/ipclab/ipclab/ipc", "github.com/ipclab/ipclab/plots",
	"github.com/ipclab/ipclab/check", "github.com/ipclab/ipclab/verdict", barePath}

// warmUp builds the session program and the prelude plugin, which compiles
// the packages cells usually need for plugins before the first cell and
// exports them to evaluated cells.
func (e *Engine) warmUp() {
	if _, err := e.host(); err != nil {
		return
	}
	start := time.Now()
	// The prelude's source follows from these lists and the packages'
	// APIs, which the build key covers: a cached prelude needs no imports.
	key := strings.Join(preludePackages, "\n") + "\n" + strings.Join(compositeTypes, "\n")
	so, built, err := e.cachedBuild("prelude.so", key, func(out string) error {
		if err := e.writePrelude(filepath.Join(e.ws, "warmup", "main.go")); err != nil {
			return err
		}
		if out, err := runGo(context.Background(), e.goTool, e.ws, e.goEnv(), e.buildArgs("-buildmode=plugin", "-o", out, "./warmup")...); err != nil {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	if err != nil {
		e.log.Warn("prelude plugin build failed", "err", err)
		return
	}
	e.log.Info("prelude plugin ready", "built", built, "took", time.Since(start).Round(time.Millisecond))
	e.preludeMu.Lock()
	e.prelude = so
	e.preludeMu.Unlock()
	if e.mu.TryLock() { // else the running cell's end will
		e.loadPrelude(e.sess)
		e.mu.Unlock()
	}
}

// writePrelude writes the prelude plugin's source: export tables of the
// prelude packages and of compositeTypes.
func (e *Engine) writePrelude(file string) error {
	var imports, tables strings.Builder
	for i, p := range preludePackages {
		pkg, err := e.imp.Import(p)
		if err != nil {
			return fmt.Errorf("prelude: import %s: %w", p, err)
		}
		alias := fmt.Sprintf("ξp%d", i)
		fmt.Fprintf(&imports, "\t%s %q\n", alias, p)
		tables.WriteString("\t" + exportCall(alias, pkg, nil))
	}
	tables.WriteString("\t" + compositeTypesExport())
	src := fmt.Sprintf("// Code generated by ipclab. DO NOT EDIT.\n\npackage main\n\nimport (\n\t%s %q\n%s)\n\nfunc init() {\n%s}\n", rtName, cellrtPath, imports.String(), tables.String())
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, []byte(src), 0o644)
}

// loadPrelude has the session process load the prelude once it is built,
// without waiting for it: loading it (plots' fonts, mostly) takes a third of
// a second, best spent while the user reads. Called with e.mu held.
func (e *Engine) loadPrelude(s *session) {
	e.preludeMu.Lock()
	so := e.prelude
	e.preludeMu.Unlock()
	if so == "" || s == nil || s.preludeLoaded || !s.alive() {
		return
	}
	s.preludeLoaded = true
	if err := s.send(cellhost.Command{Op: "preload", Plugin: so}); err != nil {
		e.log.Warn("prelude plugin not sent", "err", err)
		return
	}
	for _, p := range preludePackages {
		e.exported[p] = true
	}
}

// host builds the session process's program once.
func (e *Engine) host() (string, error) {
	e.hostOnce.Do(func() {
		start := time.Now()
		src, _ := os.ReadFile(filepath.Join(e.ws, "host", "main.go"))
		bin, built, err := e.cachedBuild("session", string(src), func(out string) error {
			if out, err := runGo(context.Background(), e.goTool, e.ws, e.goEnv(), e.buildArgs("-o", out, "./host")...); err != nil {
				return fmt.Errorf("%v\n%s", err, out)
			}
			return nil
		})
		if err != nil {
			e.hostErr = fmt.Errorf("build the session process: %w", err)
			return
		}
		e.log.Info("session program ready", "built", built, "took", time.Since(start).Round(time.Millisecond))
		e.hostPath = bin
	})
	return e.hostPath, e.hostErr
}

// cachedBuild returns the program or plugin name built from src, building
// it into the cache dir only when no kernel on this machine has yet: go
// build caches compiled packages but links every time, which cost each new
// kernel a second or two before its first cell.
func (e *Engine) cachedBuild(name, src string, build func(out string) error) (path string, built bool, err error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", e.buildKey(), name, src, strings.Join(e.goflags, " "))
	dir := filepath.Join(e.opts.CacheDir, "built")
	path = filepath.Join(dir, fmt.Sprintf("%s-%x", name, h.Sum(nil)[:8]))
	if err := secureDir(dir); err != nil {
		return "", false, err
	}
	if _, err := os.Lstat(path); err == nil {
		if err := verifyBuilt(path); err != nil {
			// Never run what was not built here: build it again.
			e.log.Warn("cached build not used", "path", path, "err", err)
			os.Remove(path)
		} else {
			now := time.Now()
			os.Chtimes(path, now, now) // in use: keep it from pruneBuilt
			return path, false, nil
		}
	}
	pruneBuilt(dir)
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
	if err := build(tmp); err != nil {
		os.Remove(tmp)
		return "", false, err
	}
	// The content hash recorded now is checked before every later use.
	sum, err := fileSum(tmp)
	if err == nil {
		err = os.WriteFile(path+".sha256", []byte(sum+"\n"), 0o600)
	}
	// Rename is atomic: a kernel starting now sees the whole file or none.
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return "", false, err
	}
	return path, true, nil
}

// pruneBuilt removes cached builds no kernel has used for a week: every
// ipclab build and toolchain leaves its own.
func pruneBuilt(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, de := range entries {
		if fi, err := de.Info(); err == nil && time.Since(fi.ModTime()) > 7*24*time.Hour {
			os.Remove(filepath.Join(dir, de.Name()))
		}
	}
}

// buildKey is what a cached build depends on besides its own source: the
// ipclab source cells build against and the toolchain with its settings.
func (e *Engine) buildKey() string {
	e.buildKeyOnce.Do(func() {
		cmd := exec.Command(e.goTool, "env", "GOVERSION", "GOROOT", "GOOS", "GOARCH", "GOAMD64", "CC", "CGO_ENABLED", "GOFLAGS", "GOEXPERIMENT")
		cmd.Env = e.goEnv()
		out, err := cmd.Output()
		if err != nil {
			out = []byte(time.Now().String()) // no key to trust: never reuse
		}
		// The running ipclab, by path, size and time: the generated code of
		// another version may differ.
		exe, _ := os.Executable()
		if fi, err := os.Stat(exe); err == nil {
			exe = fmt.Sprintf("%s %d %d", exe, fi.Size(), fi.ModTime().UnixNano())
		}
		e.buildKeyVal = e.srcDir + "\x00" + exe + "\x00" + string(out)
	})
	return e.buildKeyVal
}

func (e *Engine) buildArgs(args ...string) []string {
	// Without DWARF the linker does much less; stack traces keep file:line.
	a := []string{"build", "-ldflags=-s -w"}
	a = append(a, e.goflags...)
	return append(a, args...)
}

// Close ends the session process and removes the session's files.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess != nil {
		e.sess.close()
		e.sess = nil
	}
	for _, g := range e.shellGroups {
		syscall.Kill(-g, syscall.SIGKILL)
	}
	e.sweepIPC("shutdown")
	e.closeGopls()
	return os.RemoveAll(e.ws)
}

// Execute runs one cell.
func (e *Engine) Execute(ctx context.Context, req Request, out Output) Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	out = capOutput(out, e.opts.Limits.Output)
	if e.sess != nil {
		e.sess.setSink(out)
	}
	code, res, handled := e.magics(ctx, req, out)
	if handled {
		return res
	}
	if strings.TrimSpace(code) == "" {
		return Result{}
	}
	return e.executeGo(ctx, req, code, out)
}

func (e *Engine) executeGo(ctx context.Context, req Request, code string, out Output) Result {
	e.seq++
	seq := e.seq
	label := fmt.Sprintf("cell %d", req.Count)
	file := fmt.Sprintf("cell%d.go", req.Count)
	if req.Count <= 0 {
		label = fmt.Sprintf("silent cell %d", seq)
		file = fmt.Sprintf("silent%d.go", seq)
	}
	e.cells[file] = &cellSource{label: label, src: code}

	tr := &translator{
		w: e.w, imp: e.imp, seq: seq, label: label, lineDir: file, src: code, silent: req.Silent,
		known:    func(name string) (string, bool) { return e.known.lookup(e.goTool, e.goEnv(), name) },
		notify:   func(msg string) { out.Stream("stderr", msg) },
		evaluate: !e.rebuild && !e.opts.CompileAll && len(e.goflags) == 0,
		exported: e.exported,
	}
	phase := time.Now()
	t, srcErrs, err := tr.translate(ctx)
	e.log.Debug("cell translated", "cell", label, "took", time.Since(phase).Round(time.Millisecond))
	if err != nil {
		return Result{Err: &CellError{Name: "InternalError", Value: err.Error(), Traceback: []string{err.Error()}}}
	}
	if len(srcErrs) > 0 {
		return Result{Err: compileError(label, code, srcErrs)}
	}

	if t.eval != nil {
		start := time.Now()
		res, ok := e.runInSession(ctx, req, t, label, out, cellhost.Command{Op: "eval", ID: seq, Label: label, Program: t.eval})
		e.log.Debug("cell evaluated", "cell", label, "done", ok, "took", time.Since(start).Round(time.Millisecond))
		if ok {
			return res
		}
	} else {
		e.log.Debug("cell compiled", "cell", label, "why", t.evalWhy)
	}

	pkgDir := filepath.Join(e.ws, pkgAlias(seq))
	plugDir := filepath.Join(e.ws, fmt.Sprintf("p%04d", seq))
	plugin := filepath.Join(e.ws, "bin", fmt.Sprintf("p%04d.so", seq))
	// The plugin's directory too: the session program, which used to make
	// it, now comes from the machine's cache, and the linker creates no
	// directories (the first compiled cell then fell back to go build).
	for _, dir := range []string{pkgDir, plugDir, filepath.Dir(plugin)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return internalError(fmt.Errorf("creating the cell's build directory: %w", err))
		}
	}
	if err := os.WriteFile(filepath.Join(pkgDir, "cell.go"), []byte(t.pkgSource), 0o644); err != nil {
		return internalError(err)
	}
	if err := os.WriteFile(filepath.Join(plugDir, "main.go"), []byte(t.pluginSource), 0o644); err != nil {
		return internalError(err)
	}
	if e.rebuild {
		return e.executeRebuild(ctx, req, t, seq, label, out)
	}
	if _, err := e.host(); err != nil {
		return internalError(err)
	}
	start := time.Now()
	built := false
	if !t.cgo && len(e.goflags) == 0 {
		compileOut, err := e.fast.build(ctx, seq, filepath.Join(pkgDir, "cell.go"), filepath.Join(plugDir, "main.go"), plugin, t.imports)
		switch {
		case ctx.Err() != nil:
			return Result{Err: interruptedError("the cell was interrupted while it was being built")}
		case err == nil && compileOut != nil:
			return Result{Err: e.buildError(label, string(compileOut))}
		case err == nil:
			built = true
		default:
			e.log.Warn("direct build failed; using go build", "cell", label, "err", err)
		}
	}
	if !built {
		buildOut, err := runGo(ctx, e.goTool, e.ws, e.goEnv(), e.buildArgs("-buildmode=plugin", "-o", plugin, "./"+filepath.Base(plugDir))...)
		if ctx.Err() != nil {
			return Result{Err: interruptedError("the cell was interrupted while it was being built")}
		}
		if err != nil {
			return Result{Err: e.buildError(label, string(buildOut))}
		}
	}
	e.log.Debug("cell built", "cell", label, "direct", built, "took", time.Since(start).Round(time.Millisecond),
		"locate", e.fast.last.locate.Round(time.Millisecond), "compile", e.fast.last.compile.Round(time.Millisecond), "link", e.fast.last.link.Round(time.Millisecond))

	res, _ := e.runInSession(ctx, req, t, label, out, cellhost.Command{Op: "run", ID: seq, Label: label, Plugin: plugin})
	return res
}

// runInSession runs a compiled or lowered cell in the session process and
// reports how it ended. An evaluation whose symbols the session lacks ran
// nothing: ok is then false and the cell must be compiled.
func (e *Engine) runInSession(ctx context.Context, req Request, t *translation, label string, out Output, cmd cellhost.Command) (res Result, ok bool) {
	sess, err := e.session(out)
	if err != nil {
		return internalError(err), true
	}
	if e.lostValues != "" {
		out.Stream("stderr", e.lostValues)
		e.lostValues = ""
	}
	phase := time.Now()
	cell, runErr := sess.run(ctx, cmd, out, req.AllowStdin)
	e.log.Debug("cell ran", "cell", label, "op", cmd.Op, "took", time.Since(phase).Round(time.Millisecond))
	if runErr == nil && cell.done["ename"] == "Unresolved" {
		e.log.Debug("cell compiled instead of evaluated", "cell", label, "why", cell.done["evalue"])
		return Result{}, false
	}
	t.record.evaluated = cmd.Op == "eval"
	switch {
	case errors.Is(runErr, context.Canceled):
		e.restartLost(sess, "the interrupted cell did not stop by itself")
		e.commit(t)
		return Result{Err: interruptedError("the cell did not stop at an interrupt check (it was blocked in a channel operation, a lock or a system call), so the session process was restarted: values from earlier cells are lost; declarations remain")}, true
	case errors.Is(runErr, errSessionDied):
		tail := sess.stderrTail()
		e.restartLost(sess, "the session process ended")
		e.commit(t)
		return Result{Err: e.crashError(label, sess.waitErr, tail+e.opts.Limits.memoryNote(sess.maxRSS))}, true
	case runErr != nil:
		return internalError(runErr), true
	}
	if cell.refusedInput {
		out.Stream("stderr", stdinNotice(label))
	}
	// The package is loaded now: its declarations are part of the session
	// even if the cell's statements panicked or were interrupted.
	e.commit(t)
	if cmd.Op == "run" && cell.done["ename"] != "LoadError" {
		for _, p := range t.exported {
			e.exported[p] = true
		}
	}
	e.loadPrelude(sess) // if it was built while the cell ran
	res = e.outcome(label, req, cell)
	res.Evaluated = cmd.Op == "eval"
	return res, true
}

// outcome is the result of a cell that ran to its end.
func (e *Engine) outcome(label string, req Request, cell *runningCell) Result {
	if cell.done["ename"] != "" {
		return Result{Err: e.runtimeError(label, cell.done)}
	}
	var res Result
	if cell.result != nil && !req.Silent {
		res.Data, res.Metadata = cell.result.Data, cell.result.Metadata
	}
	return res
}

func (e *Engine) commit(t *translation) {
	e.w.cells = append(e.w.cells, t.record)
	for name, p := range t.newImports {
		e.w.imports[name] = p
	}
}

// session returns the running session process, starting one if needed.
func (e *Engine) session(out Output) (*session, error) {
	if e.sess != nil && e.sess.alive() {
		return e.sess, nil
	}
	if e.sess != nil && len(e.w.cells) > 0 {
		// It ended between cells (killed, out of memory, a library
		// goroutine's panic): the next cell says so, as after a crash in a cell.
		why := "the session process ended between cells"
		if e.sess.waitErr != nil {
			why += " (" + e.sess.waitErr.Error() + ")"
		}
		if first := crashLine(e.sess.stderrTail()); first != "" {
			why += ": " + first
		}
		e.lostValues = lostMessage(why)
	}
	host, err := e.host()
	if err != nil {
		return nil, err
	}
	s, err := startSession(host, e.opts.WorkDir, e.sessionEnv(), out, e.opts.Limits)
	if err != nil {
		return nil, err
	}
	e.sess = s
	e.exported = map[string]bool{} // a new process has none of them
	e.loadPrelude(s)
	return s, nil
}

func (e *Engine) restartLost(s *session, why string) {
	s.kill()
	<-s.exited
	e.sess = nil
	e.sweepIPC("session restart")
	if len(e.w.cells) > 0 {
		e.lostValues = lostMessage(why)
	}
}

func lostMessage(why string) string {
	return fmt.Sprintf("ipclab: the session restarted because %s: the values of earlier cells' variables were lost (they start from their zero values until their cells run again); declarations remain.\n", why)
}

// crashLine is the line of a dead process's standard error that says why
// it died (a Go panic or fatal error), or "".
func crashLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return cleanMessage(strings.TrimSpace(l))
		}
	}
	return ""
}

// stdinNotice tells a cell that read standard input without a front end
// to answer (nbclient, nbconvert, a grader: allow_stdin false) what its read
// got. The cell goes on and succeeds, so that such a notebook runs to its
// end, as README rule 15 says.
func stdinNotice(label string) string {
	return "ipclab: " + label + " read standard input, but this front end does not accept input (allow_stdin is false): the read got an empty line\n"
}

// GoVersion is the version of the Go toolchain that builds cells, as
// "1.26.8"; empty if it cannot be asked.
func (e *Engine) GoVersion() string {
	out, err := exec.Command(e.goTool, "env", "GOVERSION").Output()
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "go")
}

func internalError(err error) Result {
	return Result{Err: &CellError{Name: "InternalError", Value: err.Error(), Traceback: strings.Split("ipclab internal error: "+err.Error(), "\n")}}
}

func interruptedError(msg string) *CellError {
	return &CellError{Name: "KeyboardInterrupt", Value: msg, Traceback: []string{"KeyboardInterrupt: " + msg}}
}

// pluginsWork reports whether cells can be Go plugins here: plugins need cgo
// and a C compiler, on Linux, macOS or FreeBSD.
func pluginsWork(goTool string, env []string) bool {
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd":
	default:
		return false
	}
	cmd := exec.Command(goTool, "env", "CGO_ENABLED", "CC")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return false
	}
	f := strings.Fields(string(out))
	if len(f) < 2 || f[0] != "1" {
		return false
	}
	_, err = exec.LookPath(f[1])
	return err == nil
}

const rebuildNotice = "ipclab: Go plugins are not available here (cgo is disabled or there is no C compiler), so each cell rebuilds one program that runs every earlier cell again with its output hidden: values are recomputed, and goroutines and open resources do not survive between cells.\n"

// executeRebuild runs a cell in the fallback mode: one program with every
// successful cell so far, run from the start.
func (e *Engine) executeRebuild(ctx context.Context, req Request, t *translation, seq int, label string, out Output) Result {
	if !e.rebuildSaid {
		if e.race {
			out.Stream("stderr", raceNotice)
		} else {
			out.Stream("stderr", rebuildNotice)
		}
		e.rebuildSaid = true
	}
	var b strings.Builder
	b.WriteString("// Code generated by ipclab. DO NOT EDIT.\n\npackage main\n\nimport (\n\t\"github.com/ipclab/ipclab/display/cellhost\"\n\t_ \"github.com/ipclab/ipclab/ipc\"\n")
	var earlier []string
	for _, c := range e.w.cells {
		fmt.Fprintf(&b, "\t%s %q\n", pkgAlias(c.seq), pkgPath(c.seq))
		earlier = append(earlier, pkgAlias(c.seq)+".Run")
	}
	fmt.Fprintf(&b, "\tcell %q\n)\n\nfunc main() { cellhost.Replay([]func(){%s}, cell.Run) }\n", pkgPath(seq), strings.Join(earlier, ", "))
	dir := filepath.Join(e.ws, fmt.Sprintf("r%04d", seq))
	bin := filepath.Join(e.ws, "bin", fmt.Sprintf("r%04d", seq))
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(b.String()), 0o644); err != nil {
		return internalError(err)
	}
	buildOut, err := runGo(ctx, e.goTool, e.ws, e.goEnv(), e.buildArgs("-o", bin, "./"+filepath.Base(dir))...)
	if ctx.Err() != nil {
		return Result{Err: interruptedError("the cell was interrupted while it was being built")}
	}
	if err != nil {
		return Result{Err: e.buildError(label, string(buildOut))}
	}
	defer os.Remove(bin)
	defer os.RemoveAll(dir)
	sess, err := startSession(bin, e.opts.WorkDir, e.sessionEnv(), out, e.opts.Limits)
	if err != nil {
		return internalError(err)
	}
	defer func() {
		sess.kill()
		<-sess.exited
	}()
	cell, runErr := sess.run(ctx, cellhost.Command{Op: "run", ID: seq, Label: label, Plugin: bin}, out, req.AllowStdin)
	switch {
	// A cell that had to be interrupted or killed the process is not kept:
	// every later cell would run it again.
	case errors.Is(runErr, context.Canceled):
		return Result{Err: interruptedError("the cell was interrupted; it is not kept, since later cells would run it again")}
	case errors.Is(runErr, errSessionDied):
		return Result{Err: e.crashError(label, sess.waitErr, sess.stderrTail()+e.opts.Limits.memoryNote(sess.maxRSS))}
	case runErr != nil:
		return internalError(runErr)
	}
	if cell.done["ename"] != "KeyboardInterrupt" {
		e.commit(t)
	}
	res := e.outcome(label, req, cell)
	if e.race && res.Err == nil {
		res.Err = raceError(label, sess.stderrTail())
	}
	return res
}
