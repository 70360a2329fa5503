package engine

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ipclab/ipclab/display/cellhost"
)

// checkFile is the name of the current cell's source in the type checker.
const checkFile = "cell.go"

// runFunc holds a cell's top-level statements while it is type-checked.
const runFunc = "ΞΞrun"

// sourceError is a problem in the cell's own source, at a byte offset of it.
type sourceError struct {
	offset int
	msg    string
}

// translation is a cell turned into Go packages, ready to build.
type translation struct {
	pkgSource    string // package ipclab.cell/cNNNN
	pluginSource string // package main of the plugin
	record       *cellRecord
	imports      []string          // the package's imports other than cells' packages
	cgo          bool              // the cell imports "C"
	newImports   map[string]string // imports this cell adds to the session
	// eval is the cell lowered for evaluation without a build, nil when it
	// must be compiled (evalWhy says why).
	eval    *cellhost.Program
	evalWhy string
	// exported are the packages whose whole export table the plugin adds.
	exported []string
}

// translator turns one cell into a package, given the world before it.
type translator struct {
	w       *world
	imp     *exportImporter
	known   func(name string) (string, bool)
	seq     int
	label   string
	lineDir string // file name used in //line directives
	src     string // the cell's Go source (magics blanked)
	silent  bool
	// notify tells the user about slow work (fetching a module); may be nil.
	notify func(msg string)
	// evaluate allows lowering the cell for evaluation; exported are the
	// packages the session process has whole export tables of.
	evaluate bool
	exported map[string]bool
	// ownImports are the names the cell imports itself.
	ownImports []string
	// bare makes the names of package bare (Display) visible to the cell,
	// which uses them without a package name and declares none of them.
	bare bool
}

// barePath is the package whose names cells may use without a package
// name, as gophernotes notebooks do; bareNames are those names.
const barePath = "github.com/ipclab/ipclab/display/bare"

var bareNames = map[string]bool{"Display": true}

// checked is the result of type-checking a cell against the world.
type checked struct {
	fset    *token.FileSet
	pkg     *types.Package
	info    *types.Info
	file    *ast.File
	text    string // the check file's text
	offI    int    // where the import copy of the cell starts
	offEnd  int    // where the statement copy ends (the scaffold's variables follow)
	offA    int    // where the declaration copy of the cell starts
	offB    int    // where the statement copy of the cell starts
	items   []item
	runBody *ast.BlockStmt
	runScp  *types.Scope
	imports map[string]string // name → path in effect for the cell
}

func (t *translator) translate(ctx context.Context) (*translation, []sourceError, error) {
	items, serr := splitCell(t.src)
	if serr != nil {
		return nil, []sourceError{{serr.offset, serr.msg}}, nil
	}
	c, errs, err := t.check(ctx, items)
	if err != nil || len(errs) > 0 {
		return nil, errs, err
	}
	return t.generate(c)
}

// blank returns src with every byte outside the kept items replaced by a
// space (newlines stay), so that offsets are unchanged. A semicolon that
// separates items becomes sep: ';' between statements, '\n' between
// declarations (a file may not hold an empty declaration).
func blank(src string, items []item, keep func(item) bool, sep byte) string {
	b := []byte(src)
	mask := make([]bool, len(b))
	ends := map[int]bool{}
	for _, it := range items {
		ends[it.end] = true
		if keep(it) {
			for i := it.start; i < it.end && i < len(b); i++ {
				mask[i] = true
			}
		}
	}
	for i := range b {
		switch {
		case mask[i] || b[i] == '\n':
		case b[i] == ';' && ends[i]:
			b[i] = sep
		default:
			b[i] = ' '
		}
	}
	return string(b)
}

// copies returns the cell's declarations and its statements, each with the
// other blanked out, as the check file holds them.
func copies(src string, items []item) (declSrc, stmtSrc string) {
	return blank(src, items, func(it item) bool { return it.kind != itemStmt }, '\n'),
		blank(src, items, func(it item) bool { return it.kind == itemStmt }, ';')
}

