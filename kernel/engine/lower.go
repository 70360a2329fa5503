package engine

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strconv"
	"strings"

	"github.com/ipclab/ipclab/display/cellhost"
)

// Cells whose statements only declare variables, read, assign, call and
// build values with what earlier cells and imported packages already loaded
// into the session are not compiled: they are lowered to a cellhost.Program,
// which the session process evaluates with reflect (display/cellhost/eval.go).
// Lowering accepts only what the evaluator does exactly as compiled Go would;
// anything else is compiled as usual, and so is a Program whose symbols the
// session lacks.

// cellrtPath is where the runtime replacements of runtimeCalls live.
const cellrtPath = "github.com/ipclab/ipclab/display/cellrt"

type lowerer struct {
	g   *generator
	why string // the first reason the cell must be compiled
	// top is false inside a block, where := would declare local variables.
	top bool
}

func (l *lowerer) no(format string, args ...any) *cellhost.Expr {
	if l.why == "" {
		l.why = fmt.Sprintf(format, args...)
	}
	return nil
}

// lower returns the cell as a Program, or nil and why it must be compiled.
func (g *generator) lower() (*cellhost.Program, string) {
	c := g.c
	for _, it := range c.items {
		if it.kind == itemDecl {
			return nil, "it declares something"
		}
	}
	if c.runBody == nil {
		return nil, "no statements"
	}
	l := &lowerer{g: g, top: true}
	p := &cellhost.Program{File: g.t.lineDir, Stmts: l.stmts(c.runBody.List, lastStmt(c))}
	if l.why != "" {
		return nil, l.why
	}
	return p, ""
}

// stmts lowers a list of statements; last is the cell's trailing one.
func (l *lowerer) stmts(list []ast.Stmt, last ast.Stmt) []*cellhost.Stmt {
	var out []*cellhost.Stmt
	for _, s := range list {
		if !l.g.inCell(s.Pos()) {
			continue
		}
		line, _ := lineCol(l.g.t.src, l.g.c.cellOffset(s.Pos()))
		st := l.stmt(s, s == last)
		if l.why != "" {
			return nil
		}
		if st != nil {
			st.Line = line
			out = append(out, st)
		}
	}
	return out
}

func (l *lowerer) stmt(s ast.Stmt, last bool) *cellhost.Stmt {
	info := l.g.c.info
	switch s := s.(type) {
	case *ast.EmptyStmt:
		return nil
	case *ast.ExprStmt:
		if last && !l.g.t.silent && l.g.isValueExpr(s.X) {
			return &cellhost.Stmt{Op: "result", Rhs: []*cellhost.Expr{l.expr(s.X, nil)}}
		}
		return &cellhost.Stmt{Op: "expr", Rhs: []*cellhost.Expr{l.multi(s.X)}}
	case *ast.SendStmt:
		ch := info.Types[s.Chan].Type
		ct, ok := ch.Underlying().(*types.Chan)
		if !ok {
			l.no("a send on a %s", ch)
			return nil
		}
		return &cellhost.Stmt{Op: "send", Lhs: []*cellhost.Expr{l.expr(s.Chan, nil)}, Rhs: []*cellhost.Expr{l.expr(s.Value, ct.Elem())}}
	case *ast.IncDecStmt:
		tok := "+"
		if s.Tok == token.DEC {
			tok = "-"
		}
		return &cellhost.Stmt{Op: "assign", Tok: tok, Lhs: []*cellhost.Expr{l.place(s.X)}}
	case *ast.AssignStmt:
		return l.assign(s)
	case *ast.IfStmt:
		// if cond { … } else { … }: no loop in it, so evaluating it costs
		// nothing that compiled speed would win back.
		if s.Init != nil {
			l.no("an if with an init statement")
			return nil
		}
		top := l.top
		l.top = false
		defer func() { l.top = top }()
		st := &cellhost.Stmt{Op: "if", Rhs: []*cellhost.Expr{l.expr(s.Cond, nil)}, Body: l.stmts(s.Body.List, nil)}
		switch e := s.Else.(type) {
		case *ast.BlockStmt:
			st.Else = l.stmts(e.List, nil)
		case *ast.IfStmt:
			st.Else = l.stmts([]ast.Stmt{e}, nil)
		}
		return st
	}
	l.no("a %T statement", s)
	return nil
}

