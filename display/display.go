// Package display shows rich output (HTML, images, charts, Markdown, LaTeX,
// JSON) under the notebook cell that calls it.
//
// The names follow gophernotes so that its notebooks run unchanged: build a
// Data with HTML, Markdown, Math, Latex, JSON, PNG, JPEG, SVG, Image or MIME,
// and either leave it as the cell's last expression or pass it to Display.
// Any value renders itself when its type has methods such as HTML() string,
// SVG() string, PNG() []byte or Markdown() string (see Bundle).
// Update replaces an earlier output in place (progress, live tables) and
// Clear empties the cell's output.
//
// Outside the ipclab kernel (a test binary, a program run from a shell),
// output falls back to its text/plain form on standard output. The package
// never imports the kernel: it talks to it through standard output.
package display

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"os"
	"sync"

	"github.com/ipclab/ipclab/internal/cellio"
)

// MIMEMap maps a MIME type to its content.
type MIMEMap = map[string]any

// Data is one rich output: its content by MIME type, metadata, and transient
// fields such as display_id.
type Data struct {
	Data      MIMEMap
	Metadata  MIMEMap
	Transient MIMEMap
}

// MIME types with a constructor of their own.
const (
	MIMETypeHTML       = "text/html"
	MIMETypeJavaScript = "application/javascript"
	MIMETypeJPEG       = "image/jpeg"
	MIMETypeJSON       = "application/json"
	MIMETypeLatex      = "text/latex"
	MIMETypeMarkdown   = "text/markdown"
	MIMETypePNG        = "image/png"
	MIMETypePDF        = "application/pdf"
	MIMETypeSVG        = "image/svg+xml"
	MIMETypeText       = "text/plain"
)

// Any returns data shown as the given MIME type. Binary content ([]byte) is
// base64-encoded as Jupyter expects.
func Any(mimeType string, content any) Data {
	if b, ok := content.([]byte); ok && !isTextual(mimeType) {
		content = base64.StdEncoding.EncodeToString(b)
	} else if ok {
		content = string(b)
	}
	return Data{Data: MIMEMap{mimeType: content}}
}

func isTextual(mimeType string) bool {
	switch mimeType {
	case MIMETypePNG, MIMETypeJPEG, MIMETypePDF:
		return false
	}
	return true
}

// HTML returns html to be rendered as HTML.
func HTML(html string) Data { return withText(Any(MIMETypeHTML, html), "HTML") }

// Markdown returns markdown to be rendered as Markdown.
func Markdown(markdown string) Data { return withText(Any(MIMETypeMarkdown, markdown), markdown) }

// Latex returns LaTeX source (with its own $ delimiters) to be typeset.
func Latex(latex string) Data { return withText(Any(MIMETypeLatex, latex), latex) }

// Math returns a LaTeX formula to be typeset as display math.
func Math(latex string) Data { return withText(Any(MIMETypeLatex, "$$"+latex+"$$"), latex) }

// JSON returns a JSON document to be shown as a tree.
func JSON(v map[string]any) Data { return withText(Any(MIMETypeJSON, v), fmt.Sprint(v)) }

// JavaScript returns JavaScript to be run by the front end (where allowed).
func JavaScript(js string) Data { return Any(MIMETypeJavaScript, js) }

// PNG returns a PNG image.
func PNG(img []byte) Data { return withText(Any(MIMETypePNG, img), "PNG image") }

// JPEG returns a JPEG image.
func JPEG(img []byte) Data { return withText(Any(MIMETypeJPEG, img), "JPEG image") }

// SVG returns an SVG image.
func SVG(svg string) Data { return withText(Any(MIMETypeSVG, svg), "SVG image") }

// Text returns plain text.
func Text(text string) Data { return Any(MIMETypeText, text) }

// Image returns img encoded as PNG. An image that cannot be encoded is shown
// as the encoding error.
func Image(img image.Image) Data {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Text(fmt.Sprintf("display: encode image as PNG: %v", err))
	}
	b := img.Bounds()
	d := PNG(buf.Bytes())
	d.Metadata = MIMEMap{MIMETypePNG: MIMEMap{"width": b.Dx(), "height": b.Dy()}}
	return d
}

// MIME returns a bundle with several representations of one output, and its
// metadata; the front end picks the richest it can show.
func MIME(data, metadata MIMEMap) Data {
	return Data{Data: data, Metadata: metadata}
}

