package engine

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strconv"
	"strings"

	"github.com/ipclab/ipclab/display/cellhost"
)

// rtName is the import name of package cellrt in generated code.
const rtName = "ipclabrt"

// edit replaces src[start:end] with what render returns; render may call
// rewriter.text on parts of the span so that edits inside it apply too.
type edit struct {
	start, end int
	order      int // edits added later wrap earlier ones with the same span
	render     func() string
	active     bool // being rendered: nested text calls see what is inside it
}

type rewriter struct {
	src   string
	edits []*edit
}

func (r *rewriter) add(start, end int, render func() string) {
	r.edits = append(r.edits, &edit{start: start, end: end, order: len(r.edits), render: render})
}

func (r *rewriter) replace(start, end int, s string) {
	r.add(start, end, func() string { return s })
}

func (r *rewriter) sort() {
	sort.SliceStable(r.edits, func(i, j int) bool {
		a, b := r.edits[i], r.edits[j]
		if a.start != b.start {
			return a.start < b.start
		}
		// Insertions first, then the widest edit, which renders the others.
		if az, bz := a.end == a.start, b.end == b.start; az != bz {
			return az
		}
		if a.end != b.end {
			return a.end > b.end
		}
		return a.order > b.order
	})
}

// text renders src[start:end] with every edit inside it applied.
func (r *rewriter) text(start, end int) string {
	var b strings.Builder
	pos := start
	i := sort.Search(len(r.edits), func(i int) bool { return r.edits[i].start >= start })
	for ; i < len(r.edits); i++ {
		e := r.edits[i]
		if e.start >= end {
			break
		}
		if e.active || e.start < pos || e.end > end {
			continue // the edit being rendered, inside one already rendered, or straddling the span
		}
		b.WriteString(r.src[pos:e.start])
		e.active = true
		b.WriteString(e.render())
		e.active = false
		pos = e.end
	}
	b.WriteString(r.src[pos:end])
	return b.String()
}

// generator holds the state of generating one cell's package.
type generator struct {
	// varRefs are the package-level pointers to variables of evaluated
	// cells that this cell uses: accessor name → declaration.
	varRefs map[string]string
	t       *translator
	c       *checked
	r       *rewriter
	tp      *typePrinter
	removed []ast.Node // selector expressions replaced by runtime calls
	gensym  int
	errs    []sourceError
}

func (g *generator) off(p token.Pos) int { return g.c.fset.Position(p).Offset }

func (g *generator) nodeText(n ast.Node) string { return g.r.text(g.off(n.Pos()), g.off(n.End())) }

func (g *generator) cellOf(obj types.Object) int {
	name := g.c.fset.Position(obj.Pos()).Filename
	if name == checkFile {
		return g.t.seq
	}
	var seq int
	if _, err := fmt.Sscanf(name, "w%04d.go", &seq); err == nil {
		return seq
	}
	return g.t.seq
}

// inCell reports whether a position belongs to the cell's own text (not the
// checking scaffold).
func (g *generator) inCell(p token.Pos) bool {
	if g.c.fset.Position(p).Filename != checkFile {
		return false
	}
	return g.off(p) >= g.c.offA
}

func (g *generator) fail(p token.Pos, format string, args ...any) {
	g.errs = append(g.errs, sourceError{offset: g.c.cellOffset(p), msg: fmt.Sprintf(format, args...)})
}

func (g *generator) earlier(seq int) string {
	g.tp.cells[seq] = true
	return pkgAlias(seq)
}

// ref is how generated code names a package-level object of the cells.
func (g *generator) ref(obj types.Object) string {
	seq := g.cellOf(obj)
	if c := g.t.w.bySeq(seq); c != nil && c.evaluated && seq != g.t.seq {
		if v, ok := obj.(*types.Var); ok {
			return g.varRef(seq, v)
		}
	}
	name := exportedName(obj.Name())
	if _, isType := obj.(*types.TypeName); isType && seq == g.t.seq {
		name = obj.Name()
	}
	if seq == g.t.seq {
		return name
	}
	return g.earlier(seq) + "." + name
}

func (g *generator) isPackageLevel(obj types.Object) bool {
	return obj.Parent() == g.c.pkg.Scope() || (g.c.runScp != nil && obj.Parent() == g.c.runScp)
}