func (l *lowerer) assign(s *ast.AssignStmt) *cellhost.Stmt {
	info := l.g.c.info
	st := &cellhost.Stmt{Op: "assign"}
	switch {
	case s.Tok == token.ASSIGN:
	case s.Tok == token.DEFINE:
		// x := … at the top of the cell declares session variables, which
		// the evaluator creates in the registry with the value's type.
		if !l.top {
			l.no("a local variable")
			return nil
		}
		st.Op = "define"
	default:
		st.Tok = strings.TrimSuffix(s.Tok.String(), "=")
	}
	for _, x := range s.Lhs {
		if id, ok := x.(*ast.Ident); ok && id.Name == "_" {
			st.Lhs = append(st.Lhs, nil)
			continue
		}
		if id, ok := x.(*ast.Ident); ok && st.Op == "define" {
			if v, ok := l.g.c.info.Defs[id].(*types.Var); ok {
				st.Lhs = append(st.Lhs, &cellhost.Expr{Op: "new", Pkg: pkgPath(l.g.t.seq), Name: exportedName(v.Name())})
				continue
			}
		}
		st.Lhs = append(st.Lhs, l.place(x))
	}
	if len(s.Lhs) > 1 && len(s.Rhs) == 1 {
		if _, ok := ast.Unparen(s.Rhs[0]).(*ast.CallExpr); !ok {
			l.no("a comma-ok assignment")
			return nil
		}
		st.Rhs = []*cellhost.Expr{l.multi(s.Rhs[0])}
		return st
	}
	for i, r := range s.Rhs {
		var want types.Type
		if !isBlank(s.Lhs[i]) {
			want = info.Types[s.Lhs[i]].Type
			if info.Defs[identOf(s.Lhs[i])] != nil {
				want = nil // a new variable takes the value's own type
			}
		}
		if st.Tok == "<<" || st.Tok == ">>" {
			want = nil
		}
		st.Rhs = append(st.Rhs, l.expr(r, want))
	}
	return st
}

func isBlank(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "_"
}

// place lowers the left side of an assignment.
func (l *lowerer) place(e ast.Expr) *cellhost.Expr {
	switch x := ast.Unparen(e).(type) {
	case *ast.Ident, *ast.SelectorExpr, *ast.IndexExpr, *ast.StarExpr:
		return l.expr(x, nil)
	}
	return l.no("assignment to %T", e)
}

// multi lowers an expression that may have several values (a call).
func (l *lowerer) multi(e ast.Expr) *cellhost.Expr {
	if call, ok := ast.Unparen(e).(*ast.CallExpr); ok {
		return l.call(call)
	}
	return l.expr(e, nil)
}