// check type-checks the cell as one package with every earlier cell.
func (t *translator) check(ctx context.Context, items []item) (*checked, []sourceError, error) {
	declSrc, stmtSrc := copies(t.src, items)

	// What the cell declares itself overrides the world's declarations.
	override := map[string]bool{}
	if f, err := parser.ParseFile(token.NewFileSet(), checkFile, "package cell\n"+declSrc, parser.SkipObjectResolution); err == nil {
		for _, d := range f.Decls {
			names, _, _ := declNames(d)
			for _, n := range names {
				override[n] = true
			}
		}
		// The cell's own imports take their names from the session's.
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			t.ownImports = append(t.ownImports, importName(is.Name, p))
		}
	}

	var extra map[string]string  // auto-imports: name → path
	hoist := map[string]string{} // run-scope variables the cell's functions use → type
	for attempt := 0; ; attempt++ {
		c, errs, err := t.checkOnce(ctx, declSrc, stmtSrc, items, override, extra, hoist)
		if err != nil {
			return nil, nil, err
		}
		if len(errs) == 0 || attempt == 3 {
			return c, toSourceErrors(c, errs), nil
		}
		// Retry once with missing imports added and with top-level variables
		// visible to the cell's own functions.
		retry := false
		for _, e := range errs {
			name, ok := strings.CutPrefix(e.Msg, "undefined: ")
			if !ok {
				continue
			}
			if obj := runScopeVar(c, name); obj != nil && !inRun(c, e.Pos) {
				if _, dup := hoist[name]; !dup {
					tp := &typePrinter{cellPkg: c.pkg, world: true, imports: map[string]string{}}
					typ := tp.str(obj.Type())
					// A type still invalid (its package not imported yet) is
					// hoisted on the next attempt, after the import is added.
					if tp.err == nil && !hasInvalid(obj.Type()) {
						for alias, p := range tp.imports {
							typ = "\x00" + alias + "\x00" + p + "\x00" + typ
						}
						hoist[name] = typ
						retry = true
					}
				}
				continue
			}
			if bareNames[name] && !t.bare && !isSelectorBase(c, e.Pos) {
				t.bare = true // Display(…) as gophernotes notebooks write it
				retry = true
				continue
			}
			if p, ok := t.known(name); ok && isSelectorBase(c, e.Pos) {
				if extra == nil {
					extra = map[string]string{}
				}
				if _, dup := extra[name]; !dup {
					extra[name] = p
					retry = true
				}
			}
		}
		if !retry {
			return c, toSourceErrors(c, errs), nil
		}
	}
}

// hasInvalid reports whether t mentions a type the checker could not resolve.
func hasInvalid(t types.Type) bool {
	return strings.Contains(types.TypeString(t, nil), "invalid type")
}

func runScopeVar(c *checked, name string) types.Object {
	if c.runScp == nil {
		return nil
	}
	if v, ok := c.runScp.Lookup(name).(*types.Var); ok {
		return v
	}
	return nil
}

func inRun(c *checked, pos token.Pos) bool {
	off := c.fset.Position(pos).Offset
	return c.runBody != nil && off >= c.offB && off <= c.offEnd && c.fset.Position(pos).Filename == checkFile
}

func isSelectorBase(c *checked, pos token.Pos) bool {
	found := false
	ast.Inspect(c.file, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := s.X.(*ast.Ident); ok && id.Pos() == pos {
				found = true
			}
		}
		return !found
	})
	return found
}

// checkSources lays out what the type checker (or gopls) sees for a cell:
// one file per earlier cell, and the cell's own file, which holds the
// session's imports, the cell's own imports at offI, its other declarations
// at offA and its statements, inside a function, at offB (each a copy of the
// cell with everything else blanked, so offsets within it are the cell's),
// then the top-level variables the cell's functions use. Imports come first
// whatever their place in the cell, as Go requires.
type checkSources struct {
	world            map[string]string
	text             string
	offI, offA, offB int
	offEnd           int // where the statement copy ends
	imports          map[string]string
}