// runtime replacements for calls that would end or stall the session.
var runtimeCalls = map[string]string{
	"os.Exit":        rtName + ".Exit",
	"time.Sleep":     rtName + ".Sleep",
	"log.Fatal":      rtName + ".Fatal",
	"log.Fatalf":     rtName + ".Fatalf",
	"log.Fatalln":    rtName + ".Fatalln",
	"runtime.Goexit": rtName + ".Goexit",
}

func (t *translator) generate(c *checked) (*translation, []sourceError, error) {
	g := &generator{t: t, c: c, r: &rewriter{src: c.text}}
	g.tp = &typePrinter{cellPkg: c.pkg, cellOf: g.cellOf, current: t.seq, imports: map[string]string{}, cells: map[int]bool{}}

	g.identEdits()
	g.structuralEdits()
	if len(g.errs) > 0 {
		return nil, g.errs, nil
	}
	g.r.sort()

	var decls, stmts, inits strings.Builder
	rec := &cellRecord{seq: t.seq, label: t.label, imports: map[string]string{}}
	for _, it := range c.items {
		switch it.kind {
		case itemImport:
			continue
		case itemDecl:
			g.emitItem(&decls, it, c.offA)
			g.recordDecl(rec, it)
		case itemStmt:
			if g.registersWorker(it) { // see workers.go
				g.emitItem(&inits, it, c.offB)
				continue
			}
			g.emitItem(&stmts, it, c.offB)
		}
	}
	if len(g.errs) > 0 {
		return nil, g.errs, nil
	}
	helpers := g.helpers(rec)
	if len(g.errs) > 0 {
		return nil, g.errs, nil
	}

	var out strings.Builder
	out.WriteString("// Code generated by ipclab from " + t.label + ". DO NOT EDIT.\n\npackage cell\n\nimport (\n")
	imports := g.imports(rec)
	for _, line := range imports {
		out.WriteString("\t" + line + "\n")
	}
	out.WriteString(")\n\nvar _ = " + rtName + ".Flag\n")
	out.WriteString(decls.String())
	out.WriteString("\n\nfunc Run() {" + flagDecl)
	out.WriteString(stmts.String())
	out.WriteString("\n}\n")
	if inits.Len() > 0 {
		out.WriteString("\nfunc init() {" + flagDecl + inits.String() + "\n}\n")
	}
	out.WriteString("\n//line ipclab-generated.go:1\n")
	out.WriteString(helpers)
	for _, name := range sortedKeys(g.varRefs) {
		out.WriteString(g.varRefs[name])
	}

	newImports := map[string]string{}
	for name, p := range rec.imports {
		if t.w.imports[name] != p {
			newImports[name] = p
		}
	}
	out.WriteString(g.cellExports())
	var paths []string
	cgo := false
	for _, line := range imports {
		i := strings.IndexByte(line, '"')
		if i < 0 {
			continue
		}
		p, err := strconv.Unquote(strings.TrimSpace(line[i:]))
		if err != nil {
			if strings.Contains(line, `import "C"`) {
				cgo = true
			}
			continue
		}
		switch {
		case p == "C":
			cgo = true
		case !strings.HasPrefix(p, "ipclab.cell/"):
			paths = append(paths, p)
		}
	}
	tables, tableImports, whole := g.pluginExports(paths)
	plugin := fmt.Sprintf("// Code generated by ipclab. DO NOT EDIT.\n\npackage main\n\nimport (\n\tcell %q\n", pkgPath(t.seq))
	if tables != "" {
		plugin += "\t" + rtName + " " + strconv.Quote(cellrtPath) + "\n\t" + strings.Join(tableImports, "\n\t") + "\n"
	}
	plugin += ")\n\n" + tables + "\nfunc Run() { cell.Run() }\n"
	var program *cellhost.Program
	why := "the session cannot evaluate cells"
	switch {
	case inits.Len() > 0:
		why = "it registers an ipc worker, which worker processes must load"
	case t.evaluate:
		program, why = g.lower()
	}
	return &translation{
		eval:         program,
		evalWhy:      why,
		exported:     whole,
		imports:      paths,
		cgo:          cgo,
		pkgSource:    out.String(),
		pluginSource: plugin,
		record:       rec,
		newImports:   newImports,
	}, nil, nil
}