// expr lowers an expression with one value; want is the type the value is
// assigned to (nil where the expression's own type stands): an untyped nil
// needs one.
func (l *lowerer) expr(e ast.Expr, want types.Type) *cellhost.Expr {
	if l.why != "" {
		return nil
	}
	info := l.g.c.info
	tv := info.Types[e]
	if tv.Type == nil || isInvalid(tv.Type) {
		return l.no("an expression without a type (cgo)")
	}
	if tv.IsNil() {
		if want == nil {
			return l.no("nil without a type")
		}
		return &cellhost.Expr{Op: "nil"}
	}
	if tv.Value != nil {
		if sym := l.constSym(e); sym != nil {
			return sym
		}
		return l.constant(tv)
	}
	switch x := e.(type) {
	case *ast.ParenExpr:
		return l.expr(x.X, want)
	case *ast.Ident:
		return l.ident(x, info.Uses[x])
	case *ast.SelectorExpr:
		if pn, ok := info.Uses[identOf(x.X)].(*types.PkgName); ok {
			if pn.Imported().Path() == "C" {
				return l.no("cgo")
			}
			return l.ident(x.Sel, info.Uses[x.Sel])
		}
		sel := info.Selections[x]
		if sel == nil || sel.Kind() != types.FieldVal {
			return l.no("a method value")
		}
		return &cellhost.Expr{Op: "field", X: l.expr(x.X, nil), Path: sel.Index()}
	case *ast.CallExpr:
		if t, ok := info.Types[x].Type.(*types.Tuple); ok && t.Len() != 1 {
			return l.no("a call with %d values used as one", t.Len())
		}
		return l.call(x)
	case *ast.IndexExpr:
		if _, generic := info.Instances[funIdent(x.X)]; generic {
			return l.no("a generic instantiation")
		}
		xt := info.Types[x.X].Type
		if m, ok := xt.Underlying().(*types.Map); ok {
			return &cellhost.Expr{Op: "index", X: l.expr(x.X, nil), Y: l.expr(x.Index, m.Key())}
		}
		return &cellhost.Expr{Op: "index", X: l.expr(x.X, nil), Y: l.expr(x.Index, nil)}
	case *ast.SliceExpr:
		s := &cellhost.Expr{Op: "slice", X: l.expr(x.X, nil)}
		for _, b := range []struct {
			e   ast.Expr
			dst **cellhost.Expr
		}{{x.Low, &s.Lo}, {x.High, &s.Hi}, {x.Max, &s.Max}} {
			if b.e != nil {
				*b.dst = l.expr(b.e, nil)
			}
		}
		return s
	case *ast.StarExpr:
		return &cellhost.Expr{Op: "deref", X: l.expr(x.X, nil)}
	case *ast.CompositeLit:
		return l.composite(x, tv.Type)
	case *ast.UnaryExpr:
		switch x.Op {
		case token.AND:
			switch lit := ast.Unparen(x.X).(type) {
			case *ast.Ident, *ast.SelectorExpr, *ast.IndexExpr, *ast.StarExpr:
				return &cellhost.Expr{Op: "addr", X: l.expr(x.X, nil)}
			case *ast.CompositeLit:
				return l.composite(lit, tv.Type) // &T{…}: a literal of pointer type
			}
			return l.no("& of a %T", x.X)
		case token.ARROW:
			return &cellhost.Expr{Op: "recv", X: l.expr(x.X, nil)}
		case token.SUB, token.ADD, token.NOT, token.XOR:
			return &cellhost.Expr{Op: "unary", Tok: x.Op.String(), X: l.expr(x.X, nil)}
		}
		return l.no("unary %s", x.Op)
	case *ast.BinaryExpr:
		shift := x.Op == token.SHL || x.Op == token.SHR
		xt, yt := info.Types[x.X].Type, info.Types[x.Y].Type
		b := &cellhost.Expr{Op: "binary", Tok: x.Op.String()}
		if shift {
			if info.Types[x.X].Value != nil {
				return l.no("a constant shifted by a variable")
			}
			b.X, b.Y = l.expr(x.X, nil), l.expr(x.Y, nil)
			return b
		}
		b.X, b.Y = l.expr(x.X, yt), l.expr(x.Y, xt)
		return b
	}
	return l.no("a %T", e)
}

func isGeneric(tn *types.TypeName) bool {
	switch t := tn.Type().(type) {
	case *types.Named:
		return t.TypeParams().Len() > 0
	case *types.Alias:
		return t.TypeParams().Len() > 0 || isGenericType(types.Unalias(t))
	}
	return false
}

func isGenericType(t types.Type) bool {
	n, ok := t.(*types.Named)
	return ok && (n.TypeParams().Len() > 0 || n.TypeArgs().Len() > 0)
}

func isBasic(t types.Type) bool {
	_, ok := types.Unalias(t).(*types.Basic)
	return ok
}

