package engine

import (
	"go/scanner"
	"go/token"
	"strings"
)

// itemKind classifies a top-level piece of a cell.
type itemKind int

const (
	itemImport itemKind = iota
	itemDecl            // type, const, func or method declaration
	itemStmt            // a statement, including var declarations
)

// item is one top-level piece of a cell's source, as byte offsets.
type item struct {
	kind       itemKind
	start, end int
}

// splitError is a cell that cannot be split into top-level pieces.
type splitError struct {
	offset int
	msg    string
}

func (e *splitError) Error() string { return e.msg }

// splitCell cuts Go source into top-level items at semicolons (written or
// implied by newlines) outside brackets, and classifies each. It does not
// parse: the type checker does that, and reports errors in cell positions.
func splitCell(src string) ([]item, *splitError) {
	fset := token.NewFileSet()
	file := fset.AddFile("cell", -1, len(src))
	var s scanner.Scanner
	var firstErr *splitError
	s.Init(file, []byte(src), func(pos token.Position, msg string) {
		if firstErr == nil {
			firstErr = &splitError{offset: pos.Offset, msg: msg}
		}
	}, scanner.ScanComments)

	type tok struct {
		t   token.Token
		off int
	}
	var items []item
	var cur []tok
	comment := -1 // start of the comments right before the next item (a cgo preamble)
	depth := 0
	header := false // in a for/if/switch header, whose semicolons do not end the statement
	flush := func(end int) {
		if len(cur) == 0 {
			return
		}
		start := cur[0].off
		if cur[0].t == token.IMPORT && comment >= 0 {
			start = comment
		}
		comment = -1
		items = append(items, item{kind: classify(cur[0].t, func(i int) token.Token {
			if i < len(cur) {
				return cur[i].t
			}
			return token.EOF
		}), start: start, end: end})
		cur = cur[:0]
	}
	for {
		pos, t, _ := s.Scan()
		off := file.Offset(pos)
		if t == token.EOF {
			flush(len(strings.TrimRight(src, " \t\r\n")))
			break
		}
		switch t {
		case token.FOR, token.IF, token.SWITCH:
			if depth == 0 {
				header = true
			}
		case token.LBRACE:
			if depth == 0 {
				header = false
			}
			depth++
		case token.LPAREN, token.LBRACK:
			depth++
		case token.RPAREN, token.RBRACE, token.RBRACK:
			depth--
		case token.SEMICOLON:
			if depth == 0 && !header {
				flush(off)
				continue
			}
		}
		if t == token.COMMENT {
			if len(cur) == 0 && comment < 0 {
				comment = off
			}
			continue
		}
		cur = append(cur, tok{t, off})
	}
	if firstErr != nil {
		return items, firstErr
	}
	return items, nil
}

// classify decides what a top-level item is from its first tokens.
func classify(first token.Token, at func(int) token.Token) itemKind {
	switch first {
	case token.IMPORT:
		return itemImport
	case token.TYPE, token.CONST:
		return itemDecl
	case token.FUNC:
		switch at(1) {
		case token.IDENT:
			return itemDecl
		case token.LPAREN:
			// A method has a receiver list followed by its name; a function
			// literal has parameters followed by results or its body.
			depth := 0
			for i := 1; ; i++ {
				switch at(i) {
				case token.LPAREN, token.LBRACK, token.LBRACE:
					depth++
				case token.RPAREN, token.RBRACK, token.RBRACE:
					depth--
					if depth == 0 {
						if at(i+1) == token.IDENT && (at(i+2) == token.LPAREN || at(i+2) == token.LBRACK) {
							return itemDecl
						}
						return itemStmt
					}
				case token.EOF:
					return itemStmt
				}
			}
		}
	}
	return itemStmt
}