// emitItem writes one top-level item, with a //line directive so that the
// compiler and runtime report the cell's own lines and columns.
func (g *generator) emitItem(b *strings.Builder, it item, base int) {
	line, col := lineCol(g.t.src, it.start)
	fmt.Fprintf(b, "\n//line %s:%d:%d\n", g.t.lineDir, line, col)
	b.WriteString(g.r.text(base+it.start, base+it.end))
	b.WriteString(";")
}

func lineCol(src string, off int) (line, col int) {
	line = 1 + strings.Count(src[:off], "\n")
	col = 1 + off - (strings.LastIndex(src[:off], "\n") + 1)
	return line, col
}

// identEdits renames identifiers: earlier cells' names become qualified
// references to their packages, and this cell's unexported package-level
// names (but not its types or fields) become exported.
func (g *generator) identEdits() {
	visit := func(id *ast.Ident, obj types.Object) {
		if obj == nil || !g.inCell(id.Pos()) || obj.Pkg() != g.c.pkg {
			return
		}
		switch o := obj.(type) {
		case *types.TypeName:
			if o.Parent() == g.c.pkg.Scope() && g.cellOf(o) != g.t.seq {
				g.r.replace(g.off(id.Pos()), g.off(id.End()), g.ref(o))
			}
		case *types.Func:
			sig := o.Type().(*types.Signature)
			if sig.Recv() != nil {
				if !o.Exported() {
					g.r.replace(g.off(id.Pos()), g.off(id.End()), exportedName(o.Name()))
				}
				return
			}
			if o.Parent() == g.c.pkg.Scope() {
				if r := g.ref(o); r != id.Name {
					g.r.replace(g.off(id.Pos()), g.off(id.End()), r)
				}
			}
		case *types.Var:
			if o.IsField() || !g.isPackageLevel(o) || o.Name() == "_" {
				return
			}
			if r := g.ref(o); r != id.Name {
				g.r.replace(g.off(id.Pos()), g.off(id.End()), r)
			}
		case *types.Const:
			if o.Parent() == g.c.pkg.Scope() {
				if r := g.ref(o); r != id.Name {
					g.r.replace(g.off(id.Pos()), g.off(id.End()), r)
				}
			}
		}
	}
	for id, obj := range g.c.info.Defs {
		if id.Name == runFunc {
			continue
		}
		visit(id, obj)
	}
	for id, obj := range g.c.info.Uses {
		visit(id, obj)
	}
}

// structuralEdits rewrites what renaming alone cannot: access to earlier
// cells' unexported fields and literals, go statements, loop checks, the
// trailing expression and top-level variable declarations.
func (g *generator) structuralEdits() {
	var stack []ast.Node
	ast.Inspect(g.c.file, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		stack = append(stack, n)
		if !g.inCell(n.Pos()) {
			if fd, ok := n.(*ast.FuncDecl); ok && fd.Name.Name == runFunc {
				return true
			}
			if _, ok := n.(*ast.File); ok {
				return true
			}
			stack = stack[:len(stack)-1]
			return false
		}
		switch x := n.(type) {
		case *ast.SelectorExpr:
			g.selector(x)
		case *ast.CompositeLit:
			g.compositeLit(x, stack)
		case *ast.UnaryExpr:
			if lit, ok := x.X.(*ast.CompositeLit); ok && x.Op == token.AND && g.litNeedsRewrite(lit) {
				g.r.add(g.off(x.Pos()), g.off(x.End()), func() string {
					return rtName + ".Ptr(" + g.nodeText(lit) + ")"
				})
			}
		case *ast.GoStmt:
			g.goStmt(x)
		case *ast.FuncDecl:
			if x.Body != nil {
				g.insertFlag(x.Body)
			}
		case *ast.FuncLit:
			g.insertFlag(x.Body)
		case *ast.ForStmt:
			g.insertCheck(x.Body)
		case *ast.RangeStmt:
			g.insertCheck(x.Body)
		}
		return true
	})

	if g.c.runBody == nil {
		return
	}
	for _, s := range g.c.runBody.List {
		switch s := s.(type) {
		case *ast.AssignStmt:
			if s.Tok == token.DEFINE {
				g.r.replace(g.off(s.TokPos), g.off(s.TokPos)+2, "= ")
			}
		case *ast.DeclStmt:
			g.varStmt(s)
		}
	}
	if last := lastStmt(g.c); last != nil && !g.t.silent {
		if es, ok := last.(*ast.ExprStmt); ok && g.isValueExpr(es.X) {
			g.r.add(g.off(es.X.Pos()), g.off(es.X.End()), func() string {
				return rtName + ".Result(" + g.nodeText(es.X) + ")"
			})
		}
	}
}