// typ lowers a type the evaluator can build with reflect: basic types, any
// and error, named types a cell or an imported package declared, and
// slices, arrays, maps, pointers and channels of those.
func (l *lowerer) typ(t types.Type) *cellhost.Expr {
	switch t := types.Unalias(t).(type) {
	case *types.Basic:
		if t.Info()&types.IsUntyped != 0 {
			return l.typ(types.Default(t))
		}
		if t.Kind() == types.UnsafePointer || t.Kind() == types.Invalid {
			return l.no("the type %s", t)
		}
		return &cellhost.Expr{Op: "type", Kind: t.Name()}
	case *types.Named:
		obj := t.Obj()
		switch {
		case t.TypeArgs().Len() > 0 || t.TypeParams().Len() > 0:
			return l.no("the generic type %s", t)
		case obj.Pkg() == nil:
			return &cellhost.Expr{Op: "type", Kind: obj.Name()} // error
		case obj.Parent() != obj.Pkg().Scope():
			return l.no("the local type %s", t)
		case obj.Pkg() == l.g.c.pkg:
			return &cellhost.Expr{Op: "type", Pkg: pkgPath(l.g.cellOf(obj)), Name: obj.Name()}
		case !obj.Exported():
			return l.no("the unexported type %s", t)
		}
		return &cellhost.Expr{Op: "type", Pkg: obj.Pkg().Path(), Name: obj.Name()}
	case *types.Interface:
		if t.Empty() {
			return &cellhost.Expr{Op: "type", Kind: "any"}
		}
	case *types.Slice, *types.Pointer, *types.Map, *types.Array, *types.Chan:
		return l.compositeType(t)
	}
	return l.no("the type %s", t)
}

// compositeTypes are the unnamed types of basic elements that the prelude
// exports, so that the evaluator never builds a type with reflect: a type
// built at run time is not the one later plugins bring, and a value of it
// in an interface would not match a compiled cell's type switch.
var compositeTypes = []string{
	"[]int", "[]int8", "[]int16", "[]int32", "[]int64", "[]uint", "[]uint8", "[]uint16", "[]uint32", "[]uint64",
	"[]float32", "[]float64", "[]complex128", "[]string", "[]bool", "[]byte", "[]rune", "[]any", "[]error",
	"*int", "*int64", "*uint64", "*float64", "*string", "*bool",
	"map[string]int", "map[string]int64", "map[string]float64", "map[string]string", "map[string]bool",
	"map[string]any", "map[int]int", "map[int]string", "map[int]bool", "map[int]float64",
	"chan int", "chan int64", "chan float64", "chan string", "chan bool", "chan error", "chan any",
	"<-chan int", "chan<- int", "[][]int", "[][]float64", "[][]string", "map[string][]string",
}

// compositeTypesPkg is the registry's name for them.
const compositeTypesPkg = "ipclab.types"

// compositeType lowers an unnamed type: []T and *T of a named T, which every
// export table names beside T, or one of compositeTypes.
func (l *lowerer) compositeType(t types.Type) *cellhost.Expr {
	var elem types.Type
	prefix := "[]"
	switch t := t.(type) {
	case *types.Slice:
		elem = t.Elem()
	case *types.Pointer:
		elem, prefix = t.Elem(), "*"
	}
	if n, ok := types.Unalias(elem).(*types.Named); ok && elem != nil {
		named := l.typ(n)
		if named == nil || named.Pkg == "" {
			return l.no("the type %s", t)
		}
		return &cellhost.Expr{Op: "type", Pkg: named.Pkg, Name: prefix + named.Name}
	}
	s := types.TypeString(t, nil)
	for _, c := range compositeTypes {
		if c == s {
			return &cellhost.Expr{Op: "type", Pkg: compositeTypesPkg, Name: s}
		}
	}
	return l.no("the type %s", t)
}

// composite lowers a composite literal of type t (a pointer type for &T{…}
// and for literals elided inside []*T{…}).
func (l *lowerer) composite(lit *ast.CompositeLit, t types.Type) *cellhost.Expr {
	c := &cellhost.Expr{Op: "composite", Type: l.typ(t)}
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	info := l.g.c.info
	switch u := t.Underlying().(type) {
	case *types.Struct:
		for i, el := range lit.Elts {
			idx, v := i, el
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				idx, v = fieldIndex(u, kv.Key.(*ast.Ident).Name), kv.Value
			}
			c.Path = append(c.Path, idx)
			c.Args = append(c.Args, l.elem(v, u.Field(idx).Type()))
		}
	case *types.Slice, *types.Array:
		elemType := u.(interface{ Elem() types.Type }).Elem()
		next := 0
		for _, el := range lit.Elts {
			v := el
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				n, exact := constant.Int64Val(info.Types[kv.Key].Value)
				if !exact {
					return l.no("an index key")
				}
				next, v = int(n), kv.Value
			}
			c.Path = append(c.Path, next)
			c.Args = append(c.Args, l.elem(v, elemType))
			next++
		}
	case *types.Map:
		for _, el := range lit.Elts {
			kv := el.(*ast.KeyValueExpr)
			c.Keys = append(c.Keys, l.elem(kv.Key, u.Key()))
			c.Args = append(c.Args, l.elem(kv.Value, u.Elem()))
		}
	default:
		return l.no("a literal of %s", t)
	}
	return c
}

