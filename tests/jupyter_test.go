// Package tests runs the Python tests in this directory against a freshly
// built ipclab kernel, through Debian's jupyter_client, jupyter_kernel_test,
// nbclient and nbconvert (/usr/bin/python3). They build many Go cells, so
// give them time:
//
//	go test -timeout 60m ./tests/                        # all of them
//	go test -timeout 60m ./tests/ -run Jupyter/protocol  # one file
//	IPCLAB_UNITTEST_ARGS="-k stdin" go test -v ./tests/ -run Jupyter/protocol
//
// The subtests are kernelspec (ipclab install and jupyter's view of it),
// conformance (test_conformance.py), protocol (test_protocol.py), session
// (test_session.py) and notebooks (test_notebooks.py).
//
// Without jupyter_client the tests are skipped, unless CI=true: then that
// is a failure, so that CI proves the real thing ran. -short skips them too
// (they build Go cells for minutes), again unless CI=true.
package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// python is Debian's interpreter, which has jupyter_client; another python3
// may come first on PATH.
const python = "/usr/bin/python3"

func TestJupyter(t *testing.T) {
	requireJupyter(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "ipclab")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/ipclab").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ipclab: %v\n%s", err, out)
	}
	prefix := filepath.Join(tmp, "prefix")
	out, err := exec.Command(bin, "install", "--prefix", prefix).CombinedOutput()
	if err != nil {
		t.Fatalf("ipclab install --prefix %s: %v\n%s", prefix, err, out)
	}
	t.Logf("%s", out)
	data := filepath.Join(prefix, "share", "jupyter")
	env := append(os.Environ(),
		"JUPYTER_PATH="+data,
		"JUPYTER_RUNTIME_DIR="+filepath.Join(tmp, "runtime"),
		"JUPYTER_DATA_DIR="+filepath.Join(tmp, "data"),
		"JUPYTER_CONFIG_DIR="+filepath.Join(tmp, "config"),
		"IPCLAB_KERNEL_NAME=ipclab",
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
	)

	t.Run("kernelspec", func(t *testing.T) {
		// What `jupyter kernelspec list --json` prints; Debian ships the
		// app without the jupyter-kernelspec command.
		cmd := exec.Command(python, "-m", "jupyter_client.kernelspecapp", "list", "--json")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kernelspec list: %v", err)
		}
		var list struct {
			Kernelspecs map[string]struct {
				ResourceDir string `json:"resource_dir"`
				Spec        struct {
					Argv          []string `json:"argv"`
					Language      string   `json:"language"`
					InterruptMode string   `json:"interrupt_mode"`
				} `json:"spec"`
			} `json:"kernelspecs"`
		}
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatalf("kernelspec list: %v\n%s", err, out)
		}
		ks, ok := list.Kernelspecs["ipclab"]
		if !ok {
			t.Fatalf("jupyter does not list ipclab with JUPYTER_PATH=%s:\n%s", data, out)
		}
		if ks.ResourceDir != filepath.Join(data, "kernels", "ipclab") || ks.Spec.Argv[0] != bin ||
			ks.Spec.Language != "go" || ks.Spec.InterruptMode != "message" {
			t.Errorf("kernelspec = %+v", ks)
		}
	})
	for _, tt := range []struct{ name, module, needs string }{
		{"conformance", "test_conformance", ""},
		{"protocol", "test_protocol", ""},
		{"session", "test_session", ""},
		{"notebooks", "test_notebooks", "nbclient, nbconvert, nbformat"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needs != "" {
				requireModules(t, tt.needs, "python3-nbclient python3-nbconvert")
			}
			unittest(t, env, tt.module)
		})
	}
}

func unittest(t *testing.T, env []string, module string) {
	t.Helper()
	args := []string{"-m", "unittest", "-v"}
	args = append(args, strings.Fields(os.Getenv("IPCLAB_UNITTEST_ARGS"))...)
	runPython(t, env, ".", append(args, module)...)
}

// requireJupyter skips the test when Debian's jupyter_client or
// jupyter_kernel_test is missing, or in -short mode. With CI=true a missing
// module fails the test and -short does not skip it: CI must prove the real
// thing ran.
func requireJupyter(t *testing.T) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	if testing.Short() && !ci {
		t.Skip("builds ipclab and runs Go cells through jupyter_client for minutes; skipped in -short mode")
	}
	requireModules(t, "jupyter_client, jupyter_kernel_test", "python3-jupyter-client python3-jupyter-kernel-test")
}

// requireModules skips the test (fails it with CI=true) unless python can
// import modules, which the Debian packages debs provide.
func requireModules(t *testing.T, modules, debs string) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import "+modules).CombinedOutput()
	if err != nil {
		msg := python + " cannot import " + modules + " (apt-get install " + debs + "): " + err.Error() + "\n" + string(out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// runPython runs python with args in dir, streaming its output into the test
// log line by line, and fails the test if it fails.
func runPython(t *testing.T, env []string, dir string, args ...string) {
	t.Helper()
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, python, args...)
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
		t.Fatalf("%s %s: %v", python, strings.Join(args, " "), err)
	}
}

// noise is debugger chatter some environments make Python print.
func noise(line string) bool {
	return strings.Contains(line, "frozen modules") || strings.Contains(line, "PYDEVD_DISABLE_FILE_VALIDATION") ||
		strings.Contains(line, "Debugger warning")
}