func isValue(tv types.TypeAndValue) bool {
	if tv.Type == nil || tv.IsVoid() || tv.IsType() || tv.IsBuiltin() {
		return false
	}
	_, tuple := tv.Type.(*types.Tuple)
	return !tuple
}

// isValueExpr reports whether a trailing expression has one value to show.
// Expressions involving C have no type while checking (cgo resolves them
// later): a conversion or a non-call expression still has a value.
func (g *generator) isValueExpr(x ast.Expr) bool {
	tv := g.c.info.Types[x]
	if isValue(tv) {
		if b, ok := tv.Type.(*types.Basic); !ok || b.Kind() != types.Invalid {
			return true
		}
	}
	if tv.Type != nil && !isInvalid(tv.Type) {
		return false
	}
	call, ok := ast.Unparen(x).(*ast.CallExpr)
	if !ok {
		return true
	}
	if g.c.info.Types[call.Fun].IsType() {
		return true
	}
	_, isType := g.c.info.Uses[funIdent(call.Fun)].(*types.TypeName)
	return isType
}

func isInvalid(t types.Type) bool {
	b, ok := t.(*types.Basic)
	return ok && b.Kind() == types.Invalid
}

// Interrupt checks: each function fetches the flag once into a local (ξi)
// and checks it; loops count their iterations in a register (ξn) and look at
// the flag every 4096th: a load of it on every iteration made the tightest
// loops a third slower, the count costs them nothing measurable.
const (
	flagDecl  = "ξi, ξn := " + rtName + ".Flag(), uint32(0); _, _ = ξi, ξn; if ξi.Load() != 0 { " + rtName + ".Checkpoint() };"
	loopCheck = "if ξn++; ξn&4095 == 0 && ξi.Load() != 0 { " + rtName + ".Checkpoint() };"
)

func (g *generator) insertFlag(body *ast.BlockStmt) {
	if body == nil || !g.inCell(body.Lbrace) {
		return
	}
	at := g.off(body.Lbrace) + 1
	g.r.replace(at, at, flagDecl)
}

func (g *generator) insertCheck(body *ast.BlockStmt) {
	if body == nil || !g.inCell(body.Lbrace) {
		return
	}
	at := g.off(body.Lbrace) + 1
	g.r.replace(at, at, loopCheck)
}

func (g *generator) selector(x *ast.SelectorExpr) {
	info := g.c.info
	if obj, ok := info.Uses[x.Sel].(*types.Func); ok && obj.Pkg() != nil {
		if repl, ok := runtimeCalls[obj.Pkg().Path()+"."+obj.Name()]; ok {
			if _, isPkg := info.Uses[identOf(x.X)].(*types.PkgName); isPkg {
				g.r.replace(g.off(x.Pos()), g.off(x.End()), repl)
				g.removed = append(g.removed, x)
				return
			}
		}
	}
	sel := info.Selections[x]
	if sel == nil || sel.Kind() != types.FieldVal {
		return
	}
	path := sel.Index()
	if !g.pathNeedsAccessor(sel.Recv(), path) {
		return
	}
	g.r.add(g.off(x.Pos()), g.off(x.End()), func() string {
		expr := g.nodeText(x.X)
		addressable := info.Types[x.X].Addressable()
		typ := sel.Recv()
		for _, idx := range path {
			ptr, base := derefType(typ)
			st, _ := base.Underlying().(*types.Struct)
			if st == nil {
				return expr // unreachable for a field path
			}
			f := st.Field(idx)
			if g.fieldAccessible(f) {
				expr = expr + "." + f.Name()
				addressable = addressable || ptr
			} else {
				named := namedOf(base)
				acc := g.earlier(g.cellOf(named.Obj())) + ".Ξ%s_" + named.Obj().Name() + "_" + f.Name()
				switch {
				case ptr:
					expr = "(*" + fmt.Sprintf(acc, "f") + "(" + expr + "))"
					addressable = true
				case addressable:
					expr = "(*" + fmt.Sprintf(acc, "f") + "(&" + expr + "))"
				default:
					expr = fmt.Sprintf(acc, "g") + "(" + expr + ")"
				}
			}
			typ = f.Type()
		}
		return expr
	})
}

