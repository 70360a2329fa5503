// Package readme checks that every shell command README.md shows works on
// the machine `make setup` prepares, the way a new user would type it.
//
// The commands are read from the README's ```sh blocks. Each one must match
// a rule below: run (in a scratch HOME, so ~/.local and the Jupyter dirs are
// the test's own), dry-run (make targets: `make -n` proves the target exists
// and resolves; CI runs the real ones), or not run, with the reason. A
// command no rule knows fails the test: add a rule when the README grows.
//
//	go test -v ./tests/readme    (or make test-readme)
package readme

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

type rule struct {
	prefix string
	// how: "run", "dry-run" or "skip"
	how string
	// want is text the command's output must contain (run only); why says
	// why a command is not run (skip only).
	want, why string
}

var rules = []rule{
	{prefix: "make ", how: "dry-run"},
	{prefix: "go build -o ~/.local/bin/ipclab ./cmd/ipclab", how: "run"},
	{prefix: "ipclab install --user", how: "run", want: "Installed kernel spec"},
	{prefix: "jupyter kernelspec list", how: "run", want: "ipclab"},
	{prefix: `go build -o "$CONDA_PREFIX/bin/ipclab" ./cmd/ipclab`, how: "run"},
	{prefix: "ipclab install --sys-prefix", how: "run", want: "Installed kernel spec"},
	{prefix: "conda ", how: "skip", why: "conda is not part of Debian; the test sets CONDA_PREFIX as `conda activate` does and checks environment.yml"},
	{prefix: "jupyter lab", how: "skip", why: "JupyterLab's server is not packaged by Debian 12; tests/jupyterlab runs JupyterLab's front end (make test-jupyterlab)"},
	{prefix: "ipclab assign ", how: "skip", why: "it writes into the source tree; cmd/ipclab's TestAssignCommand runs `ipclab assign` on the same notebooks and checks the released ones match byte for byte"},
	{prefix: "ipclab grade ", how: "skip", why: "grading takes minutes; cmd/ipclab's TestGradeAssignments runs `ipclab grade --source … -o … --jobs 2` on the assignments and their wrong submissions"},
	{prefix: "sudo ", how: "skip", why: "a course server's system-wide install (every user's); tests/hub (make test-hub) does the same steps as root: apt packages, ipclab and a read-only module cache, `ipclab install --prefix /usr/local --env …`"},
}

