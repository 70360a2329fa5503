package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// findGopls locates gopls, which answers completion and inspection when it
// is installed (go install golang.org/x/tools/gopls@latest).
func findGopls() string {
	if p, err := exec.LookPath("gopls"); err == nil {
		return p
	}
	for _, dir := range []string{os.Getenv("GOBIN"), filepath.Join(os.Getenv("GOPATH"), "bin"), filepath.Join(os.Getenv("HOME"), "go", "bin")} {
		if dir == "" {
			continue
		}
		if p := filepath.Join(dir, "gopls"); isExecutable(p) {
			return p
		}
	}
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// goplsClient speaks the Language Server Protocol to one gopls process over
// its standard input and output. The session's cells are laid out for it as
// one package in dir: a file per earlier cell and the cell being edited.
type goplsClient struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	dir string

	mu       sync.Mutex
	nextID   int
	pending  map[int]chan json.RawMessage
	versions map[string]int // open documents → version
	dead     chan struct{}
	// warm is set once gopls has answered a request: until then it is
	// still loading the session's packages (seconds), so requests wait only
	// goplsColdWait and the go/types fallback answers meanwhile.
	warm atomic.Bool
}

// goplsColdWait is how long a request waits for a gopls that has not
// answered yet. Front ends drop a completion that takes longer than about a
// second (JupyterLab after 1 s), so the first Tab after a kernel starts gets
// go/types' answer rather than nothing; gopls goes on loading meanwhile.
const goplsColdWait = 700 * time.Millisecond

type lspMessage struct {
	JSONRPC string           `json:"jsonrpc"`
	ID      *json.RawMessage `json:"id,omitempty"`
	Method  string           `json:"method,omitempty"`
	Params  any              `json:"params,omitempty"`
	Result  json.RawMessage  `json:"result,omitempty"`
	Error   *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func startGopls(path, moduleDir string, env []string) (*goplsClient, error) {
	dir := filepath.Join(moduleDir, "gopls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(path, "serve")
	cmd.Dir = moduleDir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start gopls: %w", err)
	}
	g := &goplsClient{cmd: cmd, in: in, dir: dir, pending: map[int]chan json.RawMessage{}, versions: map[string]int{}, dead: make(chan struct{})}
	go g.read(bufio.NewReader(out))
	go func() { cmd.Wait(); close(g.dead) }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root := "file://" + moduleDir
	_, err = g.call(ctx, "initialize", map[string]any{
		"processId":        os.Getpid(),
		"rootUri":          root,
		"workspaceFolders": []map[string]string{{"uri": root, "name": "ipclab"}},
		"capabilities": map[string]any{
			"textDocument": map[string]any{
				"completion": map[string]any{"completionItem": map[string]any{"snippetSupport": false}},
				"hover":      map[string]any{"contentFormat": []string{"plaintext"}},
			},
		},
	})
	if err != nil {
		g.close()
		return nil, fmt.Errorf("gopls initialize: %w", err)
	}
	g.notify("initialized", map[string]any{})
	return g, nil
}

func (g *goplsClient) close() {
	g.notify("exit", nil)
	g.in.Close()
	select {
	case <-g.dead:
	case <-time.After(time.Second):
		syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
		<-g.dead
	}
}

func (g *goplsClient) write(m lspMessage) error {
	m.JSONRPC = "2.0"
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, err = fmt.Fprintf(g.in, "Content-Length: %d\r\n\r\n%s", len(b), b)
	return err
}

func (g *goplsClient) notify(method string, params any) {
	g.write(lspMessage{Method: method, Params: params})
}

func (g *goplsClient) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	g.mu.Lock()
	g.nextID++
	id := g.nextID
	ch := make(chan json.RawMessage, 1)
	g.pending[id] = ch
	g.mu.Unlock()
	raw := json.RawMessage(strconv.Itoa(id))
	if err := g.write(lspMessage{ID: &raw, Method: method, Params: params}); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-g.dead:
		return nil, errors.New("gopls exited")
	case <-ctx.Done():
		g.mu.Lock()
		delete(g.pending, id)
		g.mu.Unlock()
		return nil, ctx.Err()
	}
}

