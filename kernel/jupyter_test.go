package kernel

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ipclab/ipclab/internal/jupytertest"
)

// TestJupyterClient checks the protocol layer with the real jupyter_client
// (pyzmq, libzmq): it builds the kernel with the scripted fake engine,
// installs it with InstallSpec into a temporary prefix and runs
// testdata/jupyter_client_check.py. Without jupyter_client the test is
// skipped, unless CI=true, where that is a failure.
func TestJupyterClient(t *testing.T) {
	jupytertest.Require(t, "jupyter_client, jupyter_kernel_test", "python3-jupyter-client python3-jupyter-kernel-test")
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "fakekernel")
	build := exec.Command("go", "build", "-o", bin, "./testdata/fakekernel")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the fake kernel: %v\n%s", err, out)
	}
	data := filepath.Join(tmp, "share", "jupyter")
	err := InstallSpec(filepath.Join(data, "kernels", "ipclab-fake"), Spec{
		Argv: []string{bin, "{connection_file}"}, DisplayName: "ipclab (fake engine)", Language: "go", InterruptMode: "message",
	})
	if err != nil {
		t.Fatal(err)
	}
	jupytertest.Run(t, jupytertest.Env(tmp, data, "ipclab-fake"), "testdata", "-m", "unittest", "-v", "jupyter_client_check")
}