func TestReadmeCommands(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	if testing.Short() && !ci {
		t.Skip("builds ipclab twice; skipped in -short mode")
	}
	if _, err := exec.LookPath("jupyter"); err != nil {
		msg := "no jupyter on PATH: run make setup (Debian's jupyter-client provides `jupyter kernelspec`)"
		if ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	root, _ := filepath.Abs("../..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := shellCommands(string(readme))
	if len(cmds) == 0 {
		t.Fatal("no ```sh blocks with commands in README.md")
	}

	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	conda := filepath.Join(tmp, "conda")
	os.MkdirAll(filepath.Join(home, ".local", "bin"), 0o755)
	os.MkdirAll(filepath.Join(conda, "bin"), 0o755)
	env := scratchEnv(t, home, conda)

	ran := 0
	for _, c := range cmds {
		r, ok := match(c)
		if !ok {
			t.Errorf("README.md shows %q, which no rule in tests/readme/readme_test.go knows: add one (run it, dry-run it, or say why not)", c)
			continue
		}
		switch r.how {
		case "skip":
			t.Logf("not run: %s: %s", c, r.why)
		case "dry-run":
			out, err := command(root, env, "make -n "+strings.TrimPrefix(c, "make ")).CombinedOutput()
			if err != nil {
				t.Errorf("%s: the Makefile cannot make it (make -n: %v)\n%s", c, err, out)
			} else {
				t.Logf("make -n ok: %s", c)
			}
		case "run":
			ran++
			out, err := command(root, env, c).CombinedOutput()
			t.Logf("$ %s\n%s", c, out)
			if err != nil {
				t.Errorf("%s failed: %v\n%s", c, err, out)
			} else if r.want != "" && !strings.Contains(string(out), r.want) {
				t.Errorf("%s printed no %q:\n%s", c, r.want, out)
			}
		}
	}
	if ran == 0 {
		t.Error("no README command was run")
	}

	// What the commands were for: a kernel spec where Jupyter finds it.
	for _, spec := range []string{
		filepath.Join(home, ".local", "share", "jupyter", "kernels", "ipclab", "kernel.json"),
		filepath.Join(conda, "share", "jupyter", "kernels", "ipclab", "kernel.json"),
	} {
		if _, err := os.Stat(spec); err != nil && hasRuleFor(cmds, spec) {
			t.Errorf("after the README's commands: %v", err)
		}
	}

	// The conda route's environment.yml holds what the README says it does.
	env2, err := os.ReadFile(filepath.Join(root, "environment.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range []string{"jupyterlab", "go ", "c-compiler"} {
		if !strings.Contains(string(env2), "- "+dep) {
			t.Errorf("environment.yml does not list %s", dep)
		}
	}
}

// TestReadmeLinks checks that the files the README links to or shows exist.
func TestReadmeLinks(t *testing.T) {
	root, _ := filepath.Abs("../..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\]\(([^)#\s]+)\)`).FindAllStringSubmatch(string(readme), -1) {
		link := m[1]
		if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, link)); err != nil {
			t.Errorf("README.md links to %s, which does not exist", link)
		}
	}
}

// hasRuleFor reports whether the README ran the command that makes spec.
func hasRuleFor(cmds []string, spec string) bool {
	for _, c := range cmds {
		if strings.Contains(spec, "conda") && strings.HasPrefix(c, "ipclab install --sys-prefix") ||
			!strings.Contains(spec, "conda") && strings.HasPrefix(c, "ipclab install --user") {
			return true
		}
	}
	return false
}

// shellCommands returns the command lines of the README's sh blocks, with
// their trailing comments removed.
func shellCommands(readme string) []string {
	var cmds []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && (trimmed == "```sh" || trimmed == "```bash" || trimmed == "```shell"):
			in = true
		case in && strings.HasPrefix(trimmed, "```"):
			in = false
		case in:
			// A line ending in a backslash goes on on the next one.
			for strings.HasSuffix(trimmed, "\\") && sc.Scan() {
				trimmed = strings.TrimSuffix(trimmed, "\\") + " " + strings.TrimSpace(sc.Text())
			}
			if i := strings.Index(trimmed, " #"); i >= 0 {
				trimmed = strings.TrimSpace(trimmed[:i])
			}
			if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
				cmds = append(cmds, trimmed)
			}
		}
	}
	return cmds
}

func match(c string) (rule, bool) {
	for _, r := range rules {
		if strings.HasPrefix(c, r.prefix) {
			return r, true
		}
	}
	return rule{}, false
}

func command(dir string, env []string, line string) *exec.Cmd {
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir, cmd.Env = dir, env
	return cmd
}

// scratchEnv is the user's environment with HOME, ~/.local/bin and the
// Jupyter dirs moved to the test's own, as after `conda activate` for the
// conda route, keeping Go's caches so builds stay quick.
func scratchEnv(t *testing.T, home, conda string) []string {
	goenv := map[string]string{}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		goenv[k] = strings.TrimSpace(string(out))
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "PATH", "JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR",
			"CONDA_PREFIX", "GOCACHE", "GOMODCACHE", "GOPATH", "XDG_DATA_HOME", "XDG_CACHE_HOME":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		// conda activate puts the environment's bin first.
		"PATH="+filepath.Join(conda, "bin")+":"+filepath.Join(home, ".local", "bin")+":"+os.Getenv("PATH"),
		"CONDA_PREFIX="+conda,
		"JUPYTER_PATH="+filepath.Join(conda, "share", "jupyter"),
		"GOCACHE="+goenv["GOCACHE"], "GOMODCACHE="+goenv["GOMODCACHE"], "GOPATH="+goenv["GOPATH"],
	)
}