// read dispatches gopls's messages: responses to their callers; requests
// from the server get an empty answer, which is all this client needs.
func (g *goplsClient) read(r *bufio.Reader) {
	for {
		length := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSpace(line)
			if line == "" {
				break
			}
			if v, ok := strings.CutPrefix(line, "Content-Length:"); ok {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		var m lspMessage
		if json.Unmarshal(body, &m) != nil || m.ID == nil {
			continue
		}
		if m.Method != "" {
			var result any
			if m.Method == "workspace/configuration" {
				result = []any{map[string]any{}}
			}
			b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": result})
			g.mu.Lock()
			fmt.Fprintf(g.in, "Content-Length: %d\r\n\r\n%s", len(b), b)
			g.mu.Unlock()
			continue
		}
		id, _ := strconv.Atoi(string(*m.ID))
		g.mu.Lock()
		ch := g.pending[id]
		delete(g.pending, id)
		g.mu.Unlock()
		if ch != nil {
			if m.Error != nil {
				ch <- nil
			} else {
				ch <- m.Result
			}
		}
	}
}

// sync writes the files to disk and tells gopls about their contents.
func (g *goplsClient) sync(files map[string]string) {
	g.mu.Lock()
	stale := map[string]bool{}
	for name := range g.versions {
		stale[name] = true
	}
	g.mu.Unlock()
	for name, text := range files {
		delete(stale, name)
		p := filepath.Join(g.dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		uri := "file://" + p
		g.mu.Lock()
		v, open := g.versions[name]
		g.versions[name] = v + 1
		g.mu.Unlock()
		if !open {
			g.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": "go", "version": 1, "text": text}})
		} else {
			g.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": v + 1},
				"contentChanges": []map[string]any{{"text": text}}})
		}
	}
	for name := range stale {
		p := filepath.Join(g.dir, name)
		os.Remove(p)
		g.notify("textDocument/didClose", map[string]any{"textDocument": map[string]any{"uri": "file://" + p}})
		g.mu.Lock()
		delete(g.versions, name)
		g.mu.Unlock()
	}
}

// position converts a byte offset of text to an LSP position (UTF-16).
func position(text string, off int) map[string]int {
	line, start := 0, 0
	for i := 0; i < off && i < len(text); i++ {
		if text[i] == '\n' {
			line++
			start = i + 1
		}
	}
	char := 0
	for _, r := range text[start:min(off, len(text))] {
		char += len(utf16.Encode([]rune{r}))
	}
	return map[string]int{"line": line, "character": char}
}

// offsetOf converts an LSP position back to a byte offset of text.
func offsetOf(text string, line, char int) int {
	off := 0
	for l := 0; l < line && off < len(text); l++ {
		i := strings.IndexByte(text[off:], '\n')
		if i < 0 {
			return len(text)
		}
		off += i + 1
	}
	for units := 0; units < char && off < len(text); {
		r, n := utf8.DecodeRuneInString(text[off:])
		units += len(utf16.Encode([]rune{r}))
		off += n
	}
	return off
}

// goplsView lays out code for gopls and returns the files, the cell file's
// text and where the cursor (a byte offset in code) falls in it.
func (e *Engine) goplsView(code string, off int) (files map[string]string, text string, at int) {
	goCode := stripMagics(code)
	items, _ := splitCell(goCode)
	kind := itemStmt
	for _, it := range items {
		if off >= it.start && off <= it.end {
			kind = it.kind
		}
	}
	declSrc, stmtSrc := copies(goCode, items)
	e.mu.Lock()
	tr := &translator{w: e.w, src: goCode}
	src := tr.sources(declSrc, stmtSrc, map[string]bool{}, nil, nil)
	e.mu.Unlock()
	files = map[string]string{}
	for n, t := range src.world {
		files[n] = t
	}
	files[checkFile] = src.text
	base := src.offB
	switch kind {
	case itemImport:
		base = src.offI
	case itemDecl:
		base = src.offA
	}
	return files, src.text, base + off
}