func (t *translator) sources(declSrc, stmtSrc string, override map[string]bool, extra map[string]string, hoist map[string]string) checkSources {
	var worldOverride = override
	if len(hoist) > 0 {
		worldOverride = map[string]bool{}
		for k := range override {
			worldOverride[k] = true
		}
		for h := range hoist {
			worldOverride[h] = true
		}
	}
	// Session imports the cell does not shadow, then the cell's own text.
	own := t.w.owners()
	imports := map[string]string{}
	for name, p := range t.w.imports {
		imports[name] = p
	}
	for name, p := range extra {
		imports[name] = p
	}
	var head, vars strings.Builder
	head.WriteString("package cell;")
	for _, name := range sortedKeys(imports) {
		if override[name] || (own[name] != nil && !worldOverride[name]) || slices.Contains(t.ownImports, name) {
			delete(imports, name)
			continue
		}
		fmt.Fprintf(&head, "import %s %q;", name, imports[name])
	}
	if t.bare {
		fmt.Fprintf(&head, "import . %q;", barePath)
	}
	for _, h := range sortedKeys(hoist) {
		typ := hoist[h]
		for strings.HasPrefix(typ, "\x00") {
			parts := strings.SplitN(typ[1:], "\x00", 3)
			fmt.Fprintf(&head, "import %s %q;", parts[0], parts[1])
			typ = parts[2]
		}
		fmt.Fprintf(&vars, "var %s %s;", h, typ)
	}
	importSrc, declOnly := splitImports(declSrc)
	text := head.String() + "\n"
	offI := len(text)
	text += importSrc + "\n"
	offA := len(text)
	text += declOnly + "\nfunc " + runFunc + "() {\n"
	offB := len(text)
	text += stmtSrc
	offEnd := len(text)
	text += "\n}\n" + vars.String() + "\n"
	return checkSources{world: t.w.files(worldOverride), text: text, offI: offI, offA: offA, offB: offB, offEnd: offEnd, imports: imports}
}

// splitImports separates a declaration copy of a cell into a copy holding
// only its imports and one holding only its other declarations, both with
// the cell's offsets.
func splitImports(declSrc string) (importSrc, declOnly string) {
	items, _ := splitCell(declSrc)
	isImport := func(it item) bool { return it.kind == itemImport }
	return blank(declSrc, items, isImport, '\n'), blank(declSrc, items, func(it item) bool { return !isImport(it) }, '\n')
}

func (t *translator) checkOnce(ctx context.Context, declSrc, stmtSrc string, items []item, override map[string]bool, extra map[string]string, hoist map[string]string) (*checked, []types.Error, error) {
	fset := token.NewFileSet()
	files := []*ast.File{}
	src := t.sources(declSrc, stmtSrc, override, extra, hoist)
	for _, name := range sortedKeys(src.world) {
		f, err := parser.ParseFile(fset, name, src.world[name], parser.SkipObjectResolution)
		if err != nil {
			continue // a world file that no longer parses only hides its names
		}
		files = append(files, f)
	}
	text, offA, offB, imports := src.text, src.offA, src.offB, src.imports

	f, err := parser.ParseFile(fset, checkFile, text, parser.ParseComments|parser.SkipObjectResolution)
	c := &checked{fset: fset, file: f, text: text, offI: src.offI, offEnd: src.offEnd, offA: offA, offB: offB, items: items, imports: imports}
	if err != nil {
		var errs []types.Error
		if list, ok := err.(scanner.ErrorList); ok && f != nil {
			tf := fset.File(f.Pos())
			for _, e := range list {
				errs = append(errs, types.Error{Fset: fset, Pos: tf.Pos(min(e.Pos.Offset, tf.Size())), Msg: e.Msg})
			}
		}
		if len(errs) == 0 {
			errs = append(errs, types.Error{Fset: fset, Pos: f.Pos(), Msg: err.Error()})
		}
		return c, errs, nil
	}
	files = append(files, f)

	var paths []string
	for _, f := range files {
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			paths = append(paths, p)
		}
	}
	if t.notify != nil {
		for _, p := range t.imp.unlocated(paths) {
			if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") && !t.imp.required(p) {
				t.notify(fmt.Sprintf("ipclab: resolving %s (its module is downloaded on first use)…\n", p))
			}
		}
	}
	if err := t.imp.prefetch(ctx, paths); err != nil {
		// Reported per import by the checker below, in the cell's terms.
		_ = err
	}

	info := &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Defs:       map[*ast.Ident]types.Object{},
		Uses:       map[*ast.Ident]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
		Instances:  map[*ast.Ident]types.Instance{},
		Scopes:     map[ast.Node]*types.Scope{},
		Implicits:  map[ast.Node]types.Object{},
	}
	var errs []types.Error
	conf := types.Config{
		Importer:    t.imp,
		FakeImportC: true,
		Error: func(err error) {
			if te, ok := err.(types.Error); ok {
				errs = append(errs, te)
			}
		},
	}
	pkg, _ := conf.Check("ipclab.cell", fset, files, info)
	c.pkg, c.info = pkg, info
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == runFunc && fd.Recv == nil {
			c.runBody = fd.Body
			c.runScp = info.Scopes[fd.Type]
		}
	}
	return c, t.relevant(c, errs, hoist), nil
}

