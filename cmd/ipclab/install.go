package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/ipclab/ipclab/kernel"
)

// installCommand writes the ipclab kernel spec where Jupyter looks for it,
// like `python -m ipykernel install`:
//
//	ipclab install [--user | --sys-prefix | --prefix DIR] [--name ipclab] [--display-name "Go (ipclab)"] [--env NAME=VALUE]...
//
// --user (the default) installs into the user's Jupyter data directory,
// --sys-prefix into the prefix of the Python environment that runs Jupyter
// (an active conda environment, else the python3 that has jupyter_core,
// else /usr/local), --prefix into DIR/share/jupyter/kernels.
func installCommand(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("ipclab install", flag.ContinueOnError)
	fl.SetOutput(stderr)
	user := fl.Bool("user", false, "install for the current user (the default)")
	sysPrefix := fl.Bool("sys-prefix", false, "install into the Python environment Jupyter runs in (conda env, or python3's sys.prefix)")
	prefix := fl.String("prefix", "", "install into `DIR`/share/jupyter/kernels")
	name := fl.String("name", "ipclab", "kernel spec name (what notebooks record)")
	displayName := fl.String("display-name", "Go (ipclab)", "name shown in Jupyter's kernel menu")
	env := map[string]string{}
	fl.Func("env", "set `NAME=VALUE` in the kernel's environment (kernel.json env; repeatable), e.g. IPCLAB_MEMORY_LIMIT=2GiB", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("want NAME=VALUE, got %q", kv)
		}
		env[k] = v
		return nil
	})
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), `usage: ipclab install [--user | --sys-prefix | --prefix DIR] [--name NAME] [--display-name NAME] [--env NAME=VALUE]...`)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see ipclab install -h)", fl.Arg(0))
	}
	prefixSet := false
	fl.Visit(func(f *flag.Flag) { prefixSet = prefixSet || f.Name == "prefix" })
	chosen := 0
	for _, b := range []bool{*user, *sysPrefix, prefixSet} {
		if b {
			chosen++
		}
	}
	if chosen > 1 {
		return errors.New("choose one of --user, --sys-prefix and --prefix")
	}
	if prefixSet && *prefix == "" {
		return errors.New("--prefix needs a directory")
	}
	if !validKernelName.MatchString(*name) {
		return fmt.Errorf("kernel name %q may contain only letters, digits, '.', '_' and '-'", *name)
	}

	exe, err := executablePath()
	if err != nil {
		return err
	}
	var dataDir, where string
	switch {
	case prefixSet:
		p, err := filepath.Abs(*prefix)
		if err != nil {
			return fmt.Errorf("--prefix %s: %w", *prefix, err)
		}
		dataDir, where = filepath.Join(p, "share", "jupyter"), "prefix "+p
	case *sysPrefix:
		p, how := pythonPrefix()
		dataDir, where = filepath.Join(p, "share", "jupyter"), "sys-prefix "+p+" ("+how+")"
	default:
		if dataDir, err = userDataDir(); err != nil {
			return err
		}
		where = "user data directory"
	}
	dir := filepath.Join(dataDir, "kernels", *name)
	spec := kernel.Spec{
		Argv:          []string{exe, "kernel", "{connection_file}"},
		DisplayName:   *displayName,
		Language:      "go",
		InterruptMode: "message",
		Metadata:      map[string]any{"debugger": false},
	}
	if len(env) > 0 {
		spec.Env = env
	}
	if err := kernel.InstallSpec(dir, spec); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("install kernel spec into %s: %w (try --user, or a --prefix you can write to)", dir, err)
		}
		return fmt.Errorf("install kernel spec into %s: %w", dir, err)
	}

	fmt.Fprintf(stdout, "Installed kernel spec %q (%s) in %s\n", *name, *displayName, dir)
	fmt.Fprintf(stdout, "  (%s; the kernel runs %s)\n", where, exe)
	if isTempBuild(exe) {
		fmt.Fprintln(stdout, "Warning: this ipclab is a temporary `go run` build that will disappear;")
		fmt.Fprintln(stdout, "  install a lasting binary first (go install ./cmd/ipclab) and run its install.")
	}
	if prefixSet && !onJupyterPath(dataDir) {
		fmt.Fprintf(stdout, "Jupyter finds it only with JUPYTER_PATH=%s (or a prefix Jupyter already searches).\n", dataDir)
	}
	fmt.Fprintln(stdout, "Check with: jupyter kernelspec list")
	if _, err := exec.LookPath("gopls"); err != nil {
		fmt.Fprintln(stdout, "gopls is not on PATH: completion and inspection (Tab, Shift-Tab) then use go/types and go doc only.")
		fmt.Fprintln(stdout, "  For gopls: go install golang.org/x/tools/gopls@latest (v0.23.0 is the newest for Go 1.26);")
		fmt.Fprintln(stdout, "  the kernel also looks in $(go env GOPATH)/bin.")
	}
	return nil
}

// validKernelName is what jupyter_client accepts as a kernel name.
var validKernelName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// executablePath is the absolute path of the running ipclab, symlinks
// resolved, for kernel.json's argv.
func executablePath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the ipclab executable: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Abs(exe)
}

func isTempBuild(exe string) bool {
	return strings.Contains(exe, string(filepath.Separator)+"go-build") && strings.HasPrefix(exe, os.TempDir())
}

// userDataDir is Jupyter's per-user data directory, as jupyter_core
// computes it: $JUPYTER_DATA_DIR, else the platform's location.
func userDataDir() (string, error) {
	if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
		return filepath.Abs(d)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the user's Jupyter data directory: %w", err)
	}
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Jupyter"), nil
	case "windows":
		if appdata := os.Getenv("APPDATA"); appdata != "" {
			return filepath.Join(appdata, "jupyter"), nil
		}
		return filepath.Join(home, "AppData", "Roaming", "jupyter"), nil
	}
	if xdg := os.Getenv("XDG_DATA_HOME"); xdg != "" {
		return filepath.Join(xdg, "jupyter"), nil
	}
	return filepath.Join(home, ".local", "share", "jupyter"), nil
}

// pythonPrefix is the sys.prefix of the Python that runs Jupyter: an active
// conda environment, else the first of python3 on PATH and /usr/bin/python3
// that can import jupyter_core, else /usr/local. how says which.
func pythonPrefix() (prefix, how string) {
	if p := os.Getenv("CONDA_PREFIX"); p != "" {
		return p, "the active conda environment"
	}
	var pythons []string
	if p, err := exec.LookPath("python3"); err == nil {
		pythons = append(pythons, p)
	}
	pythons = append(pythons, "/usr/bin/python3")
	for _, py := range pythons {
		out, err := exec.Command(py, "-c", "import sys, jupyter_core; print(sys.prefix)").Output()
		if p := strings.TrimSpace(string(out)); err == nil && p != "" {
			return p, "sys.prefix of " + py
		}
	}
	return "/usr/local", "no python3 with Jupyter found"
}

// onJupyterPath reports whether Jupyter searches dataDir for kernels
// without help: it is on $JUPYTER_PATH or a system location.
func onJupyterPath(dataDir string) bool {
	dirs := filepath.SplitList(os.Getenv("JUPYTER_PATH"))
	dirs = append(dirs, "/usr/local/share/jupyter", "/usr/share/jupyter")
	if u, err := userDataDir(); err == nil {
		dirs = append(dirs, u)
	}
	for _, d := range dirs {
		if filepath.Clean(d) == filepath.Clean(dataDir) {
			return true
		}
	}
	return false
}
