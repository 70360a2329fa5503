package engine

import (
	"fmt"
	"go/ast"
	"sort"
	"strings"
)

// The world is everything earlier cells declared that a new cell may use.
// Each loaded cell is its own Go package (ipclab.cell/cNNNN) so that its
// plugin can be loaded next to the earlier ones; the world records, for each
// cell, its declarations as the user wrote them, so that a new cell can be
// type-checked as if all cells were one package.

// cellRecord is a cell whose package was built and loaded.
type cellRecord struct {
	seq     int               // package number: ipclab.cell/c%04d
	label   string            // "cell 7", for messages
	imports map[string]string // import name → path, as in effect for this cell
	decls   []declRecord
	hoisted []hoistedVar
	// evaluated cells have no package: their variables live in cellrt's
	// registry, and later cells reach them through it (see varRef).
	evaluated bool
}

// declRecord is one top-level declaration of a cell.
type declRecord struct {
	text  string   // as the user wrote it
	names []string // package-level names it declares; none for a method
	recv  string   // for a method: the receiver's base type name
}

// hoistedVar is a variable a cell declared at top level (x := …, var x …):
// it lives on as a package-level variable of the cell's package.
type hoistedVar struct {
	name    string
	typ     string            // the type as world source
	imports map[string]string // alias → path needed by typ
}

func pkgPath(seq int) string  { return fmt.Sprintf("ipclab.cell/c%04d", seq) }
func pkgAlias(seq int) string { return fmt.Sprintf("c%04d", seq) }
func worldFile(seq int) string {
	return fmt.Sprintf("w%04d.go", seq)
}

// world is the session's declarations, newest last.
type world struct {
	cells []*cellRecord
	// imports is every import made so far: name → path. A later import of
	// the same name replaces the earlier one.
	imports map[string]string
}

func newWorld() *world { return &world{imports: map[string]string{}} }

// owner returns, for every package-level name, the newest cell declaring it.
func (w *world) owners() map[string]*cellRecord {
	own := map[string]*cellRecord{}
	for _, c := range w.cells {
		for _, d := range c.decls {
			for _, n := range d.names {
				own[n] = c
			}
		}
		for _, h := range c.hoisted {
			own[h.name] = c
		}
	}
	return own
}

// files returns one Go source file per earlier cell with the declarations
// still in effect, leaving out names the new cell redeclares (override).
func (w *world) files(override map[string]bool) map[string]string {
	own := w.owners()
	out := map[string]string{}
	for _, c := range w.cells {
		var b strings.Builder
		b.WriteString("package cell\n")
		declared := map[string]bool{}
		var body strings.Builder
		for _, d := range c.decls {
			if d.recv != "" {
				if own[d.recv] != c || override[d.recv] {
					continue // the type was redefined: its old methods went with it
				}
			} else if !keeps(d.names, c, own, override) {
				continue
			}
			for _, n := range d.names {
				declared[n] = true
			}
			body.WriteString(d.text)
			body.WriteString("\n")
		}
		for _, h := range c.hoisted {
			if own[h.name] != c || override[h.name] {
				continue
			}
			fmt.Fprintf(&body, "var %s %s\n", h.name, h.typ)
			for alias, path := range h.imports {
				fmt.Fprintf(&b, "import %s %q\n", alias, path)
			}
		}
		for _, name := range sortedKeys(c.imports) {
			if declared[name] || (own[name] != nil && own[name] != c) || override[name] {
				continue
			}
			fmt.Fprintf(&b, "import %s %q\n", name, c.imports[name])
		}
		b.WriteString(body.String())
		out[worldFile(c.seq)] = b.String()
	}
	return out
}

// keeps reports whether a declaration is still the newest for all its names.
func keeps(names []string, c *cellRecord, own map[string]*cellRecord, override map[string]bool) bool {
	for _, n := range names {
		if n == "_" {
			continue
		}
		if own[n] != c || override[n] {
			return false
		}
	}
	return true
}

func (w *world) bySeq(seq int) *cellRecord {
	for _, c := range w.cells {
		if c.seq == seq {
			return c
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// declNames lists what a top-level declaration declares.
func declNames(d ast.Decl) (names []string, recv, method string) {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv != nil && len(d.Recv.List) > 0 {
			return nil, recvBase(d.Recv.List[0].Type), d.Name.Name
		}
		return []string{d.Name.Name}, "", ""
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				names = append(names, s.Name.Name)
			case *ast.ValueSpec:
				for _, n := range s.Names {
					names = append(names, n.Name)
				}
			}
		}
	}
	return names, "", ""
}

func recvBase(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}
