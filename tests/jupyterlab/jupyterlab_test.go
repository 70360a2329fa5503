// Package jupyterlab runs an ipclab notebook in JupyterLab 4's own front end
// in headless Chromium, and checks in the page what a student would see.
//
// The front end is built here from JupyterLab's npm packages (src/, pinned by
// package-lock.json, bundled by build.mjs with esbuild) and served next to
// Debian's jupyter-server by server/ipclab_jupyterlab.py, on loopback with a
// random token. It is its own Go module so that chromedp never reaches the
// go.mod notebook cells build against.
//
//	make test-jupyterlab    # npm ci (first time), npm run build, then this test
//	cd tests/jupyterlab && npm ci && npm run build && go test -v -timeout 30m .
//
// IPCLAB_JUPYTERLAB_NOTEBOOK names the notebook to run (default
// notebooks/tour.ipynb, relative to the repository); IPCLAB_SCREENSHOT_DIR
// keeps screenshots there as jupyterlab-*.png. Without Chromium, Debian's
// jupyter-server or the built front end the test is skipped, unless CI=true:
// then that is a failure.
package jupyterlab_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ipclab/ipclab/internal/jupytertest"
)

func TestJupyterLab(t *testing.T) {
	jupytertest.Require(t, "jupyter_server", "jupyter-server")
	chromium := requireChromium(t)
	build := requireBuild(t)
	tmp := t.TempDir()
	_, data := jupytertest.InstallIpclab(t, "../..", tmp)

	nbPath := os.Getenv("IPCLAB_JUPYTERLAB_NOTEBOOK")
	if nbPath == "" {
		nbPath = "notebooks/tour.ipynb"
	}
	if !filepath.IsAbs(nbPath) {
		nbPath = filepath.Join("../..", nbPath)
	}
	src, err := os.ReadFile(nbPath)
	if err != nil {
		t.Fatalf("the notebook to run: %v", err)
	}
	root := filepath.Join(tmp, "notebooks")
	os.MkdirAll(root, 0o755)
	nbName := filepath.Base(nbPath)
	os.WriteFile(filepath.Join(root, nbName), src, 0o644)

	serverDir, _ := filepath.Abs("server")
	env := append(jupytertest.Env(tmp, data, "ipclab"),
		"PYTHONPATH="+serverDir, "IPCLAB_JUPYTERLAB_BUILD="+build)
	base, token := startServer(t, env, root)

	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(filepath.Join(tmp, "chromium")),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1400, 1800))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	p := &page{t: t, ctx: browser}
	// What the page logs as an error or warning, and uncaught exceptions.
	var consoleMu sync.Mutex
	var console []string
	if err := chromedp.Listen(browser, func(ev any) {
		var line string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			line = string(ev.Type) + ": " + strings.Join(parts, " ")
		case *runtime.EventExceptionThrown:
			line = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				line += " " + ev.ExceptionDetails.Exception.Description
			}
		default:
			return
		}
		consoleMu.Lock()
		console = append(console, line)
		consoleMu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		consoleMu.Lock()
		defer consoleMu.Unlock()
		if t.Failed() {
			t.Logf("the page's console errors and warnings:\n%s", strings.Join(console, "\n"))
		}
	}()

	if err := chromedp.Do(browser, chromedp.Navigate(base+"/ipclab-lab/tree/"+nbName+"?token="+token)); err != nil {
		t.Fatalf("open the notebook in Chromium: %v", err)
	}
	p.waitFor("JupyterLab to load the notebook and the kernel to be idle", 3*time.Minute,
		`!!window.ipclabLab && ipclabLab.panel.context.isReady && ipclabLab.panel.sessionContext.session?.kernel?.status === "idle"`)

	t.Run("kernel name and logo", func(t *testing.T) {
		p.t = t
		// The indicator follows the kernel's status messages: JupyterLab's
		// own first requests (kernel_info, comm_info) make it blink busy
		// after the session is idle, so give it time to settle.
		p.within(30*time.Second, `document.querySelector(".jp-Notebook-ExecutionIndicator")?.getAttribute("data-status") === "idle"`)
		k := eval[struct {
			Toolbar     string `json:"toolbar"`
			APIName     string `json:"apiName"`
			LogoSrc     string `json:"logoSrc"`
			LogoWidth   int    `json:"logoWidth"`
			Card        string `json:"card"`
			CardIconW   int    `json:"cardIconW"`
			CardIconSrc string `json:"cardIconSrc"`
			Status      string `json:"status"`
		}](p, `(async () => {
			const specs = await (await fetch("/api/kernelspecs", {headers: {Authorization: "token " + ipclabLab.panel.sessionContext.session.serverSettings.token}})).json();
			const logo = document.querySelector(".ipclab-KernelLogo");
			await logo.decode().catch(() => {});
			const card = [...document.querySelectorAll(".jp-LauncherCard")].find(c => c.innerText.includes("ipclab"));
			const icon = card && card.querySelector("img");
			if (icon) await icon.decode().catch(() => {});
			return {
				toolbar: document.querySelector(".jp-KernelName, .jp-Toolbar-kernelName")?.innerText ?? "",
				apiName: specs.kernelspecs.ipclab?.spec?.display_name ?? "",
				logoSrc: logo.getAttribute("src") ?? "", logoWidth: logo.naturalWidth,
				card: card ? card.innerText : "", cardIconW: icon ? icon.naturalWidth : 0, cardIconSrc: icon ? icon.getAttribute("src") : "",
				status: document.querySelector(".jp-Notebook-ExecutionIndicator")?.getAttribute("data-status") ?? "",
			};
		})()`)
		t.Logf("kernel: %+v", k)
		if k.APIName != "Go (ipclab)" || !strings.Contains(k.Toolbar, "Go (ipclab)") {
			t.Errorf("kernel display name: the kernelspecs API says %q, the toolbar shows %q; want Go (ipclab)", k.APIName, k.Toolbar)
		}
		if !strings.HasSuffix(k.LogoSrc, "/kernelspecs/ipclab/logo-64x64.png") || k.LogoWidth != 64 {
			t.Errorf("toolbar logo %q decoded %d px wide, want the kernelspec's logo-64x64.png, 64 px", k.LogoSrc, k.LogoWidth)
		}
		if !strings.Contains(k.Card, "Go (ipclab)") || k.CardIconW == 0 || !strings.Contains(k.CardIconSrc, "/kernelspecs/ipclab/") {
			t.Errorf("launcher card %q with icon %q (%d px): want Go (ipclab) with the kernel's logo", k.Card, k.CardIconSrc, k.CardIconW)
		}
		if k.Status != "idle" {
			t.Errorf("the kernel status indicator says %q, want idle", k.Status)
		}
	})
	p.t = t

	t.Run("Go syntax highlighting", func(t *testing.T) {
		p.t = t
		h := eval[struct {
			Mime     string   `json:"mime"`
			Keywords []string `json:"keywords"`
			Colored  bool     `json:"colored"`
		}](p, `(() => {
			// The first code cell with a Go keyword in it (the showcase's first
			// cell has none).
			const cell = ipclabLab.panel.content.widgets.find(c => c.model.type === "code" &&
				/\b(func|import|for|return|var|type)\b/.test(c.model.sharedModel.getSource()));
			const kw = [...cell.node.querySelectorAll(".cm-content .tok-keyword")];
			const probe = document.createElement("span");
			probe.style.color = "var(--jp-mirror-editor-keyword-color)";
			document.body.appendChild(probe);
			const want = getComputedStyle(probe).color;
			probe.remove();
			return {
				mime: cell.model.mimeType,
				keywords: kw.map(e => e.textContent),
				colored: kw.length > 0 && kw.every(e => getComputedStyle(e).color === want),
			};
		})()`)
		if h.Mime != "text/x-go" {
			t.Errorf("code cells' MIME type %q, want text/x-go from the kernel's language_info", h.Mime)
		}
		goKeyword := false
		for _, k := range h.Keywords {
			switch k {
			case "import", "func", "type", "for", "return", "package", "var":
				goKeyword = true
			}
		}
		if !goKeyword || !h.Colored {
			t.Errorf("Go keywords in the first code cell that has one: tokens %q with JupyterLab's keyword colour %v; want a Go keyword in the keyword colour", h.Keywords, h.Colored)
		}
	})
	p.t = t

	t.Run("run every cell", func(t *testing.T) {
		p.t = t
		// Run every cell as a person does: the toolbar's "restart the kernel,
		// then re-run the whole notebook", confirmed in JupyterLab's dialog.
		started := time.Now()
		p.click(`.jp-Toolbar [data-command="notebook:restart-and-run"]`)
		p.click(`.jp-Dialog .jp-mod-accept`)
		p.waitFor("every cell to run", 15*time.Minute, `(() => {
			const nb = ipclabLab.panel.content;
			const k = ipclabLab.panel.sessionContext.session?.kernel;
			return k?.status === "idle" && !document.querySelector(".jp-Dialog") &&
				nb.widgets.filter(c => c.model.type === "code" && c.model.sharedModel.getSource().trim() !== "").every(c => typeof c.model.executionCount === "number" && c.promptNode.innerText.trim() !== "[*]:");
		})()`)
		t.Logf("%s ran in JupyterLab in %v", nbName, time.Since(started).Round(time.Millisecond))
		p.screenshot("notebook-top")

		nbv := eval[struct {
			Errors         []string `json:"errors"`
			ImageOutputs   int      `json:"imageOutputs"`
			DecodedImages  []string `json:"decodedImages"`
			BadImages      []string `json:"badImages"`
			HTMLOutputs    int      `json:"htmlOutputs"`
			RenderedHTML   int      `json:"renderedHTML"`
			Tables         int      `json:"tables"`
			ModelTables    int      `json:"modelTables"`
			RawHTML        []string `json:"rawHTML"`
			MarkdownCells  int      `json:"markdownCells"`
			RenderedMD     int      `json:"renderedMD"`
			RawMarkdown    []string `json:"rawMarkdown"`
			MathOutputs    int      `json:"mathOutputs"`
			TypesetMath    int      `json:"typesetMath"`
			UntypesetMath  []string `json:"untypesetMath"`
			ProgressModels int      `json:"progressModels"`
			Progress       []string `json:"progress"`
			MissingCharts  []string `json:"missingCharts"`
		}](p, `(async () => {
			const nb = ipclabLab.panel.content;
			const out = {errors: [], imageOutputs: 0, decodedImages: [], badImages: [], htmlOutputs: 0, renderedHTML: 0, tables: 0, modelTables: 0,
				rawHTML: [], markdownCells: 0, renderedMD: 0, rawMarkdown: [], mathOutputs: 0, typesetMath: 0, untypesetMath: [], progressModels: 0, progress: [], missingCharts: []};
			for (const cell of nb.widgets) {
				if (cell.model.type === "markdown") {
					out.markdownCells++;
					const r = cell.node.querySelector(".jp-MarkdownOutput");
					if (r && cell.rendered) {
						out.renderedMD++;
						if (/\*\*|^#+ /m.test(r.innerText)) out.rawMarkdown.push(r.innerText.slice(0, 80));
					}
					continue;
				}
				if (cell.model.type !== "code") continue;
				const outputs = cell.model.outputs.toJSON();
				// A cell whose value is a chart (its last line calls plots.Throughput,
				// Speedup, Latency or LatencyCDF), or that displays one, must show it.
				const lines = cell.model.sharedModel.getSource().split("\n").map(l => l.trim()).filter(l => l && !l.startsWith("//"));
				const chart = /plots\.(Throughput|Speedup|Latency|LatencyCDF)\(/;
				if ((lines.length && /^plots\./.test(lines[lines.length - 1]) && chart.test(lines[lines.length - 1])) || lines.some(l => /display\.Display\(plots\./.test(l) && chart.test(l))) {
					if (!outputs.some(o => o.data && (o.data["image/png"] || o.data["image/svg+xml"]))) out.missingCharts.push(lines[lines.length - 1]);
				}
				for (const o of outputs) {
					if (o.output_type === "error") out.errors.push(o.ename + ": " + o.evalue);
					const d = o.data || {};
					if (d["image/png"] || d["image/svg+xml"]) out.imageOutputs++;
					if (d["text/html"]) {
						out.htmlOutputs++;
						const h = [].concat(d["text/html"]).join("");
						if (h.includes("<table")) out.modelTables++;
						if (h.includes("<progress")) out.progressModels++;
					}
					if (d["text/latex"] && !d["text/html"] && !d["image/png"] && !d["image/svg+xml"]) out.mathOutputs++;
				}
				const area = cell.node.querySelector(".jp-OutputArea");
				if (!area) continue;
				for (const img of area.querySelectorAll(".jp-RenderedImage img, .jp-RenderedSVG img, .jp-RenderedSVG svg, .jp-RenderedHTMLCommon img")) {
					if (img.tagName === "IMG") {
						await img.decode().catch(() => {});
						(img.complete && img.naturalWidth > 100 && img.naturalHeight > 50 ? out.decodedImages : out.badImages).push(img.naturalWidth + "x" + img.naturalHeight);
					} else {
						const b = img.getBoundingClientRect();
						(b.width > 100 && b.height > 50 ? out.decodedImages : out.badImages).push(Math.round(b.width) + "x" + Math.round(b.height) + " svg");
					}
				}
				for (const h of area.querySelectorAll(".jp-RenderedHTMLCommon.jp-RenderedHTML")) {
					out.renderedHTML++;
					if (/<\/?(div|table|span|p|b|progress)[ >]/.test(h.innerText)) out.rawHTML.push(h.innerText.slice(0, 80));
				}
				out.tables += area.querySelectorAll(".jp-RenderedHTMLCommon table").length;
				for (const l of area.querySelectorAll(".jp-RenderedLatex")) {
					if (l.querySelector("mjx-container")) out.typesetMath++;
					else out.untypesetMath.push(l.innerText.slice(0, 80));
				}
				for (const pr of area.querySelectorAll("progress")) out.progress.push(pr.getAttribute("value"));
			}
			return out;
		})()`)
		t.Logf("the page after running %s: %+v", nbName, nbv)
		if len(nbv.Errors) > 0 {
			t.Errorf("cells failed in JupyterLab: %q", nbv.Errors)
		}
		// Every chart: each image output rendered by JupyterLab's image or SVG
		// renderer and decoded by the browser at a chart's size.
		if nbv.ImageOutputs == 0 {
			t.Errorf("%s shows no chart at all (no image/png or image/svg+xml output)", nbName)
		}
		if len(nbv.MissingCharts) > 0 {
			t.Errorf("cells that make a chart show none: %q", nbv.MissingCharts)
		}
		if len(nbv.DecodedImages) != nbv.ImageOutputs || len(nbv.BadImages) > 0 {
			t.Errorf("charts: %d image outputs, decoded %q, not decoded or too small %q", nbv.ImageOutputs, nbv.DecodedImages, nbv.BadImages)
		}
		if nbv.RenderedHTML < nbv.HTMLOutputs || nbv.Tables < nbv.ModelTables || len(nbv.RawHTML) > 0 {
			t.Errorf("HTML: %d text/html outputs (%d with tables), %d rendered (%d tables), shown as source: %q",
				nbv.HTMLOutputs, nbv.ModelTables, nbv.RenderedHTML, nbv.Tables, nbv.RawHTML)
		}
		if nbv.RenderedMD != nbv.MarkdownCells || len(nbv.RawMarkdown) > 0 {
			t.Errorf("Markdown: %d cells, %d rendered, left as source: %q", nbv.MarkdownCells, nbv.RenderedMD, nbv.RawMarkdown)
		}
		if nbv.TypesetMath < nbv.MathOutputs || len(nbv.UntypesetMath) > 0 {
			t.Errorf("LaTeX: %d text/latex outputs, %d typeset by MathJax, not typeset: %q", nbv.MathOutputs, nbv.TypesetMath, nbv.UntypesetMath)
		}
		if len(nbv.Progress) != nbv.ProgressModels {
			t.Errorf("progress displays: %d in the outputs, %d shown (%q): updates must replace, not append", nbv.ProgressModels, len(nbv.Progress), nbv.Progress)
		}
		p.eval(`(() => { const i = document.querySelector(".jp-OutputArea-output img"); if (i) i.scrollIntoView({block: "center"}); return true })()`)
		p.screenshot("chart")
	})
	p.t = t

	// The checks below run in cells of their own at the end of the notebook,
	// so they hold whatever notebook was opened above.
	t.Run("Markdown and LaTeX", func(t *testing.T) {
		p.t = t
		i := p.addCell("markdown", "## Throughput\n\n**Bold** words and $\\frac{n \\cdot s}{t}$ inline, and\n\n$$\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$$")
		p.runCell(i)
		i = p.addCell("code", "display.Math(`\\frac{\\text{bytes}}{\\text{second}}`)")
		p.runCell(i)
		m := eval[struct {
			Strong  string `json:"strong"`
			H2      string `json:"h2"`
			MDMath  int    `json:"mdMath"`
			OutMath int    `json:"outMath"`
			Raw     string `json:"raw"`
		}](p, `(async () => {
			const nb = ipclabLab.panel.content, n = nb.widgets.length;
			const md = nb.widgets[n-2].node, out = nb.widgets[n-1].node.querySelector(".jp-OutputArea");
			for (let i = 0; i < 100 && !(md.querySelectorAll("mjx-container").length >= 2 && out.querySelector("mjx-container")); i++) await new Promise(r => setTimeout(r, 100));
			return {strong: md.querySelector(".jp-MarkdownOutput strong")?.innerText ?? "", h2: md.querySelector(".jp-MarkdownOutput h2")?.innerText ?? "",
				mdMath: md.querySelectorAll("mjx-container").length, outMath: out.querySelectorAll("mjx-container").length,
				raw: md.querySelector(".jp-MarkdownOutput")?.innerText ?? ""};
		})()`)
		if m.Strong != "Bold" || !strings.HasPrefix(m.H2, "Throughput") || m.MDMath < 2 || m.OutMath < 1 || strings.Contains(m.Raw, "\\frac") {
			t.Errorf("Markdown and MathJax: %+v; want a heading, bold text and two typeset formulas in Markdown, one in display.Math's output", m)
		}
	})
	p.t = t

	// plots' charts lead with text/html (an <img> of their SVG), which
	// JupyterLab prefers; a chart as PNG alone and as SVG alone goes through
	// JupyterLab's image and SVG renderers.
	t.Run("image and SVG renderers", func(t *testing.T) {
		p.t = t
		i := p.addCell("code", "jr, err := ipc.Run(context.Background(), ipc.Experiment{Transports: []string{\"shm-ring\", \"pipe\"}, Sizes: []int{4096}, Duration: 50 * time.Millisecond, Trials: 1})\nif err != nil {\n\tpanic(err)\n}\ndisplay.Display(display.PNG(plots.Throughput(jr).PNG()))\ndisplay.Display(display.SVG(plots.Throughput(jr).SVG()))")
		p.runCell(i)
		r := eval[struct {
			PNG    []int  `json:"png"`
			SVG    []int  `json:"svg"`
			Errors string `json:"errors"`
		}](p, fmt.Sprintf(`(async () => {
			const area = ipclabLab.panel.content.widgets[%d].node.querySelector(".jp-OutputArea");
			const size = async sel => { const i = area.querySelector(sel); if (!i) return []; await i.decode().catch(() => {}); return [i.naturalWidth, i.naturalHeight]; };
			return {png: await size(".jp-RenderedImage img"), svg: await size(".jp-RenderedSVG img"),
				errors: [...area.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')].map(e => e.innerText).join("\n")};
		})()`, i))
		t.Logf("PNG chart %v px, SVG chart %v px", r.PNG, r.SVG)
		if r.Errors != "" {
			t.Fatalf("the chart cell failed: %s", r.Errors)
		}
		if len(r.PNG) != 2 || r.PNG[0] < 100 || r.PNG[1] < 50 || len(r.SVG) != 2 || r.SVG[0] < 100 || r.SVG[1] < 50 {
			t.Errorf("charts through JupyterLab's image renderer %v and SVG renderer %v: want both decoded at a chart's size", r.PNG, r.SVG)
		}
		p.eval(fmt.Sprintf(`(() => { ipclabLab.panel.content.widgets[%d].node.querySelector(".jp-RenderedImage img")?.scrollIntoView({block: "start"}); return true })()`, i))
		p.screenshot("renderers")
	})
	p.t = t

	t.Run("progress updated in place", func(t *testing.T) {
		p.t = t
		i := p.addCell("code", "for i := 0; i <= 8; i++ {\n\tdisplay.Update(\"jlab-progress\", display.HTML(fmt.Sprintf(\"<progress value=%d max=8></progress> step %d of 8\", i, i)))\n\ttime.Sleep(150 * time.Millisecond)\n}")
		// Watch the cell's output while it runs: at most one bar at any time,
		// and its value changes.
		p.eval(fmt.Sprintf(`(() => {
			const cell = ipclabLab.panel.content.widgets[%d];
			window.progressSeen = {max: 0, values: []};
			const look = () => {
				const bars = cell.node.querySelectorAll(".jp-OutputArea progress");
				progressSeen.max = Math.max(progressSeen.max, bars.length);
				bars.forEach(b => { const v = b.getAttribute("value"); if (!progressSeen.values.includes(v)) progressSeen.values.push(v); });
			};
			window.progressObserver = new MutationObserver(look);
			progressObserver.observe(cell.node, {subtree: true, childList: true, attributes: true});
			return true;
		})()`, i))
		p.runCell(i)
		seen := eval[struct {
			Max    int      `json:"max"`
			Values []string `json:"values"`
			Final  []string `json:"final"`
		}](p, fmt.Sprintf(`(() => { progressObserver.disconnect();
			return {...progressSeen, final: [...ipclabLab.panel.content.widgets[%d].node.querySelectorAll(".jp-OutputArea progress")].map(b => b.getAttribute("value"))}; })()`, i))
		t.Logf("progress: %+v", seen)
		if seen.Max != 1 || len(seen.Values) < 3 || len(seen.Final) != 1 || seen.Final[0] != "8" {
			t.Errorf("display.Update: saw at most %d bars with values %q, finally %q; want one bar updated in place, ending at 8", seen.Max, seen.Values, seen.Final)
		}
	})
	p.t = t

	t.Run("Tab completes fmt.Pri", func(t *testing.T) {
		p.t = t
		i := p.addCell("code", "")
		p.focusEditor(i)
		p.keys("fmt.Pri")
		p.keys(kb.Tab)
		shown := `[...document.querySelectorAll(".jp-Completer:not(.lm-mod-hidden) .jp-Completer-item")].some(e => e.innerText.includes("Println"))`
		if !p.within(5*time.Second, shown) {
			// JupyterLab drops a provider's reply after 1 s; the kernel's
			// first complete_reply starts gopls and can take longer. Wait
			// until the kernel answers quickly, then Tab again, as a person
			// would.
			waited := eval[[]int](p, `(async () => {
				const k = ipclabLab.panel.sessionContext.session.kernel, times = [];
				for (let i = 0; i < 60; i++) {
					const t0 = performance.now();
					await k.requestComplete({code: "fmt.Pri", cursor_pos: 7});
					times.push(Math.round(performance.now() - t0));
					if (times[times.length - 1] < 500) break;
				}
				return times;
			})()`)
			t.Logf("NOTE: the first Tab showed no completer: the kernel's complete_reply took longer than JupyterLab's 1 s provider timeout; later complete_request round trips took %v ms; pressing Tab again", waited)
			p.keys(kb.Tab)
			p.waitFor("the completer to show Println", 20*time.Second, shown)
		}
		items := eval[[]string](p, `[...document.querySelectorAll(".jp-Completer .jp-Completer-item")].map(e => e.innerText.trim().split("\n")[0])`)
		t.Logf("completer items: %q", items)
		p.screenshot("completer")
		p.keys(kb.Escape)
	})
	p.t = t

	t.Run("Shift-Tab shows ipc.Run's documentation", func(t *testing.T) {
		p.t = t
		i := p.addCell("code", "")
		p.focusEditor(i)
		p.keys("ipc.Run")
		if err := chromedp.Do(p.ctx, chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))); err != nil {
			t.Fatal(err)
		}
		p.waitFor("the inspector tooltip", time.Minute, `!!document.querySelector(".jp-Tooltip") && document.querySelector(".jp-Tooltip").innerText.length > 40`)
		tip := eval[string](p, `document.querySelector(".jp-Tooltip").innerText`)
		t.Logf("tooltip: %.300q", tip)
		if !strings.Contains(tip, "Run") || !strings.Contains(tip, "Experiment") {
			t.Errorf("the tooltip on ipc.Run = %.300q; want its signature and documentation (Run, Experiment)", tip)
		}
		p.screenshot("tooltip")
		p.keys(kb.Escape)
		p.eval(`ipclabLab.commands.execute("tooltip:dismiss").then(() => true)`)
	})
	p.t = t

	t.Run("interrupt from the toolbar", func(t *testing.T) {
		p.t = t
		i := p.addCell("code", "kept := 41")
		p.runCell(i)
		i = p.addCell("code", "for {\n}")
		p.eval(fmt.Sprintf(`(() => { const nb = ipclabLab.panel.content; nb.activeCellIndex = %d; ipclabLab.commands.execute("notebook:run-cell"); return true })()`, i))
		p.waitFor("the spinning cell to run", time.Minute, `ipclabLab.panel.sessionContext.session.kernel.status === "busy"`)
		time.Sleep(2 * time.Second) // compiled and spinning
		// The time is taken in the page, from the click to the cell's error
		// output. (The kernel's idle status alone is no sign: it also
		// follows the interrupt_request itself, on the control channel.)
		p.eval(fmt.Sprintf(`(() => {
			const cell = ipclabLab.panel.content.widgets[%d];
			window.interruptTimes = {click: performance.now()};
			const poll = setInterval(() => {
				if (cell.model.outputs.toJSON().some(o => o.output_type === "error")) { interruptTimes.error = performance.now(); clearInterval(poll); }
			}, 5);
			document.querySelector('.jp-Toolbar [data-command="notebook:interrupt-kernel"]').click();
			return true;
		})()`, i))
		p.waitFor("the interrupt to end the cell", time.Minute, `!!interruptTimes.error && ipclabLab.panel.sessionContext.session.kernel.status === "idle"`)
		took := time.Duration(eval[float64](p, `interruptTimes.error - interruptTimes.click`) * float64(time.Millisecond))
		t.Logf("interrupt button → the cell's error shown in %v", took.Round(time.Millisecond))
		if took > time.Second {
			t.Errorf("the toolbar's interrupt took %v to stop for {}, want within 1 s", took.Round(time.Millisecond))
		}
		ename := eval[string](p, fmt.Sprintf(`(() => { const o = ipclabLab.panel.content.widgets[%d].model.outputs.toJSON().find(o => o.output_type === "error"); return o ? o.ename : "" })()`, i))
		if ename != "KeyboardInterrupt" {
			t.Errorf("the interrupted cell shows error %q, want KeyboardInterrupt", ename)
		}
		i = p.addCell("code", "kept + 1")
		p.runCell(i)
		if got := p.cellText(i); got != "42" {
			t.Errorf("kept + 1 after the interrupt shows %q, want 42 (values must survive)", got)
		}
	})
	p.t = t

	t.Run("traceback colours", func(t *testing.T) {
		p.t = t
		i := p.addCell("code", "func boom() {\n\tpanic(\"boom from JupyterLab\")\n}\nboom()")
		p.runCell(i)
		tb := eval[struct {
			Text    string `json:"text"`
			Colored int    `json:"colored"`
		}](p, fmt.Sprintf(`(() => {
			const e = ipclabLab.panel.content.widgets[%d].node.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
			return e ? {text: e.innerText, colored: e.querySelectorAll('[class*="ansi-"]').length} : {text: "", colored: 0};
		})()`, i))
		t.Logf("traceback: %.400q (%d coloured spans)", tb.Text, tb.Colored)
		if !strings.Contains(tb.Text, "boom from JupyterLab") || !strings.Contains(tb.Text, "cell") || !strings.Contains(tb.Text, "line") {
			t.Errorf("traceback %q: want the panic, the cell and the line", tb.Text)
		}
		if tb.Colored == 0 || strings.Contains(tb.Text, "\x1b") || strings.Contains(tb.Text, "[31m") || strings.Contains(tb.Text, "[0m") {
			t.Errorf("traceback %q with %d ansi-* spans: want ANSI colours converted to classes, no escape codes", tb.Text, tb.Colored)
		}
		p.screenshot("traceback")
	})
	p.t = t

	t.Run("restart", func(t *testing.T) {
		p.t = t
		p.click(`.jp-Toolbar [data-command="notebook:restart-kernel"]`)
		p.click(`.jp-Dialog .jp-mod-accept`)
		p.waitFor("the restarted kernel to be idle", 2*time.Minute,
			`!document.querySelector(".jp-Dialog") && ipclabLab.panel.sessionContext.session?.kernel?.status === "idle" && !ipclabLab.panel.sessionContext.isRestarting`)
		i := p.addCell("code", "fresh := 6 * 7\nfresh")
		p.runCell(i)
		if got := p.cellText(i); got != "42" {
			t.Errorf("a cell after restart shows %q, want 42", got)
		}
		i = p.addCell("code", "kept")
		p.runCell(i)
		ename := eval[string](p, fmt.Sprintf(`(() => { const o = ipclabLab.panel.content.widgets[%d].model.outputs.toJSON().find(o => o.output_type === "error"); return o ? o.ename + ": " + o.evalue : "" })()`, i))
		t.Logf("kept after restart: %q", ename)
		if ename == "" {
			t.Errorf("kept is still defined after restart: want a fresh kernel")
		}
	})
	p.t = t
	p.screenshot("end")
}