// PDF returns a PDF document.
func PDF(pdf []byte) Data { return withText(Any(MIMETypePDF, pdf), "PDF document") }

// MakeData returns content shown as mimeType, with its fmt.Sprint as the
// plain-text fallback (gophernotes' name).
func MakeData(mimeType string, content any) Data {
	d := Any(mimeType, content)
	if mimeType != MIMETypeText {
		d.Data[MIMETypeText] = fmt.Sprint(content)
	}
	return d
}

// MakeData3 returns content shown as mimeType with the given plain-text
// fallback (gophernotes' name).
func MakeData3(mimeType, plaintext string, content any) Data {
	return withText(Any(mimeType, content), plaintext)
}

// Auto returns v rendered by its own methods, as Bundle does (gophernotes'
// name).
func Auto(v any) Data { return Bundle(v) }

// File returns the content of the file at path shown as mimeType; a file
// that cannot be read is shown as the error.
func File(mimeType, path string) Data {
	b, err := os.ReadFile(path)
	if err != nil {
		return Text(fmt.Sprintf("display: %v", err))
	}
	return MakeData(mimeType, b)
}

func withText(d Data, text string) Data {
	d.Data[MIMETypeText] = text
	return d
}

// Display shows v under the cell now. v may be a Data or any value (see Bundle).
func Display(v any) error { return emit(cellio.KindDisplay, "", Bundle(v)) }

// Show is Display under the name plots and newer notebooks use.
func Show(v any) error { return Display(v) }

// Update shows v as the output named id: the first call for an id creates it
// under the current cell, later calls replace it in place wherever it is.
func Update(id string, v any) error {
	if id == "" {
		return fmt.Errorf("display: Update needs a non-empty id")
	}
	shownMu.Lock()
	kind := cellio.KindUpdate
	if !shown[id] {
		kind = cellio.KindDisplay
		shown[id] = true
	}
	shownMu.Unlock()
	return emit(kind, id, Bundle(v))
}

// Replace replaces the output named id wherever it is shown, and shows
// nothing new: an id no output has is ignored by the front end. Unlike
// Update it also reaches outputs an earlier session process of the same
// kernel showed (before a restart).
func Replace(id string, v any) error {
	if id == "" {
		return fmt.Errorf("display: Replace needs a non-empty id")
	}
	shownMu.Lock()
	shown[id] = true
	shownMu.Unlock()
	return emit(cellio.KindUpdate, id, Bundle(v))
}

// Clear removes the current cell's output. With wait, the front end clears
// only when the next output arrives, which avoids flicker in animations.
func Clear(wait ...bool) error {
	w := len(wait) > 0 && wait[0]
	if !inKernel() {
		return nil
	}
	return writeRecord(cellio.Message{Kind: cellio.KindClear, Wait: w})
}

var (
	shownMu sync.Mutex
	shown   = map[string]bool{}
	writeMu sync.Mutex
)

func emit(kind, id string, d Data) error {
	if !inKernel() {
		text, _ := d.Data[MIMETypeText].(string)
		if text == "" {
			text = fmt.Sprintf("[%d rich outputs not shown outside the kernel]", len(d.Data))
		}
		_, err := fmt.Fprintln(os.Stdout, text)
		return err
	}
	if id == "" {
		if v, ok := d.Transient["display_id"].(string); ok {
			id = v
		}
	}
	return writeRecord(cellio.Message{Kind: kind, Data: d.Data, Metadata: d.Metadata, DisplayID: id})
}

func writeRecord(m cellio.Message) error {
	writeMu.Lock()
	defer writeMu.Unlock()
	if err := cellio.Write(os.Stdout, m); err != nil {
		return fmt.Errorf("display: %w", err)
	}
	return nil
}

// SessionEnv is set in the environment of every process the kernel runs
// cells in.
const SessionEnv = "IPCLAB_SESSION"

// StateDirEnv names a private directory that outlives a kernel's session
// processes (a restart after %goflags or a crash) but not the kernel: the
// kernel removes it with its workspace. Code in cells keeps there what a
// later session process of the same kernel must find (verdict's summary).
const StateDirEnv = "IPCLAB_STATE_DIR"

func inKernel() bool { return os.Getenv(SessionEnv) != "" }
