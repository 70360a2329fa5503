// Package jupytertest runs Python test scripts against Jupyter kernels from
// Go tests, with Debian's interpreter and its Jupyter packages. Without them
// a test is skipped, except under CI=true, where that is a failure: CI must
// prove the real thing ran.
package jupytertest

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Python is Debian's interpreter, which has jupyter_client; another python3
// may come first on PATH.
const Python = "/usr/bin/python3"

// Require skips t (fails it with CI=true) unless Python can import modules
// ("jupyter_client, nbclient"), which the Debian packages debs provide.
// Tests that start real kernels are also skipped in -short mode, but not
// under CI.
func Require(t *testing.T, modules, debs string) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	if testing.Short() && !ci {
		t.Skip("starts real kernels with jupyter_client; skipped in -short mode")
	}
	out, err := exec.Command(Python, "-c", "import "+modules).CombinedOutput()
	if err != nil {
		msg := Python + " cannot import " + modules + " (apt-get install " + debs + "): " + err.Error() + "\n" + string(out)
		if ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// Env is the environment for a Python client of the kernel kernelName whose
// spec is under dataDir (…/share/jupyter); Jupyter's own state goes to tmp.
func Env(tmp, dataDir, kernelName string) []string {
	return append(os.Environ(),
		"JUPYTER_PATH="+dataDir,
		"JUPYTER_RUNTIME_DIR="+filepath.Join(tmp, "runtime"),
		"JUPYTER_DATA_DIR="+filepath.Join(tmp, "data"),
		"JUPYTER_CONFIG_DIR="+filepath.Join(tmp, "config"),
		"IPCLAB_KERNEL_NAME="+kernelName,
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
	)
}

// Run runs Python with args in dir, streaming its output into the test log
// line by line, and fails the test if it fails. It stops Python shortly
// before the test's deadline.
func Run(t *testing.T, env []string, dir string, args ...string) {
	t.Helper()
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, Python, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if line := sc.Text(); !noise(line) {
				t.Log(line)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	if err != nil {
		t.Fatalf("%s %s: %v", Python, strings.Join(args, " "), err)
	}
}

// noise is debugger chatter some environments make Python print.
func noise(line string) bool {
	return strings.Contains(line, "frozen modules") || strings.Contains(line, "PYDEVD_DISABLE_FILE_VALIDATION") ||
		strings.Contains(line, "Debugger warning")
}

// InstallIpclab builds ipclab from the module at root into tmp and installs
// its kernel spec under tmp/prefix, as `ipclab install --prefix` does for
// users. It returns the binary and the Jupyter data dir holding the spec.
func InstallIpclab(t *testing.T, root, tmp string) (bin, dataDir string) {
	t.Helper()
	bin = filepath.Join(tmp, "ipclab")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ipclab")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ipclab: %v\n%s", err, out)
	}
	prefix := filepath.Join(tmp, "prefix")
	out, err := exec.Command(bin, "install", "--prefix", prefix).CombinedOutput()
	if err != nil {
		t.Fatalf("ipclab install --prefix %s: %v\n%s", prefix, err, out)
	}
	t.Logf("%s", out)
	return bin, filepath.Join(prefix, "share", "jupyter")
}