// page drives the JupyterLab page in Chromium.
type page struct {
	t   *testing.T
	ctx context.Context
}

func eval[T any](p *page, js string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.screenshot("failed")
		p.t.Fatalf("in the page: %s: %v", js, err)
	}
	return v
}

func (p *page) eval(js string) { p.t.Helper(); eval[bool](p, js) }

// waitFor polls a JavaScript condition in the page.
func (p *page) waitFor(what string, timeout time.Duration, cond string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.screenshot("failed")
			p.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// within reports whether cond holds within d.
func (p *page) within(d time.Duration, cond string) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// click clicks the first element matching a CSS selector, as a mouse does,
// once it is visible.
func (p *page) click(sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		p.screenshot("failed")
		p.t.Fatalf("click %s: %v", sel, err)
	}
}

// keys types into the focused element through Chromium's input events.
func (p *page) keys(s string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.KeyEvent(s)); err != nil {
		p.t.Fatalf("type %q: %v", s, err)
	}
}

// addCell appends a cell of kind with source and returns its index.
func (p *page) addCell(kind, source string) int {
	p.t.Helper()
	src, _ := json.Marshal(source)
	return eval[int](p, fmt.Sprintf(`(() => {
		const nb = ipclabLab.panel.content, i = nb.widgets.length;
		nb.model.sharedModel.insertCell(i, {cell_type: %q, source: %s, metadata: {}});
		nb.activeCellIndex = i;
		return i;
	})()`, kind, src))
}

