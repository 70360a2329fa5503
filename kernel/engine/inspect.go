package engine

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Inspect documents the name at cursor: `go doc` for packages and their
// members, the declaration for names the session's cells declared.
func (e *Engine) Inspect(code string, cursor, detail int) Inspection {
	off := byteOffset(code, cursor)
	// Extend to the end of the identifier under the cursor.
	end := off
	for end < len(code) {
		r, n := utf8.DecodeRuneInString(code[end:])
		if !isIdentRune(r) {
			break
		}
		end += n
	}
	base, name, _ := wordBefore(code, end)
	if name == "" {
		return Inspection{}
	}
	var text string
	if h, ok := e.goplsHover(code, cursor); ok {
		text = h
	}
	switch {
	case text != "":
	case base != "" && !strings.Contains(base, "."):
		if p, ok := e.packagePath(base); ok {
			text = e.goDoc(p + "." + name)
		}
	default:
		if t := e.declText(name); t != "" {
			text = t
		} else if p, ok := e.packagePath(name); ok {
			text = e.goDoc(p)
		} else {
			text = e.goDoc("builtin." + name)
		}
	}
	if strings.TrimSpace(text) == "" {
		return Inspection{}
	}
	return Inspection{Found: true, Data: map[string]any{"text/plain": text}, Metadata: map[string]any{}}
}

func (e *Engine) declText(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.w.owners()[name]
	if c == nil {
		return ""
	}
	for _, d := range c.decls {
		for _, n := range d.names {
			if n == name {
				return fmt.Sprintf("%s\n\n(declared in %s)", d.text, c.label)
			}
		}
	}
	for _, h := range c.hoisted {
		if h.name == name {
			return fmt.Sprintf("var %s %s\n\n(declared in %s)", h.name, h.typ, c.label)
		}
	}
	return ""
}

func (e *Engine) goDoc(sym string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := runGo(ctx, e.goTool, e.ws, e.goEnv(), "doc", sym)
	if err != nil {
		return ""
	}
	return string(out)
}