// importName is the name an import declares: its explicit name, or the last
// element of its path without a major-version suffix (the usual package name).
func importName(name *ast.Ident, importPath string) string {
	if name != nil {
		return name.Name
	}
	base := path.Base(importPath)
	if len(base) >= 2 && base[0] == 'v' && base[1] >= '0' && base[1] <= '9' {
		base = path.Base(path.Dir(importPath))
	}
	if i := strings.LastIndexAny(base, ".-"); i >= 0 && strings.HasPrefix(base, "go-") {
		base = base[i+1:]
	}
	return base
}

// relevant drops errors that only the type-checking scaffold causes.
func (t *translator) relevant(c *checked, errs []types.Error, hoist map[string]string) []types.Error {
	var trailing token.Pos
	if last := lastStmt(c); last != nil {
		if es, ok := last.(*ast.ExprStmt); ok {
			trailing = es.Pos()
		}
	}
	var out []types.Error
	for _, e := range errs {
		pos := c.fset.Position(e.Pos)
		if pos.Filename != checkFile {
			continue // the world's own problems belong to earlier cells
		}
		switch {
		case strings.Contains(e.Msg, "imported and not used"):
			continue
		case strings.HasPrefix(e.Msg, "declared and not used") && c.runScp != nil && c.runScp.Lookup(strings.TrimPrefix(e.Msg, "declared and not used: ")) != nil:
			continue
		case strings.Contains(e.Msg, "is not used") && trailing.IsValid() && e.Pos >= trailing && e.Pos < lastStmt(c).End():
			continue
		}
		if pos.Offset < c.offI || pos.Offset > c.offEnd {
			continue // the scaffold's own lines (an import the session no longer has)
		}
		out = append(out, e)
	}
	return out
}

// lastStmt is the cell's last top-level item when it is a statement.
func lastStmt(c *checked) ast.Stmt {
	if c.runBody == nil || len(c.items) == 0 || c.items[len(c.items)-1].kind != itemStmt {
		return nil
	}
	if n := len(c.runBody.List); n > 0 {
		return c.runBody.List[n-1]
	}
	return nil
}

func toSourceErrors(c *checked, errs []types.Error) []sourceError {
	var out []sourceError
	for _, e := range errs {
		off := c.cellOffset(e.Pos)
		out = append(out, sourceError{offset: off, msg: e.Msg})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].offset < out[j].offset })
	return out
}

// cellOffset maps a position in the check file to an offset in the cell.
func (c *checked) cellOffset(pos token.Pos) int {
	if !pos.IsValid() {
		return 0
	}
	off := c.fset.Position(pos).Offset
	switch {
	case off >= c.offB:
		return off - c.offB
	case off >= c.offA:
		return off - c.offA
	case off >= c.offI:
		return off - c.offI
	}
	return 0
}
