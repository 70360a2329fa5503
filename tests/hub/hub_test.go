// Package hub runs ipclab under Debian's JupyterHub with real system users
// (test_hub.py, through Debian's /usr/bin/python3): three students run a
// cross-process experiment at once, student A probes everything student B's
// live kernel holds, crash sweeps, ports, and runaway cells are checked, and
// nothing of the students may be left at the end.
//
//	sudo go test -v -timeout 60m ./tests/hub/      # or make test-hub
//
// It needs root (useradd, PAM logins, LocalProcessSpawner) and the Debian
// packages jupyterhub and node-configurable-http-proxy. Without them it is
// skipped, except under CI=true, where that is a failure. It is skipped in
// -short mode (it builds Go for three users), again unless CI=true.
package hub

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipclab/ipclab/internal/jupytertest"
)

func TestHub(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	need := func(ok bool, msg string) {
		t.Helper()
		if ok {
			return
		}
		if ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	need(!testing.Short() || ci, "starts JupyterHub and builds Go for three users; skipped in -short mode")
	need(os.Geteuid() == 0, "needs root: it creates system users and runs JupyterHub's LocalProcessSpawner")
	_, err := exec.LookPath("configurable-http-proxy")
	need(err == nil, "configurable-http-proxy is missing (apt-get install jupyterhub node-configurable-http-proxy)")
	out, err := exec.Command(jupytertest.Python, "-c", "import jupyterhub, tornado").CombinedOutput()
	need(err == nil, "Debian's jupyterhub is missing (apt-get install jupyterhub): "+string(out))
	for _, tool := range []string{"useradd", "userdel", "chpasswd", "ipcrm"} {
		_, err := exec.LookPath(tool)
		need(err == nil, tool+" is missing")
	}

	// Everything the students' processes read lives in a directory they can
	// read: the ipclab binary and a Go module cache holding ipclab's
	// dependencies, read-only for them (GOMODCACHE, GOPROXY=off in the
	// kernel spec), as a teacher sets up a class.
	dir, err := os.MkdirTemp("", "ipclab-hubtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("../..")
	bin := filepath.Join(dir, "ipclab")
	run(t, root, nil, "go", "build", "-o", bin, "./cmd/ipclab")
	mods := filepath.Join(dir, "gomod")
	proxy := strings.TrimSpace(run(t, root, nil, "go", "env", "GOPROXY"))
	if cache := strings.TrimSpace(run(t, root, nil, "go", "env", "GOMODCACHE")); cache != "" {
		proxy = "file://" + filepath.Join(cache, "cache", "download") + "," + proxy
	}
	run(t, root, []string{"GOMODCACHE=" + mods, "GOPROXY=" + proxy, "GOFLAGS=-mod=mod"}, "go", "mod", "download")
	t.Cleanup(func() { // module files are read-only: let go remove them
		clean := exec.Command("go", "clean", "-modcache")
		clean.Env = append(os.Environ(), "GOMODCACHE="+mods)
		clean.Run()
	})
	var tag [3]byte
	rand.Read(tag[:])
	env := append(os.Environ(),
		"IPCLAB_HUBTEST_TAG="+hex.EncodeToString(tag[:]),
		"IPCLAB_HUBTEST_DIR="+dir,
		"IPCLAB_BIN="+bin,
		"IPCLAB_GOMODCACHE="+mods,
		"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1",
	)
	// However the script ends, stop the hub and remove the users, what
	// they own and the kernel spec (test_hub.cleanup_all).
	t.Cleanup(func() {
		cmd := exec.Command(jupytertest.Python, "-c", "import test_hub; test_hub.cleanup_all()")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("clean-up: %v\n%s", err, out)
		}
	})
	args := []string{"-m", "unittest", "-v"}
	args = append(args, strings.Fields(os.Getenv("IPCLAB_UNITTEST_ARGS"))...)
	jupytertest.Run(t, env, ".", append(args, "test_hub")...)
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, msg)
	}
	return string(out)
}