// goplsAsk sends gopls a request about the position of cursor in code;
// false when gopls is not running or has no answer.
func (e *Engine) goplsAsk(method, code string, cursor int) (json.RawMessage, bool) {
	g := e.goplsSession()
	if g == nil {
		return nil, false
	}
	defer e.goplsRelease()
	files, text, at := e.goplsView(code, byteOffset(code, cursor))
	g.sync(files)
	wait := 20 * time.Second
	if !g.warm.Load() {
		wait = goplsColdWait
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	raw, err := g.call(ctx, method, map[string]any{
		"textDocument": map[string]string{"uri": "file://" + filepath.Join(g.dir, checkFile)},
		"position":     position(text, at),
	})
	if err != nil {
		return nil, false
	}
	g.warm.Store(true)
	if raw == nil || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

func (e *Engine) goplsComplete(code string, cursor int) (Completion, bool) {
	raw, ok := e.goplsAsk("textDocument/completion", code, cursor)
	if !ok {
		return Completion{}, false
	}
	var list struct {
		Items []struct {
			Label    string `json:"label"`
			TextEdit *struct {
				NewText string `json:"newText"`
			} `json:"textEdit"`
		} `json:"items"`
	}
	if json.Unmarshal(raw, &list) != nil {
		return Completion{}, false
	}
	_, prefix, start := wordBefore(code, byteOffset(code, cursor))
	res := Completion{CursorStart: runeCount(code[:start]), CursorEnd: cursor, Metadata: map[string]any{"ipclab_source": "gopls"}}
	seen := map[string]bool{}
	for _, it := range list.Items {
		label := it.Label
		if it.TextEdit != nil {
			label = it.TextEdit.NewText
		}
		if strings.HasPrefix(label, "Ξ") || label == runFunc || !strings.HasPrefix(label, prefix) || seen[label] {
			continue
		}
		seen[label] = true
		res.Matches = append(res.Matches, label)
	}
	return res, true
}

func (e *Engine) goplsHover(code string, cursor int) (string, bool) {
	raw, ok := e.goplsAsk("textDocument/hover", code, cursor)
	if !ok {
		return "", false
	}
	var h struct {
		Contents struct {
			Value string `json:"value"`
		} `json:"contents"`
	}
	if json.Unmarshal(raw, &h) != nil || strings.TrimSpace(h.Contents.Value) == "" {
		return "", false
	}
	return h.Contents.Value, true
}

// goplsIdle is how long gopls may sit unused before the kernel stops it to
// give its memory back (about 100 MB, more than the kernel and the session
// process together); the next completion or inspection starts it again.
// IPCLAB_GOPLS_IDLE (a duration, "0" for never) overrides it.
const goplsIdle = 3 * time.Minute

func goplsIdleTime() time.Duration {
	if v := os.Getenv("IPCLAB_GOPLS_IDLE"); v != "" {
		if d, err := time.ParseDuration(v); err == nil || v == "0" {
			return d
		}
	}
	return goplsIdle
}

// goplsSession returns the running gopls, starting it on first use (an
// idle kernel runs none) and again after it was stopped for idling; nil when
// it is not installed or did not start (the go/types fallback answers then).
func (e *Engine) goplsSession() *goplsClient {
	e.goplsMu.Lock()
	defer e.goplsMu.Unlock()
	if e.goplsClosed || e.goplsFailed {
		return nil
	}
	if e.gopls != nil && closed(e.gopls.dead) {
		e.gopls = nil
	}
	if e.gopls == nil {
		path := e.opts.Gopls
		if path == "" {
			path = findGopls()
		}
		if path == "" || path == "none" {
			e.goplsFailed = true
			return nil
		}
		// GO_TELEMETRY_CHILD=2 keeps gopls from starting its telemetry
		// crash monitor, a second process of 30 MB per kernel.
		g, err := startGopls(path, e.ws, append(e.goEnv(), "GO_TELEMETRY_CHILD=2"))
		if err != nil {
			e.log.Warn("gopls did not start; completion uses go/types", "err", err)
			e.goplsFailed = true
			return nil
		}
		e.log.Debug("gopls started")
		e.gopls = g
	}
	if e.goplsTimer != nil {
		e.goplsTimer.Stop() // in use: goplsRelease starts the count again
	}
	return e.gopls
}

// goplsRelease is called when a request to gopls is answered: gopls stops
// after goplsIdle without another.
func (e *Engine) goplsRelease() {
	idle := goplsIdleTime()
	e.goplsMu.Lock()
	defer e.goplsMu.Unlock()
	if idle <= 0 || e.goplsClosed {
		return
	}
	if e.goplsTimer == nil {
		e.goplsTimer = time.AfterFunc(idle, e.stopIdleGopls)
	} else {
		e.goplsTimer.Reset(idle)
	}
}

// stopIdleGopls stops gopls after goplsIdle without a request.
func (e *Engine) stopIdleGopls() {
	e.goplsMu.Lock()
	g := e.gopls
	e.gopls = nil
	e.goplsMu.Unlock()
	if g != nil {
		e.log.Debug("gopls stopped after idling", "idle", goplsIdleTime())
		g.close()
	}
}

// closeGopls stops gopls for good (the engine is closing).
func (e *Engine) closeGopls() {
	e.goplsMu.Lock()
	e.goplsClosed = true
	g := e.gopls
	e.gopls = nil
	if e.goplsTimer != nil {
		e.goplsTimer.Stop()
	}
	e.goplsMu.Unlock()
	if g != nil {
		g.close()
	}
}