// elem lowers an element of a composite literal, whose own literal type may
// be elided.
func (l *lowerer) elem(e ast.Expr, want types.Type) *cellhost.Expr {
	if lit, ok := e.(*ast.CompositeLit); ok && lit.Type == nil {
		return l.composite(lit, l.g.c.info.Types[lit].Type)
	}
	return l.expr(e, want)
}

func fieldIndex(st *types.Struct, name string) int {
	for i := 0; i < st.NumFields(); i++ {
		if st.Field(i).Name() == name {
			return i
		}
	}
	return -1
}

// constSym lowers a reference to a constant of a named type (time.Second)
// to the exported constant, which carries its type.
func (l *lowerer) constSym(e ast.Expr) *cellhost.Expr {
	var id *ast.Ident
	switch x := ast.Unparen(e).(type) {
	case *ast.Ident:
		id = x
	case *ast.SelectorExpr:
		if _, ok := l.g.c.info.Uses[identOf(x.X)].(*types.PkgName); ok {
			id = x.Sel
		}
	}
	if id == nil {
		return nil
	}
	if c, ok := l.g.c.info.Uses[id].(*types.Const); ok && namedOf(c.Type()) != nil {
		return l.ident(id, c)
	}
	return nil
}

func (l *lowerer) constant(tv types.TypeAndValue) *cellhost.Expr {
	t := tv.Type
	if b, ok := t.(*types.Basic); ok && b.Info()&types.IsUntyped != 0 {
		t = types.Default(t)
	}
	b, ok := t.Underlying().(*types.Basic)
	if !ok {
		return l.no("a constant of type %s", t)
	}
	basic := isBasic(t)
	e := &cellhost.Expr{Op: "const", Kind: b.Name()}
	if !basic {
		e.Type = l.typ(t) // carries its type, whatever the context
	}
	v := tv.Value
	switch {
	case b.Info()&types.IsBoolean != 0:
		e.Val = strconv.FormatBool(constant.BoolVal(v))
	case b.Info()&types.IsString != 0:
		e.Val = constant.StringVal(v)
	case b.Info()&types.IsUnsigned != 0:
		n, exact := constant.Uint64Val(constant.ToInt(v))
		if !exact {
			return l.no("constant %s", v)
		}
		e.Val = strconv.FormatUint(n, 10)
	case b.Info()&types.IsInteger != 0:
		n, exact := constant.Int64Val(constant.ToInt(v))
		if !exact {
			return l.no("constant %s", v)
		}
		e.Val = strconv.FormatInt(n, 10)
	case b.Kind() == types.Float32:
		f, _ := constant.Float32Val(constant.ToFloat(v))
		e.Val = strconv.FormatFloat(float64(f), 'g', -1, 32)
	case b.Info()&types.IsFloat != 0:
		f, _ := constant.Float64Val(constant.ToFloat(v))
		e.Val = strconv.FormatFloat(f, 'g', -1, 64)
	case b.Info()&types.IsComplex != 0:
		re, _ := constant.Float64Val(constant.Real(v))
		im, _ := constant.Float64Val(constant.Imag(v))
		e.Val = strconv.FormatComplex(complex(re, im), 'g', -1, 128)
	default:
		return l.no("a constant of type %s", t)
	}
	return e
}