func identOf(e ast.Expr) *ast.Ident {
	id, _ := e.(*ast.Ident)
	return id
}

func derefType(t types.Type) (bool, types.Type) {
	if p, ok := types.Unalias(t).Underlying().(*types.Pointer); ok {
		if _, named := types.Unalias(t).(*types.Named); !named {
			return true, p.Elem()
		}
	}
	return false, t
}

func namedOf(t types.Type) *types.Named {
	n, _ := types.Unalias(t).(*types.Named)
	return n
}

// fieldAccessible reports whether this cell's package may name field f.
func (g *generator) fieldAccessible(f *types.Var) bool {
	return f.Exported() || f.Pkg() != g.c.pkg || g.cellOf(f) == g.t.seq
}

func (g *generator) pathNeedsAccessor(recv types.Type, path []int) bool {
	typ := recv
	for _, idx := range path {
		_, base := derefType(typ)
		st, _ := base.Underlying().(*types.Struct)
		if st == nil {
			return false
		}
		f := st.Field(idx)
		if !g.fieldAccessible(f) {
			if namedOf(base) == nil || namedOf(base).Obj().Pkg() != g.c.pkg {
				return false
			}
			return true
		}
		typ = f.Type()
	}
	return false
}

// litNeedsRewrite reports whether a composite literal builds a struct from
// an earlier cell with unexported fields, which only that cell's package may
// write as a literal.
func (g *generator) litNeedsRewrite(lit *ast.CompositeLit) bool {
	_, base := derefType(g.c.info.Types[lit].Type)
	named := namedOf(base)
	if named == nil || named.Obj().Pkg() != g.c.pkg || g.cellOf(named.Obj()) == g.t.seq {
		return false
	}
	st, ok := named.Underlying().(*types.Struct)
	if !ok {
		return false
	}
	for i := range st.NumFields() {
		if !st.Field(i).Exported() {
			return true
		}
	}
	return false
}

func (g *generator) compositeLit(lit *ast.CompositeLit, stack []ast.Node) {
	if !g.litNeedsRewrite(lit) {
		return
	}
	ptr, base := derefType(g.c.info.Types[lit].Type)
	named := namedOf(base)
	if named.TypeArgs().Len() > 0 {
		g.fail(lit.Pos(), "a literal of generic type %s (declared in %s) with unexported fields can only be written in that cell; add a constructor function there", named.Obj().Name(), g.labelOf(named.Obj()))
		return
	}
	// An elided &T{…} inside a []*T{…} literal: the element must stay a pointer.
	if len(stack) >= 2 {
		if _, isAddr := stack[len(stack)-2].(*ast.UnaryExpr); isAddr {
			ptr = false // the & around it wraps it (see UnaryExpr)
		}
	}
	pkg := g.earlier(g.cellOf(named.Obj()))
	tname := named.Obj().Name()
	keyed := len(lit.Elts) > 0
	if keyed {
		_, keyed = lit.Elts[0].(*ast.KeyValueExpr)
	}
	g.r.add(g.off(lit.Pos()), g.off(lit.End()), func() string {
		var s string
		switch {
		case len(lit.Elts) == 0:
			s = pkg + ".Ξzero_" + tname + "()"
		case !keyed:
			s = pkg + ".Ξlit_" + tname + "(" + g.r.text(g.off(lit.Lbrace)+1, g.off(lit.Rbrace)) + ")"
		default:
			var b strings.Builder
			b.WriteString(pkg + ".Ξkeyed_" + tname + "(func(ξp *" + pkg + "." + exportedName(tname) + ") {")
			prev := g.off(lit.Lbrace) + 1
			for _, e := range lit.Elts {
				kv := e.(*ast.KeyValueExpr)
				b.WriteString(strings.ReplaceAll(g.c.text[prev:g.off(kv.Pos())], ",", ";"))
				field := kv.Key.(*ast.Ident).Name
				if token.IsExported(field) {
					b.WriteString("ξp." + field)
				} else {
					b.WriteString("*" + pkg + ".Ξf_" + tname + "_" + field + "(ξp)")
				}
				b.WriteString(" = " + g.nodeText(kv.Value))
				prev = g.off(kv.End())
			}
			b.WriteString(strings.ReplaceAll(g.c.text[prev:g.off(lit.Rbrace)], ",", ";"))
			b.WriteString("})")
			s = b.String()
		}
		if ptr {
			s = rtName + ".Ptr(" + s + ")"
		}
		return s
	})
}

