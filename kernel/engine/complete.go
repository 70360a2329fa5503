package engine

import (
	"context"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// IsComplete tells a console whether code is ready to run: brackets and
// literals must be closed and the code must not end in an operator.
func (e *Engine) IsComplete(code string) Completeness {
	goCode := stripMagics(code)
	if strings.TrimSpace(goCode) == "" {
		return Completeness{Status: "complete"}
	}
	fset := token.NewFileSet()
	file := fset.AddFile("cell", -1, len(goCode))
	var s scanner.Scanner
	unterminated := false
	s.Init(file, []byte(goCode), func(_ token.Position, msg string) {
		if strings.Contains(msg, "not terminated") {
			unterminated = true
		}
	}, 0)
	var open []token.Token // brackets not closed yet, innermost last
	last := token.ILLEGAL
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue
		}
		switch tok {
		case token.LPAREN, token.LBRACE, token.LBRACK:
			open = append(open, tok)
		case token.RPAREN, token.RBRACE, token.RBRACK:
			if len(open) == 0 {
				return Completeness{Status: "invalid"}
			}
			open = open[:len(open)-1]
		}
		last = tok
	}
	if unterminated {
		return Completeness{Status: "incomplete", Indent: ""}
	}
	if depth := len(open); depth > 0 {
		if !continuable(goCode, open) {
			return Completeness{Status: "invalid"}
		}
		return Completeness{Status: "incomplete", Indent: strings.Repeat("    ", depth)}
	}
	if last.IsOperator() && last != token.RPAREN && last != token.RBRACE && last != token.RBRACK &&
		last != token.INC && last != token.DEC && last != token.SEMICOLON {
		return Completeness{Status: "incomplete", Indent: "    "}
	}
	if !parses(goCode) {
		return Completeness{Status: "invalid"}
	}
	return Completeness{Status: "complete"}
}

// parses reports whether a cell's declarations and statements are valid syntax.
func parses(code string) bool {
	return syntaxError(code) < 0
}

// syntaxError returns the cell offset of the first syntax error in code, or
// -1 when it parses.
func syntaxError(code string) int {
	items, serr := splitCell(code)
	if serr != nil {
		return serr.offset
	}
	decl, stmt := copies(code, items)
	imports, decl := splitImports(decl)
	head := "package cell;"
	offI := len(head)
	offA := offI + len(imports) + 1
	offB := offA + len(decl) + len("\nfunc _() {\n")
	_, err := parser.ParseFile(token.NewFileSet(), "cell.go", head+imports+"\n"+decl+"\nfunc _() {\n"+stmt+"\n}\n", parser.SkipObjectResolution)
	if err == nil {
		return -1
	}
	list, ok := err.(scanner.ErrorList)
	if !ok || len(list) == 0 {
		return 0
	}
	first := len(code)
	for _, e := range list {
		off := e.Pos.Offset
		switch {
		case off >= offB:
			off -= offB
		case off >= offA:
			off -= offA
		case off >= offI:
			off -= offI
		}
		first = min(first, off)
	}
	return first
}

// continuable reports whether code with brackets still open (innermost
// last) could become valid by adding more: closing them must give code
// whose first syntax error lies only in what was added (or none). Closing
// a function literal may also need a call after it (go func() {…}()).
func continuable(code string, open []token.Token) bool {
	end := len(strings.TrimRight(code, " \t\r\n"))
	closers := "\n" // ends a trailing line comment
	for i := len(open) - 1; i >= 0; i-- {
		switch open[i] {
		case token.LPAREN:
			closers += ")"
		case token.LBRACK:
			closers += "]"
		default:
			closers += "}"
		}
	}
	for _, suffix := range []string{closers, closers + "()"} {
		if off := syntaxError(code + suffix); off < 0 || off >= end {
			return true
		}
	}
	return false
}