// runCell runs cell i and waits until the kernel has answered it.
func (p *page) runCell(i int) {
	p.t.Helper()
	ok := eval[bool](p, fmt.Sprintf(`(async () => {
		const nb = ipclabLab.panel.content;
		nb.activeCellIndex = %d;
		nb.mode = "command";
		return await ipclabLab.commands.execute("notebook:run-cell");
	})()`, i))
	_ = ok
	p.waitFor(fmt.Sprintf("cell %d to finish", i), 5*time.Minute, `ipclabLab.panel.sessionContext.session?.kernel?.status === "idle"`)
}

// focusEditor puts the cursor in cell i's editor, in edit mode.
func (p *page) focusEditor(i int) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => {
		const nb = ipclabLab.panel.content;
		nb.activeCellIndex = %d;
		nb.mode = "edit";
		nb.activeCell.editor.focus();
		return true;
	})()`, i))
	p.click(fmt.Sprintf(`.jp-Notebook .jp-Cell:nth-child(%d) .cm-content`, i+1))
}

// cellText is the text cell i's outputs show.
func (p *page) cellText(i int) string {
	p.t.Helper()
	return strings.TrimSpace(eval[string](p, fmt.Sprintf(`[...ipclabLab.panel.content.widgets[%d].node.querySelectorAll(".jp-OutputArea-output")].map(e => e.innerText).join("\n")`, i)))
}

// screenshot keeps a picture of the page as $IPCLAB_SCREENSHOT_DIR/jupyterlab-name.png.
func (p *page) screenshot(name string) {
	dir := os.Getenv("IPCLAB_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "jupyterlab-"+name+".png"), png, 0o644); err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
	}
}

func requireChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipOrFail(t, "no Chromium on PATH (apt-get install chromium)")
	return ""
}

// requireBuild returns the built front end's directory.
func requireBuild(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("build")
	if _, err := os.Stat(filepath.Join(dir, "index.js")); err != nil {
		skipOrFail(t, "the JupyterLab front end is not built: run `make test-jupyterlab`, or `npm ci && npm run build` in tests/jupyterlab")
	}
	return dir
}

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// startServer runs Debian's jupyter-server with the front end's extension
// on a free loopback port with a random token, and shuts it down, with its
// kernels, when the test ends.
func startServer(t *testing.T, env []string, dir string) (base, token string) {
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
	logFile, err := os.Create(filepath.Join(t.TempDir(), "jupyter-server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(jupytertest.Python, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
		fmt.Sprintf("--port=%d", port), "--port-retries=0", "--allow-root",
		"--ServerApp.token="+token, "--ServerApp.root_dir="+dir,
		"--ServerApp.jpserver_extensions", "ipclab_jupyterlab=True")
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start jupyter-server: %v", err)
	}
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// The server's own shutdown ends its kernels too.
		req, _ := http.NewRequest("POST", base+"/api/shutdown", nil)
		req.Header.Set("Authorization", "token "+token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
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
				t.Logf("jupyter-server log:\n%s", b)
			}
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequest("GET", base+"/api/status", nil)
		req.Header.Set("Authorization", "token "+token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, token
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logFile.Name())
			t.Fatalf("jupyter-server exited:\n%s", b)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("jupyter-server did not answer on %s within a minute", base)
		}
	}
}