func (g *generator) labelOf(obj types.Object) string {
	if c := g.t.w.bySeq(g.cellOf(obj)); c != nil {
		return c.label
	}
	return g.t.label
}

// goStmt runs the goroutine through cellrt.Go, which reports a panic instead
// of ending the session. The function and arguments are evaluated where the
// go statement stands, as Go specifies.
func (g *generator) goStmt(s *ast.GoStmt) {
	info := g.c.info
	call := s.Call
	fun := ast.Unparen(call.Fun)
	if tv := info.Types[fun]; tv.IsBuiltin() || tv.IsType() {
		return
	}
	if id := funIdent(fun); id != nil {
		if _, generic := info.Instances[id]; generic {
			if _, explicit := fun.(*ast.IndexExpr); !explicit {
				if _, explicit := fun.(*ast.IndexListExpr); !explicit {
					return // an inferred instantiation cannot be stored in a variable
				}
			}
		}
	}
	g.r.add(g.off(s.Pos()), g.off(s.End()), func() string {
		g.gensym++
		n := g.gensym
		names := []string{fmt.Sprintf("ξgo%df", n)}
		values := []string{g.nodeText(call.Fun)}
		var args []string
		for i, a := range call.Args {
			tv := info.Types[a]
			if tv.Value != nil || tv.IsNil() {
				args = append(args, g.nodeText(a))
				continue
			}
			name := fmt.Sprintf("ξgo%da%d", n, i)
			names = append(names, name)
			values = append(values, g.nodeText(a))
			args = append(args, name)
		}
		ell := ""
		if call.Ellipsis.IsValid() {
			ell = "..."
		}
		return fmt.Sprintf("{ %s := %s; %s.Go(func() { %s(%s%s) }) }",
			strings.Join(names, ", "), strings.Join(values, ", "), rtName, names[0], strings.Join(args, ", "), ell)
	})
}

func funIdent(e ast.Expr) *ast.Ident {
	switch x := e.(type) {
	case *ast.Ident:
		return x
	case *ast.SelectorExpr:
		return x.Sel
	case *ast.IndexExpr:
		return funIdent(x.X)
	case *ast.IndexListExpr:
		return funIdent(x.X)
	}
	return nil
}

// varStmt turns a top-level var declaration into assignments to the
// package-level variables it declares.
func (g *generator) varStmt(s *ast.DeclStmt) {
	gd, ok := s.Decl.(*ast.GenDecl)
	if !ok || gd.Tok != token.VAR {
		return
	}
	g.r.add(g.off(s.Pos()), g.off(s.End()), func() string {
		var b strings.Builder
		prev := g.off(s.Pos())
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			b.WriteString(newlinesOf(g.c.text[prev:g.off(vs.Pos())]))
			var names []string
			for _, n := range vs.Names {
				names = append(names, g.nodeText(n))
			}
			if vs.Type != nil {
				g.removed = append(g.removed, vs.Type) // the variable is declared with its type elsewhere
			}
			if len(vs.Values) > 0 {
				b.WriteString(strings.Join(names, ", ") + " = " + g.r.text(g.off(vs.Values[0].Pos()), g.off(vs.Values[len(vs.Values)-1].End())) + ";")
				if vs.Type != nil {
					b.WriteString(newlinesOf(g.nodeText(vs.Type)))
				}
			} else {
				for _, n := range names {
					if n != "_" {
						b.WriteString(rtName + ".Zero(&" + n + ");")
					}
				}
				b.WriteString(newlinesOf(g.c.text[g.off(vs.Pos()):g.off(vs.End())]))
			}
			prev = g.off(vs.End())
		}
		b.WriteString(newlinesOf(g.c.text[prev:g.off(s.End())]))
		return b.String()
	})
}