// ident lowers a package-level function, variable or typed constant of a
// cell or an imported package.
func (l *lowerer) ident(id *ast.Ident, obj types.Object) *cellhost.Expr {
	g := l.g
	if obj == nil || obj.Pkg() == nil {
		return l.no("%s", id.Name)
	}
	pkg, name := obj.Pkg().Path(), obj.Name()
	if obj.Pkg() == g.c.pkg {
		if !g.isPackageLevel(obj) {
			return l.no("the local %s", name)
		}
		pkg, name = pkgPath(g.cellOf(obj)), exportedName(name)
	}
	switch o := obj.(type) {
	case *types.Var:
		return &cellhost.Expr{Op: "sym", Pkg: pkg, Name: name, Var: true}
	case *types.Func:
		if o.Type().(*types.Signature).TypeParams().Len() > 0 {
			return l.no("the generic function %s", name)
		}
		if repl, ok := runtimeCalls[pkg+"."+name]; ok {
			pkg, name = cellrtPath, strings.TrimPrefix(repl, rtName+".")
		}
		return &cellhost.Expr{Op: "sym", Pkg: pkg, Name: name}
	case *types.Const:
		return &cellhost.Expr{Op: "sym", Pkg: pkg, Name: name}
	}
	return l.no("%s", name)
}

func (l *lowerer) call(call *ast.CallExpr) *cellhost.Expr {
	info := l.g.c.info
	fun := ast.Unparen(call.Fun)
	ftv := info.Types[fun]
	if info.Types[call].Type == nil {
		return l.no("a call without a type (cgo)")
	}
	switch {
	case ftv.IsType():
		if _, toSlice := info.Types[call.Args[0]].Type.Underlying().(*types.Slice); toSlice && !isBasic(ftv.Type) {
			return l.no("a conversion of a slice to %s", ftv.Type) // to an array: reflect words its panic otherwise
		}
		return &cellhost.Expr{Op: "conv", Type: l.typ(ftv.Type), X: l.expr(call.Args[0], nil)}
	case ftv.IsBuiltin():
		return l.builtin(call, fun)
	}
	if _, generic := info.Instances[funIdent(fun)]; generic {
		return l.no("a generic function")
	}
	sig, ok := ftv.Type.Underlying().(*types.Signature)
	if !ok {
		return l.no("a call of %s", ftv.Type)
	}
	c := &cellhost.Expr{Op: "call", Spread: call.Ellipsis.IsValid()}
	if sel, ok := fun.(*ast.SelectorExpr); ok && info.Selections[sel] != nil {
		s := info.Selections[sel]
		if s.Kind() != types.MethodVal {
			c.Fun = l.expr(fun, nil)
		} else {
			c.Fun = l.method(sel, s)
		}
	} else {
		c.Fun = l.expr(fun, nil)
	}
	if len(call.Args) == 1 {
		if t, ok := info.Types[call.Args[0]].Type.(*types.Tuple); ok && t.Len() > 1 {
			c.Tuple = true
			c.Args = []*cellhost.Expr{l.multi(call.Args[0])}
			return c
		}
	}
	params := sig.Params()
	for i, a := range call.Args {
		var want types.Type
		switch {
		case sig.Variadic() && i >= params.Len()-1:
			want = params.At(params.Len() - 1).Type()
			if !c.Spread {
				want = want.(*types.Slice).Elem()
			}
		case i < params.Len():
			want = params.At(i).Type()
		}
		c.Args = append(c.Args, l.expr(a, want))
	}
	return c
}

func (l *lowerer) method(sel *ast.SelectorExpr, s *types.Selection) *cellhost.Expr {
	fn := s.Obj().(*types.Func)
	name := fn.Name()
	if fn.Pkg() == l.g.c.pkg {
		name = exportedName(name)
	} else if !fn.Exported() {
		return l.no("the unexported method %s", name)
	}
	recv := fn.Type().(*types.Signature).Recv()
	_, ptrRecv := recv.Type().(*types.Pointer)
	xt := l.g.c.info.Types[sel.X].Type
	_, xPtr := xt.Underlying().(*types.Pointer)
	addr := ptrRecv && !xPtr && !types.IsInterface(xt)
	return &cellhost.Expr{Op: "method", X: l.expr(sel.X, nil), Name: name, Addr: addr}
}