func stripMagics(code string) string {
	lines := strings.Split(code, "\n")
	if len(lines) > 0 && strings.HasPrefix(strings.TrimSpace(lines[0]), "%%") {
		return ""
	}
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if (strings.HasPrefix(t, "%") || strings.HasPrefix(t, "!")) && !strings.HasPrefix(t, "!=") && !strings.HasPrefix(t, "%=") {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// byteOffset converts a cursor in code points (as Jupyter counts) to bytes.
func byteOffset(code string, cursor int) int {
	off := 0
	for i := 0; i < cursor && off < len(code); i++ {
		_, n := utf8.DecodeRuneInString(code[off:])
		off += n
	}
	return off
}

func runeCount(s string) int { return utf8.RuneCountInString(s) }

func isIdentRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// wordBefore returns the identifier ending at off and, when it follows a dot,
// the dotted expression before it ("fmt" in "fmt.Pri").
func wordBefore(code string, off int) (base, prefix string, start int) {
	start = off
	for start > 0 {
		r, n := utf8.DecodeLastRuneInString(code[:start])
		if !isIdentRune(r) {
			break
		}
		start -= n
	}
	prefix = code[start:off]
	if start > 0 && code[start-1] == '.' {
		b := start - 1
		for b > 0 {
			r, n := utf8.DecodeLastRuneInString(code[:b])
			if !isIdentRune(r) && r != '.' {
				break
			}
			b -= n
		}
		base = code[b : start-1]
	}
	return base, prefix, start
}

var keywords = []string{"break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough",
	"for", "func", "go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select",
	"struct", "switch", "type", "var"}

// Complete lists completions at cursor: package members after "pkg.", fields
// and methods after "value.", else names in scope.
func (e *Engine) Complete(code string, cursor int) Completion {
	if c, ok := e.goplsComplete(code, cursor); ok && len(c.Matches) > 0 {
		return c
	}
	off := byteOffset(code, cursor)
	base, prefix, start := wordBefore(code, off)
	res := Completion{CursorStart: runeCount(code[:start]), CursorEnd: cursor, Metadata: map[string]any{"ipclab_source": "go/types"}}
	var names []string
	if base != "" {
		names = e.members(base)
	} else {
		names = e.scopeNames(code[:start])
	}
	seen := map[string]bool{}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && !seen[n] && !strings.HasPrefix(n, "Ξ") {
			seen[n] = true
			res.Matches = append(res.Matches, n)
		}
	}
	sort.Strings(res.Matches)
	return res
}

// packagePath resolves a name used as a package in a cell.
func (e *Engine) packagePath(name string) (string, bool) {
	e.mu.Lock()
	p, ok := e.w.imports[name]
	owned := e.w.owners()[name] != nil
	e.mu.Unlock()
	if ok {
		return p, true
	}
	if owned {
		return "", false
	}
	return e.known.lookup(e.goTool, e.goEnv(), name)
}

func (e *Engine) members(base string) []string {
	if !strings.Contains(base, ".") {
		if p, ok := e.packagePath(base); ok {
			pkg, err := e.imp.Import(p)
			if err != nil {
				return nil
			}
			var out []string
			for _, n := range pkg.Scope().Names() {
				if token.IsExported(n) {
					out = append(out, n)
				}
			}
			return out
		}
	}
	t := e.typeOf(base)
	if t == nil {
		return nil
	}
	var out []string
	for _, typ := range []types.Type{t, types.NewPointer(t)} {
		ms := types.NewMethodSet(typ)
		for i := range ms.Len() {
			out = append(out, ms.At(i).Obj().Name())
		}
	}
	if st, ok := derefUnder(t).(*types.Struct); ok {
		for i := range st.NumFields() {
			out = append(out, st.Field(i).Name())
		}
	}
	return out
}

func derefUnder(t types.Type) types.Type {
	if p, ok := t.Underlying().(*types.Pointer); ok {
		return p.Elem().Underlying()
	}
	return t.Underlying()
}

// typeOf type-checks expr against the session's declarations.
func (e *Engine) typeOf(expr string) types.Type {
	e.mu.Lock()
	defer e.mu.Unlock()
	tr := &translator{w: e.w, imp: e.imp, seq: e.seq + 1, label: "completion", lineDir: "completion.go",
		src: "ΞΞprobe := " + expr, silent: true,
		known: func(name string) (string, bool) { return e.known.lookup(e.goTool, e.goEnv(), name) }}
	items, serr := splitCell(tr.src)
	if serr != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := tr.check(ctx, items)
	if err != nil || c == nil || c.runScp == nil {
		return nil
	}
	if v := c.runScp.Lookup("ΞΞprobe"); v != nil {
		if b, ok := v.Type().(*types.Basic); ok && b.Kind() == types.Invalid {
			return nil
		}
		return v.Type()
	}
	return nil
}

func (e *Engine) scopeNames(before string) []string {
	e.mu.Lock()
	var out []string
	for n := range e.w.owners() {
		out = append(out, n)
	}
	for n := range e.w.imports {
		out = append(out, n)
	}
	e.mu.Unlock()
	for n := range preferred {
		out = append(out, n)
	}
	out = append(out, keywords...)
	out = append(out, types.Universe.Names()...)
	// Names the cell itself declared before the cursor.
	var s scanner.Scanner
	fset := token.NewFileSet()
	s.Init(fset.AddFile("", -1, len(before)), []byte(before), nil, 0)
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.IDENT {
			out = append(out, lit)
		}
	}
	return out
}