func newlinesOf(s string) string { return strings.Repeat("\n", strings.Count(s, "\n")) }

// recordDecl remembers a declaration for the world of later cells.
func (g *generator) recordDecl(rec *cellRecord, it item) {
	start, end := g.c.offA+it.start, g.c.offA+it.end
	for _, d := range g.c.file.Decls {
		if g.off(d.Pos()) < start || g.off(d.End()) > end {
			continue
		}
		names, recv, method := declNames(d)
		if recv != "" {
			if obj, ok := g.c.pkg.Scope().Lookup(recv).(*types.TypeName); ok && g.cellOf(obj) != g.t.seq {
				g.fail(d.Pos(), "method %s: type %s is declared in %s; declare methods in the same cell as their type (run that cell again with the method added)", method, recv, g.labelOf(obj))
				continue
			}
		}
		text := g.t.src[it.start:it.end]
		rec.decls = append(rec.decls, declRecord{text: text, names: names, recv: recv})
	}
}

// imports lists the generated file's imports and records the cell's own
// imports in rec for later cells.
func (g *generator) imports(rec *cellRecord) []string {
	info := g.c.info
	used := map[string]string{} // name → path
	isRemoved := func(p token.Pos) bool {
		for _, n := range g.removed {
			if p >= n.Pos() && p < n.End() {
				return true
			}
		}
		return false
	}
	for id, obj := range info.Uses {
		pn, ok := obj.(*types.PkgName)
		if !ok || !g.inCell(id.Pos()) || isRemoved(id.Pos()) {
			continue
		}
		if p := pn.Imported().Path(); p != "C" {
			used[id.Name] = p
		}
	}
	var lines []string
	// The cell's own imports are remembered even when unused here: a user
	// who imports in one cell uses the package in the next.
	for _, is := range g.c.file.Imports {
		if !g.inCell(is.Pos()) {
			continue
		}
		p, _ := strconv.Unquote(is.Path.Value)
		var name string
		switch {
		case is.Name != nil:
			name = is.Name.Name
		default:
			if pn, ok := info.Implicits[is].(*types.PkgName); ok {
				name = pn.Name()
			}
		}
		switch name {
		case "_", ".":
			lines = append(lines, name+" "+strconv.Quote(p))
		case "", "C":
		default:
			rec.imports[name] = p
		}
		if p == "C" {
			lines = append(lines, cgoImport(g.c, is))
		}
	}
	for name, p := range g.c.imports {
		if _, own := rec.imports[name]; !own {
			if _, u := used[name]; u {
				rec.imports[name] = p
			}
		}
	}
	for _, name := range sortedKeys(used) {
		lines = append(lines, name+" "+strconv.Quote(used[name]))
	}
	for _, alias := range sortedKeys(g.tp.imports) {
		lines = append(lines, alias+" "+strconv.Quote(g.tp.imports[alias]))
	}
	var seqs []int
	for seq := range g.tp.cells {
		seqs = append(seqs, seq)
	}
	sort.Ints(seqs)
	for _, seq := range seqs {
		lines = append(lines, pkgAlias(seq)+" "+strconv.Quote(pkgPath(seq)))
	}
	lines = append(lines, rtName+` "github.com/ipclab/ipclab/display/cellrt"`)
	return lines
}

// cgoImport keeps the C preamble that must stand right above import "C".
func cgoImport(c *checked, is *ast.ImportSpec) string {
	for _, d := range c.file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT || gd.Doc == nil {
			continue
		}
		for _, s := range gd.Specs {
			if s == is {
				return ")\n\n" + c.text[c.fset.Position(gd.Doc.Pos()).Offset:c.fset.Position(gd.Doc.End()).Offset] + "\nimport \"C\"\n\nimport ("
			}
		}
	}
	return `)
import "C"
import (`
}
