// Package browser runs ipclab behind a real front end: Debian's Jupyter
// Notebook server on loopback and headless Chromium driven with chromedp.
// It is its own module so that chromedp never reaches the go.mod that
// notebook cells build against.
//
//	cd tests/browser && go test -v -timeout 20m .
//
// IPCLAB_SCREENSHOT=FILE.png keeps a screenshot of the executed tour.
// Without Chromium or Jupyter Notebook the test is skipped, unless CI=true:
// then that is a failure.
package browser_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ipclab/ipclab/internal/jupytertest"
)

func TestTourInChromium(t *testing.T) {
	jupytertest.Require(t, "notebook", "jupyter-notebook")
	chromium := requireChromium(t)
	tmp := t.TempDir()
	_, data := jupytertest.InstallIpclab(t, "../..", tmp)
	nbDir := filepath.Join(tmp, "notebooks")
	os.MkdirAll(nbDir, 0o755)
	tour, err := os.ReadFile("../../notebooks/tour.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(nbDir, "tour.ipynb"), tour, 0o644)

	base, token := startNotebookServer(t, jupytertest.Env(tmp, data, "ipclab"), nbDir)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(filepath.Join(tmp, "chromium")),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1280, 1600))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	if err := chromedp.Do(browser, chromedp.Navigate(base+"/notebooks/tour.ipynb?token="+token)); err != nil {
		t.Fatalf("open the notebook in Chromium: %v", err)
	}
	waitFor(t, browser, "the kernel to connect", 2*time.Minute,
		`typeof Jupyter !== "undefined" && !!Jupyter.notebook && !!Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()`)

	start := time.Now()
	eval[bool](t, browser, `Jupyter.notebook.clear_all_output(); Jupyter.notebook.execute_all_cells(); true`)
	waitFor(t, browser, "every cell to run", 10*time.Minute,
		`!!document.querySelector(".output_error") || Jupyter.notebook.get_cells().filter(c => c.cell_type === "code").every(c => typeof c.input_prompt_number === "number")`)
	t.Logf("the tour ran in %v", time.Since(start).Round(time.Millisecond))
	if errText := eval[string](t, browser, `[...document.querySelectorAll(".output_error")].map(e => e.innerText).join("\n")`); errText != "" {
		t.Fatalf("a cell failed in the browser:\n%s", errText)
	}

	// What a reader sees: values, rendered Markdown, one progress bar updated
	// in place, and charts the browser decoded.
	page := eval[struct {
		Outputs  []string `json:"outputs"`
		Strong   []string `json:"strong"`
		Progress []string `json:"progress"`
		Images   int      `json:"images"`
	}](t, browser, `({
		outputs: Jupyter.notebook.get_cells().filter(c => c.cell_type === "code").map(c => c.output_area.element.text()),
		strong: [...document.querySelectorAll(".output_area strong")].map(e => e.innerText),
		progress: [...document.querySelectorAll(".output_area progress")].map(e => e.getAttribute("value")),
		images: [...document.querySelectorAll(".output_area img")].filter(i => i.complete && i.naturalWidth > 100).length,
	})`)
	if !contains(page.Outputs, "Hello from go1.") || !contains(page.Outputs, "15") {
		t.Errorf("outputs do not show the hello line and total 15: %q", page.Outputs)
	}
	if !contains(page.Strong, "Markdown") {
		t.Errorf("display.Markdown was not rendered as HTML: strong elements %q", page.Strong)
	}
	if len(page.Progress) != 1 || page.Progress[0] != "4" {
		t.Errorf("display.Update should leave one progress bar at 4, found %q", page.Progress)
	}
	if page.Images < 2 {
		t.Errorf("want the throughput and speed-up charts decoded by the browser, found %d images", page.Images)
	}
	eval[bool](t, browser, `document.querySelector(".output_area img").scrollIntoView(); true`)
	screenshot(t, browser)

	// The toolbar's interrupt button stops a spinning cell; values stay.
	eval[bool](t, browser, `(() => { const c = Jupyter.notebook.insert_cell_at_bottom("code"); c.set_text("for {}"); c.execute(); return true })()`)
	waitFor(t, browser, "the spinning cell to start", time.Minute, `Jupyter.notebook.kernel_busy === true || document.querySelector("#kernel_indicator_icon.kernel_busy_icon") !== null`)
	time.Sleep(2 * time.Second) // let it build and spin
	clicked := time.Now()
	eval[bool](t, browser, `document.querySelector('[data-jupyter-action="jupyter-notebook:interrupt-kernel"]').click(); true`)
	waitFor(t, browser, "the interrupt to end the cell", time.Minute, `[...document.querySelectorAll(".output_error")].some(e => e.innerText.includes("KeyboardInterrupt"))`)
	t.Logf("interrupt button → KeyboardInterrupt shown after %v", time.Since(clicked).Round(time.Millisecond))

	eval[bool](t, browser, `(() => { const c = Jupyter.notebook.insert_cell_at_bottom("code"); c.set_text("calls + 100"); c.execute(); return true })()`)
	waitFor(t, browser, "the cell after the interrupt", time.Minute, `(() => { const cs = Jupyter.notebook.get_cells(); const c = cs[cs.length - 1]; return typeof c.input_prompt_number === "number" })()`)
	last := eval[string](t, browser, `(() => { const cs = Jupyter.notebook.get_cells(); return cs[cs.length - 1].output_area.element.find(".output_subarea").text() })()`)
	if strings.TrimSpace(last) != "101" {
		t.Errorf("calls + 100 after the interrupt = %q, want 101 (values must survive)", last)
	}
}

func requireChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium on PATH (apt-get install chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startNotebookServer runs Debian's Jupyter Notebook on a free loopback port
// and shuts it down, with its kernels, when the test ends.
func startNotebookServer(t *testing.T, env []string, dir string) (base, token string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	b := make([]byte, 16)
	rand.Read(b)
	token = hex.EncodeToString(b)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "notebook.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(jupytertest.Python, "-m", "notebook", "--no-browser", "--ip=127.0.0.1",
		fmt.Sprintf("--port=%d", port), "--port-retries=0", "--allow-root",
		"--NotebookApp.token="+token, "--notebook-dir="+dir)
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start jupyter notebook: %v", err)
	}
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// The server's own shutdown ends its kernels too.
		if resp, err := http.Post(base+"/api/shutdown?token="+token, "", nil); err == nil {
			resp.Body.Close()
		}
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("notebook server log:\n%s", b)
			}
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(base + "/api/status?token=" + token)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, token
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logFile.Name())
			t.Fatalf("jupyter notebook exited:\n%s", b)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("jupyter notebook did not answer on %s within a minute", base)
		}
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("in the page: %s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition in the page.
func waitFor(t *testing.T, ctx context.Context, what string, timeout time.Duration, cond string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			screenshot(t, ctx)
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// screenshot keeps a picture of the page where IPCLAB_SCREENSHOT says.
func screenshot(t *testing.T, ctx context.Context) {
	path := os.Getenv("IPCLAB_SCREENSHOT")
	if path == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
	}
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
