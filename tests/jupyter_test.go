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
// (test_session.py), cells (test_cells.py: cells as people write them, and
// errors that must go where the README says), lab (test_lab.py: workers in
// cells, interrupts in ipc, %goflags -race), notebooks (test_notebooks.py) and
// showcase (test_showcase.py: the showcase run as `make demo` runs it; its
// verdicts, summary, charts, HTML).
//
// Without jupyter_client the tests are skipped, unless CI=true: then that
// is a failure, so that CI proves the real thing ran. -short skips them too
// (they build Go cells for minutes), again unless CI=true.
package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipclab/ipclab/internal/jupytertest"
)

func TestJupyter(t *testing.T) {
	jupytertest.Require(t, "jupyter_client, jupyter_kernel_test", "python3-jupyter-client python3-jupyter-kernel-test")
	tmp := t.TempDir()
	bin, data := jupytertest.InstallIpclab(t, "..", tmp)
	env := jupytertest.Env(tmp, data, "ipclab")

	t.Run("kernelspec", func(t *testing.T) {
		// What `jupyter kernelspec list --json` prints; Debian ships the
		// app without the jupyter-kernelspec command.
		cmd := exec.Command(jupytertest.Python, "-m", "jupyter_client.kernelspecapp", "list", "--json")
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
		{"cells", "test_cells", "nbclient, nbformat"},
		{"lab", "test_lab", ""},
		{"notebooks", "test_notebooks", "nbclient, nbconvert, nbformat"},
		{"showcase", "test_showcase", "nbclient, nbconvert, nbformat"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needs != "" {
				jupytertest.Require(t, tt.needs, "python3-nbclient python3-nbconvert")
			}
			unittest(t, env, tt.module)
		})
	}
}

func unittest(t *testing.T, env []string, module string) {
	t.Helper()
	args := []string{"-m", "unittest", "-v"}
	args = append(args, strings.Fields(os.Getenv("IPCLAB_UNITTEST_ARGS"))...)
	jupytertest.Run(t, env, ".", append(args, module)...)
}