func (l *lowerer) builtin(call *ast.CallExpr, fun ast.Expr) *cellhost.Expr {
	id, _ := fun.(*ast.Ident)
	if id == nil {
		return l.no("a builtin")
	}
	info := l.g.c.info
	b := &cellhost.Expr{Op: "builtin", Name: id.Name, Spread: call.Ellipsis.IsValid()}
	switch id.Name {
	case "len", "cap":
		b.Args = []*cellhost.Expr{l.expr(call.Args[0], nil)}
	case "append":
		st, ok := info.Types[call.Args[0]].Type.Underlying().(*types.Slice)
		if !ok {
			return l.no("append to %s", info.Types[call.Args[0]].Type)
		}
		b.Args = []*cellhost.Expr{l.expr(call.Args[0], nil)}
		for _, a := range call.Args[1:] {
			want := st.Elem()
			if b.Spread {
				want = info.Types[a].Type
				if tv := info.Types[a]; tv.Value != nil || tv.IsNil() {
					return l.no("append of a constant list")
				}
			}
			b.Args = append(b.Args, l.expr(a, want))
		}
	case "delete":
		mt, ok := info.Types[call.Args[0]].Type.Underlying().(*types.Map)
		if !ok {
			return l.no("delete")
		}
		b.Args = []*cellhost.Expr{l.expr(call.Args[0], nil), l.expr(call.Args[1], mt.Key())}
	case "make":
		b.Type = l.typ(info.Types[call.Args[0]].Type)
		for _, a := range call.Args[1:] {
			b.Args = append(b.Args, l.expr(a, nil))
		}
		b.Op = "make"
	case "new":
		b.Type, b.Op = l.typ(info.Types[call.Args[0]].Type), "new"
	case "panic":
		if info.Types[call.Args[0]].IsNil() {
			return l.no("panic(nil)")
		}
		b.Args = []*cellhost.Expr{l.expr(call.Args[0], types.Universe.Lookup("any").Type())}
	default:
		return l.no("the builtin %s", id.Name)
	}
	return b
}

// varRef is how a compiled cell reaches a variable that an evaluated cell
// declared: through a pointer from cellrt's registry, fetched once when the
// cell's package is loaded (a session process restarted since then starts
// the variable again from its zero value, as it does for compiled cells).
func (g *generator) varRef(seq int, v *types.Var) string {
	name := fmt.Sprintf("ξv%04d_%s", seq, v.Name())
	if _, ok := g.varRefs[name]; !ok {
		g.tp.err = nil
		typ := g.tp.str(v.Type())
		if g.tp.err != nil {
			g.fail(v.Pos(), "cannot use %s here: %v", v.Name(), g.tp.err)
		}
		if g.varRefs == nil {
			g.varRefs = map[string]string{}
		}
		g.varRefs[name] = fmt.Sprintf("var %s = %s.VarOf[%s](%q, %q)\n", name, rtName, typ, pkgPath(seq), exportedName(v.Name()))
	}
	return "(*" + name + ")"
}

// maxTable is the most symbols a package's export table may name; a larger
// package (x/sys/unix has thousands) exports only what cells used, so that
// linking it does not cost every cell that imports it.
const maxTable = 400

// exportCall is Go source that exports pkg's functions, variables and typed
// constants to evaluated cells, naming the package as alias. only, if not
// nil, limits it to those names; it returns "" when there is nothing.
func exportCall(alias string, pkg *types.Package, only map[string]bool) string {
	var entries []string
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		if token.IsExported(name) && (only == nil || only[name]) {
			entries = appendEntry(entries, scope.Lookup(name), name, alias+"."+name)
		}
	}
	return exportSource(pkg.Path(), entries)
}

// appendEntry adds obj's entry to an export table: key ↦ expr, the Go
// expression naming it (a pointer for a variable, a nil *T for a type T).
// Generic functions and types, and untyped or basic constants (the kernel
// folds those), have none.
func appendEntry(entries []string, obj types.Object, key, expr string) []string {
	switch o := obj.(type) {
	case *types.Func:
		if o.Type().(*types.Signature).TypeParams().Len() == 0 {
			entries = append(entries, fmt.Sprintf("%q: %s", key, expr))
		}
	case *types.Var:
		entries = append(entries, fmt.Sprintf("%q: &%s", key, expr))
	case *types.Const:
		if namedOf(o.Type()) != nil {
			entries = append(entries, fmt.Sprintf("%q: %s", key, expr))
		}
	case *types.TypeName:
		if !isGeneric(o) {
			entries = append(entries, typeEntries(key, expr))
		}
	}
	return entries
}

// exportSource is the cellrt.Export call of a table; "" when it is empty.
func exportSource(pkg string, entries []string) string {
	if len(entries) == 0 {
		return ""
	}
	return fmt.Sprintf("%s.Export(%q, map[string]any{\n\t\t%s,\n\t})\n", rtName, pkg, strings.Join(entries, ",\n\t\t"))
}

// typeEntries exports a type T (as a nil *T) with []T and *T, so that the
// evaluator finds those in the registry too instead of building them.
func typeEntries(name, expr string) string {
	return fmt.Sprintf("%q: (*%s)(nil), %q: (*[]%s)(nil), %q: (**%s)(nil)", name, expr, "[]"+name, expr, "*"+name, expr)
}

// compositeTypesExport is the prelude's export of compositeTypes.
func compositeTypesExport() string {
	var entries []string
	for _, t := range compositeTypes {
		entries = append(entries, fmt.Sprintf("%q: (*%s)(nil)", t, t))
	}
	return exportSource(compositeTypesPkg, entries)
}

// tableSize counts what exportCall would name.
func tableSize(pkg *types.Package) int {
	n := 0
	for _, name := range pkg.Scope().Names() {
		if token.IsExported(name) {
			n++
		}
	}
	return n
}

// cellExports is the cell package's init: it exports the cell's own
// package-level functions, variables and typed constants under the names the
// generated package gives them.
func (g *generator) cellExports() string {
	var entries []string
	add := func(obj types.Object) {
		name := obj.Name()
		if name == "_" || name == "init" || name == "main" || name == runFunc || !g.inCell(obj.Pos()) {
			return
		}
		if _, isType := obj.(*types.TypeName); !isType {
			name = exportedName(name) // types keep their names in the cell's package
		}
		entries = appendEntry(entries, obj, name, name)
	}
	for _, name := range g.c.pkg.Scope().Names() {
		add(g.c.pkg.Scope().Lookup(name))
	}
	if g.c.runScp != nil {
		for _, name := range g.c.runScp.Names() {
			add(g.c.runScp.Lookup(name))
		}
	}
	if len(entries) == 0 {
		return ""
	}
	return "\nfunc init() {\n\t" + exportSource(pkgPath(g.t.seq), entries) + "}\n"
}

// pluginExports is the plugin main's init: export tables of the packages the
// cell imports that the session does not have whole yet. It returns the
// source, the extra imports it needs, and the packages exported whole.
func (g *generator) pluginExports(paths []string) (src string, imports []string, whole []string) {
	byPath := map[string]*types.Package{}
	for _, p := range g.c.pkg.Imports() {
		byPath[p.Path()] = p
	}
	used := map[string]map[string]bool{}
	for id, obj := range g.c.info.Uses {
		if obj == nil || obj.Pkg() == nil || !g.inCell(id.Pos()) {
			continue
		}
		if used[obj.Pkg().Path()] == nil {
			used[obj.Pkg().Path()] = map[string]bool{}
		}
		used[obj.Pkg().Path()][obj.Name()] = true
	}
	var b strings.Builder
	for i, p := range paths {
		pkg := byPath[p]
		if pkg == nil || p == "C" || p == "unsafe" || g.t.exported[p] {
			continue
		}
		alias := fmt.Sprintf("ξp%d", i)
		var only map[string]bool
		if tableSize(pkg) > maxTable {
			only = used[p]
		}
		call := exportCall(alias, pkg, only)
		if call == "" {
			continue
		}
		b.WriteString("\t" + call)
		imports = append(imports, fmt.Sprintf("%s %q", alias, p))
		if only == nil {
			whole = append(whole, p)
		}
	}
	if b.Len() == 0 {
		return "", nil, nil
	}
	return "func init() {\n" + b.String() + "}\n", imports, whole
}
