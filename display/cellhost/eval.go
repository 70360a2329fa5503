package cellhost

import (
	"fmt"
	"math"
	"reflect"
	"unsafe"

	"github.com/ipclab/ipclab/display/cellrt"
)

// A cell that only declares variables, reads, assigns, calls and builds
// values with what is already loaded (x, p.norm(), n++; n, y := f(x),
// []point{{3, 4}}, plots.Throughput(r)) does not need to be compiled: the
// kernel type-checks it, lowers it to a Program and the session process
// evaluates that with reflect, in milliseconds instead of the 0.4 s a
// plugin's link takes. The kernel only lowers what this evaluator implements
// exactly as Go does; everything else (loops, declarations of functions and
// types, closures, go statements) is compiled. Since the type checker has
// accepted the cell, the evaluator may convert a value to the type its use
// needs without checking the rules again. Operators, types and constants
// are in operators.go.

// Program is a cell lowered for evaluation.
type Program struct {
	File  string  `json:"file"` // the cell's //line file name, for panics
	Stmts []*Stmt `json:"stmts"`
}

// Stmt is one statement of a Program.
type Stmt struct {
	Line int     `json:"line"`
	Op   string  `json:"op"` // "expr", "result", "assign", "define", "send", "if"
	Lhs  []*Expr `json:"lhs,omitempty"`
	Rhs  []*Expr `json:"rhs,omitempty"`
	// Tok is the operator of x op= y and x++ (as "+"); "" for =.
	Tok string `json:"tok,omitempty"`
	// Body and Else are the branches of if Rhs[0].
	Body []*Stmt `json:"body,omitempty"`
	Else []*Stmt `json:"else,omitempty"`
}

// Expr is one expression of a Program. Op says which fields it uses:
//
//	sym     Pkg, Name: a registered function, constant or variable (Var)
//	new     Pkg, Name: on the left of define, a session variable to create
//	const   Kind, Val: a constant of a basic kind; of Type if that is named
//	nil     the nil of the type its use needs
//	field   X, Path: struct fields, dereferencing pointers on the way
//	method  X, Name, Addr: a method value (Addr: take X's address first)
//	call    Fun, Args, Spread (f(xs...)), Tuple (f(g()) with g returning several)
//	builtin Name (len, cap, append, delete, panic), Args, Spread
//	conv    Type, X: conversion
//	type    a type: Pkg, Name (registered, as a nil pointer to it); or Kind,
//	        a basic type, "any" or "error"
//	composite Type, Args, Path (struct fields or element indices), Keys
//	        (map keys); a literal of pointer type is &T{…}
//	make    Type, Args; new Type
//	index   X, Y; slice X, Lo, Hi, Max; unary Tok, X; binary Tok, X, Y
//	deref   X; addr X; recv X
type Expr struct {
	Op     string  `json:"op"`
	Pkg    string  `json:"pkg,omitempty"`
	Name   string  `json:"name,omitempty"`
	Var    bool    `json:"var,omitempty"`
	Kind   string  `json:"kind,omitempty"`
	Val    string  `json:"val,omitempty"`
	Path   []int   `json:"path,omitempty"`
	Addr   bool    `json:"addr,omitempty"`
	Tok    string  `json:"tok,omitempty"`
	Spread bool    `json:"spread,omitempty"`
	Tuple  bool    `json:"tuple,omitempty"`
	X      *Expr   `json:"x,omitempty"`
	Y      *Expr   `json:"y,omitempty"`
	Fun    *Expr   `json:"fun,omitempty"`
	Args   []*Expr `json:"args,omitempty"`
	Lo     *Expr   `json:"lo,omitempty"`
	Hi     *Expr   `json:"hi,omitempty"`
	Max    *Expr   `json:"max,omitempty"`
	Type   *Expr   `json:"type,omitempty"`
	Keys   []*Expr `json:"keys,omitempty"`
}

// errUnresolved means a Program names a symbol the session does not have:
// the kernel then compiles the cell instead.
type errUnresolved struct{ pkg, name string }

func (e errUnresolved) Error() string {
	return fmt.Sprintf("%s.%s is not exported to the session", e.pkg, e.name)
}

// resolve looks up every symbol before anything runs, so that a Program that
// cannot be evaluated has no effects.
func (p *Program) resolve() (map[*Expr]reflect.Value, error) {
	syms := map[*Expr]reflect.Value{}
	defined := map[[2]string]bool{} // variables the program itself declares
	for _, s := range p.Stmts {
		for _, e := range s.Lhs {
			if e != nil && e.Op == "new" {
				defined[[2]string{e.Pkg, e.Name}] = true
			}
		}
	}
	var err error
	var walk func(e *Expr)
	walk = func(e *Expr) {
		if e == nil || err != nil {
			return
		}
		if (e.Op == "sym" && !defined[[2]string{e.Pkg, e.Name}]) || (e.Op == "type" && e.Pkg != "") {
			v, ok := lookup(e)
			if !ok {
				err = errUnresolved{e.Pkg, e.Name}
				return
			}
			syms[e] = v
		}
		for _, x := range []*Expr{e.X, e.Y, e.Fun, e.Lo, e.Hi, e.Max, e.Type} {
			walk(x)
		}
		for _, list := range [][]*Expr{e.Args, e.Keys} {
			for _, a := range list {
				walk(a)
			}
		}
	}
	var walkStmts func(list []*Stmt)
	walkStmts = func(list []*Stmt) {
		for _, s := range list {
			for _, e := range s.Lhs {
				walk(e)
			}
			for _, e := range s.Rhs {
				walk(e)
			}
			walkStmts(s.Body)
			walkStmts(s.Else)
		}
	}
	walkStmts(p.Stmts)
	return syms, err
}

// lookup finds a symbol or a type in cellrt's registry: a variable is
// registered as a pointer to it, a type T as a nil *T and carried here by
// its zero value.
func lookup(e *Expr) (reflect.Value, bool) {
	v, ok := cellrt.Symbol(e.Pkg, e.Name)
	rv := reflect.ValueOf(v)
	switch {
	case !ok:
		return reflect.Value{}, false
	case e.Op == "type":
		if rv.Kind() != reflect.Pointer {
			return reflect.Value{}, false
		}
		return reflect.Zero(rv.Type().Elem()), true
	case e.Var:
		if rv.Kind() != reflect.Pointer || rv.IsNil() {
			return reflect.Value{}, false
		}
		return rv.Elem(), true
	}
	return rv, true
}

// runtimeError is a run-time panic the evaluator raises itself, worded as
// the Go runtime words it.
type runtimeError string

func (e runtimeError) Error() string { return "runtime error: " + string(e) }
func (runtimeError) RuntimeError()   {}

// evaluator runs one Program; line is the statement running, for panics.
type evaluator struct {
	syms map[*Expr]reflect.Value
	line int
}

// evalProgram runs a Program as runCell runs a plugin's Run: on the cell's
// locked goroutine, so interrupts, os.Exit and panics are reported the same.
func evalProgram(p *Program) map[string]string {
	syms, err := p.resolve()
	if err != nil {
		return map[string]string{"ename": "Unresolved", "evalue": err.Error()}
	}
	ev := &evaluator{syms: syms}
	out := runCell(func() { ev.stmts(p.Stmts) })
	if out != nil && out["stack"] != "" {
		// The evaluator has no frame in the cell's file: add the statement's.
		out["stack"] += fmt.Sprintf("Run()\n\t%s:%d +0x0\n", p.File, ev.line)
	}
	return out
}

func (ev *evaluator) stmts(list []*Stmt) {
	for _, s := range list {
		ev.line = s.Line
		ev.stmt(s)
	}
}

func (ev *evaluator) stmt(s *Stmt) {
	switch s.Op {
	case "if":
		if ev.value(s.Rhs[0], nil).Bool() {
			ev.stmts(s.Body)
		} else {
			ev.stmts(s.Else)
		}
	case "expr":
		ev.multi(s.Rhs[0])
	case "result":
		v := ev.value(s.Rhs[0], nil)
		cellrt.Result(exported(v).Interface())
	case "send":
		ch := ev.value(s.Lhs[0], nil)
		if ch.IsNil() {
			select {} // as Go does: a send on a nil channel blocks forever
		}
		ch.Send(ev.value(s.Rhs[0], ch.Type().Elem()))
	case "assign", "define":
		ev.assign(s)
	default:
		panic(fmt.Sprintf("ipclab: cannot evaluate a %q statement", s.Op))
	}
}

func (ev *evaluator) assign(s *Stmt) {
	if s.Tok != "" {
		// x op= y evaluates x's operands once.
		dst := ev.target(s.Lhs[0])
		cur := dst.get()
		var y reflect.Value
		if len(s.Rhs) > 0 {
			y = ev.value(s.Rhs[0], operandType(s.Tok, cur.Type()))
		} else {
			y = reflect.ValueOf(1).Convert(cur.Type()) // x++ and x--
		}
		dst.set(binary(s.Tok, cur, y))
		return
	}
	dsts := make([]target, len(s.Lhs))
	for i, l := range s.Lhs {
		if l != nil && l.Op != "new" {
			dsts[i] = ev.target(l)
		}
	}
	var vals []reflect.Value
	if len(s.Rhs) == 1 && len(s.Lhs) > 1 {
		vals = ev.multi(s.Rhs[0])
	} else {
		for i, r := range s.Rhs {
			var t reflect.Type
			if dsts[i].ok() {
				t = dsts[i].typ()
			}
			vals = append(vals, ev.value(r, t))
		}
	}
	for i := range vals {
		if dsts[i].ok() {
			vals[i] = convert(vals[i], dsts[i].typ())
		}
		if len(s.Lhs) > 1 {
			vals[i] = copyOf(vals[i]) // a, b = b, a: every right side is read before any is assigned
		}
	}
	for i, d := range dsts {
		if d.ok() {
			d.set(vals[i])
		}
	}
	for i, l := range s.Lhs {
		if l != nil && l.Op == "new" {
			// A new session variable, of the value's type: the evaluator
			// keeps every value in the type the checker gave it.
			p := reflect.New(vals[i].Type())
			p.Elem().Set(exported(vals[i]))
			cellrt.Export(l.Pkg, map[string]any{l.Name: p.Interface()})
		}
	}
}

// operandType is the type y must have in x op= y: a shift count keeps its own.
func operandType(tok string, x reflect.Type) reflect.Type {
	if tok == "<<" || tok == ">>" {
		return nil
	}
	return x
}

// target is an assignable place: a settable value or a map element.
type target struct {
	v      reflect.Value
	m, key reflect.Value
}

func (t target) ok() bool { return t.v.IsValid() || t.m.IsValid() }

func (t target) typ() reflect.Type {
	if t.m.IsValid() {
		return t.m.Type().Elem()
	}
	return t.v.Type()
}

func (t target) get() reflect.Value {
	if t.m.IsValid() {
		if v := t.m.MapIndex(t.key); v.IsValid() {
			return v
		}
		return reflect.Zero(t.m.Type().Elem())
	}
	return t.v
}

func (t target) set(v reflect.Value) {
	if t.m.IsValid() {
		if t.m.IsNil() {
			panic(plainError("assignment to entry in nil map"))
		}
		t.m.SetMapIndex(t.key, v)
		return
	}
	t.v.Set(v)
}

// plainError is a runtime panic Go reports without "runtime error: ".
type plainError string

func (e plainError) Error() string { return string(e) }
func (plainError) RuntimeError()   {}

func (ev *evaluator) target(e *Expr) target {
	if e.Op == "index" {
		x := ev.value(e.X, nil)
		if x.Kind() == reflect.Map {
			return target{m: x, key: ev.value(e.Y, x.Type().Key())}
		}
	}
	return target{v: ev.place(e)}
}

// value evaluates an expression with one value; want is the type its use
// needs, or nil where the expression's own type stands.
func (ev *evaluator) value(e *Expr, want reflect.Type) reflect.Value {
	switch e.Op {
	case "const":
		v := constant(e.Kind, e.Val)
		if e.Type != nil {
			return v.Convert(ev.typeOf(e.Type))
		}
		if want != nil && want.Kind() != reflect.Interface {
			return v.Convert(want)
		}
		return v
	case "nil":
		return reflect.Zero(want)
	}
	vs := ev.multi(e)
	if len(vs) != 1 {
		panic(fmt.Sprintf("ipclab: %s has %d values, want 1", e.Op, len(vs)))
	}
	if want != nil {
		return convert(vs[0], want)
	}
	return vs[0]
}

// convert makes v fit a destination of type t: the type checker allowed the
// assignment, so any mismatch left is a type the lowering dropped.
func convert(v reflect.Value, t reflect.Type) reflect.Value {
	switch {
	case !v.IsValid():
		return reflect.Zero(t)
	case v.Type() == t:
		return v
	case t.Kind() == reflect.Interface:
		r := reflect.New(t).Elem()
		r.Set(exported(v))
		return r
	case v.Type().AssignableTo(t):
		return exported(v)
	default:
		return exported(v).Convert(t)
	}
}

const errNilDeref = runtimeError("invalid memory address or nil pointer dereference")

// deref follows a pointer as Go does, panicking on nil; other values are
// returned as they are (x.f and x[i] dereference implicitly).
func deref(x reflect.Value) reflect.Value {
	if x.Kind() != reflect.Pointer {
		return x
	}
	if x.IsNil() {
		panic(errNilDeref)
	}
	return x.Elem()
}

// addressable is v, or an addressable copy of it when it is not (the
// result of a call, say): reflect takes fields' and arrays' addresses only
// from addressable values.
func addressable(v reflect.Value) reflect.Value {
	if v.CanAddr() {
		return v
	}
	return copyOf(v)
}

func copyOf(v reflect.Value) reflect.Value {
	c := reflect.New(v.Type()).Elem()
	c.Set(exported(v))
	return c
}

// exported returns v without the read-only mark reflect puts on values
// reached through unexported fields: cells may use earlier cells' unexported
// fields, and the type checker has already allowed it.
func exported(v reflect.Value) reflect.Value {
	if !v.IsValid() || v.CanInterface() {
		return v
	}
	if v.CanAddr() {
		return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
	}
	// The evaluator copies structs before taking their fields, so every
	// read-only value it makes is addressable.
	panic("ipclab: a read-only value that is not addressable: " + v.Type().String())
}

func (ev *evaluator) multi(e *Expr) []reflect.Value {
	switch e.Op {
	case "call":
		return ev.call(e)
	case "builtin":
		return ev.builtin(e)
	case "recv":
		ch := ev.value(e.X, nil)
		if ch.IsNil() {
			select {}
		}
		v, _ := ch.Recv()
		return []reflect.Value{v}
	}
	return []reflect.Value{ev.one(e)}
}

// sym is a registered symbol; one the program declared itself is looked up
// when it is used, since it did not exist before the program ran.
func (ev *evaluator) sym(e *Expr) reflect.Value {
	if v, ok := ev.syms[e]; ok {
		return v
	}
	v, ok := lookup(e)
	if !ok {
		panic(fmt.Sprintf("ipclab: %s.%s is not in the session", e.Pkg, e.Name))
	}
	ev.syms[e] = v
	return v
}

func (ev *evaluator) one(e *Expr) reflect.Value {
	switch e.Op {
	case "sym":
		return ev.sym(e)
	case "const", "nil":
		return ev.value(e, nil)
	case "field", "deref":
		return ev.place(e)
	case "index":
		return ev.index(e)
	case "slice":
		return ev.slice(e)
	case "conv":
		return exported(ev.value(e.X, nil)).Convert(ev.typeOf(e.Type))
	case "composite":
		return ev.composite(e)
	case "make":
		return ev.makeValue(e)
	case "new":
		return reflect.New(ev.typeOf(e.Type))
	case "unary":
		return ev.unary(e)
	case "addr":
		return ev.place(e.X).Addr()
	case "binary":
		return ev.binaryExpr(e)
	case "method":
		return ev.method(e)
	}
	panic(fmt.Sprintf("ipclab: cannot evaluate a %q expression", e.Op))
}

// place evaluates an expression that denotes a variable (addressable where
// Go says it is), with the read-only mark removed.
func (ev *evaluator) place(e *Expr) reflect.Value {
	switch e.Op {
	case "sym":
		return ev.sym(e)
	case "deref":
		return deref(ev.value(e.X, nil))
	case "field":
		x := ev.value(e.X, nil)
		for _, i := range e.Path {
			x = exported(addressable(deref(x)).Field(i))
		}
		return x
	case "index":
		return ev.index(e)
	}
	return ev.one(e)
}

func (ev *evaluator) index(e *Expr) reflect.Value {
	x := ev.value(e.X, nil)
	if x.Kind() == reflect.Map {
		k := ev.value(e.Y, x.Type().Key())
		if v := x.MapIndex(k); v.IsValid() {
			return exported(v)
		}
		return reflect.Zero(x.Type().Elem())
	}
	x = deref(x)
	i := toInt(ev.value(e.Y, nil))
	if i < 0 {
		panic(runtimeError(fmt.Sprintf("index out of range [%d]", i)))
	}
	if i >= int64(x.Len()) {
		panic(runtimeError(fmt.Sprintf("index out of range [%d] with length %d", i, x.Len())))
	}
	return exported(x.Index(int(i)))
}

func (ev *evaluator) slice(e *Expr) reflect.Value {
	x := deref(ev.value(e.X, nil))
	if x.Kind() == reflect.Array {
		x = addressable(x)
	}
	capacity, what := x.Len(), "length"
	if x.Kind() == reflect.Slice {
		capacity, what = x.Cap(), "capacity"
	}
	lo, hi, max := int64(0), int64(x.Len()), int64(capacity)
	if e.Lo != nil {
		lo = toInt(ev.value(e.Lo, nil))
	}
	if e.Hi != nil {
		hi = toInt(ev.value(e.Hi, nil))
	}
	if e.Max != nil {
		max = toInt(ev.value(e.Max, nil))
	}
	// The checks and words of the Go runtime's bounds errors, in its order.
	bounds := func(format string, args ...any) {
		panic(runtimeError("slice bounds out of range " + fmt.Sprintf(format, args...)))
	}
	if e.Max != nil {
		switch {
		case max < 0:
			bounds("[::%d]", max)
		case max > int64(capacity):
			bounds("[::%d] with %s %d", max, what, capacity)
		case hi < 0:
			bounds("[:%d:]", hi)
		case hi > max:
			bounds("[:%d:%d]", hi, max)
		case lo < 0:
			bounds("[%d::]", lo)
		case lo > hi:
			bounds("[%d:%d:]", lo, hi)
		}
		return x.Slice3(int(lo), int(hi), int(max))
	}
	switch {
	case hi < 0:
		bounds("[:%d]", hi)
	case hi > int64(capacity):
		bounds("[:%d] with %s %d", hi, what, capacity)
	case lo < 0:
		bounds("[%d:]", lo)
	case lo > hi:
		bounds("[%d:%d]", lo, hi)
	}
	return x.Slice(int(lo), int(hi))
}

func toInt(v reflect.Value) int64 {
	switch v.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		if u > math.MaxInt64 {
			return -1
		}
		return int64(u)
	}
	return v.Int()
}

func (ev *evaluator) method(e *Expr) reflect.Value {
	x := ev.value(e.X, nil)
	if e.Addr {
		x = addressable(x).Addr()
	}
	if x.Kind() == reflect.Interface && x.IsNil() {
		panic(errNilDeref)
	}
	m := x.MethodByName(e.Name)
	if !m.IsValid() {
		panic(fmt.Sprintf("ipclab: method %s of %s is not in the session program", e.Name, x.Type()))
	}
	return m
}

func (ev *evaluator) call(e *Expr) []reflect.Value {
	var fn reflect.Value
	if e.Fun.Op == "method" {
		fn = ev.method(e.Fun)
	} else {
		fn = ev.value(e.Fun, nil)
	}
	if fn.IsNil() {
		panic(errNilDeref)
	}
	ft := fn.Type()
	var args []reflect.Value
	if e.Tuple {
		args = ev.multi(e.Args[0])
	}
	param := func(i int) reflect.Type {
		if ft.IsVariadic() && i >= ft.NumIn()-1 {
			if e.Spread {
				return ft.In(ft.NumIn() - 1)
			}
			return ft.In(ft.NumIn() - 1).Elem()
		}
		return ft.In(i)
	}
	if !e.Tuple {
		for i, a := range e.Args {
			args = append(args, ev.value(a, param(i)))
		}
	} else {
		for i := range args {
			args[i] = convert(args[i], param(i))
		}
	}
	if e.Spread {
		return fn.CallSlice(args)
	}
	return fn.Call(args)
}

func (ev *evaluator) builtin(e *Expr) []reflect.Value {
	switch e.Name {
	case "len", "cap":
		x := ev.value(e.Args[0], nil)
		if x.Kind() == reflect.Pointer {
			if x.IsNil() { // len of a nil *array is its length
				return []reflect.Value{reflect.ValueOf(x.Type().Elem().Len())}
			}
			x = x.Elem()
		}
		if e.Name == "len" {
			return []reflect.Value{reflect.ValueOf(x.Len())}
		}
		return []reflect.Value{reflect.ValueOf(x.Cap())}
	case "append":
		s := ev.value(e.Args[0], nil)
		st := s.Type()
		if e.Spread {
			more := ev.value(e.Args[1], nil)
			if more.Kind() == reflect.String {
				more = reflect.ValueOf([]byte(more.String()))
			}
			return []reflect.Value{reflect.AppendSlice(s, convert(more, st))}
		}
		var vs []reflect.Value
		for _, a := range e.Args[1:] {
			vs = append(vs, ev.value(a, st.Elem()))
		}
		return []reflect.Value{reflect.Append(s, vs...)}
	case "delete":
		m := ev.value(e.Args[0], nil)
		k := ev.value(e.Args[1], m.Type().Key())
		if !m.IsNil() {
			m.SetMapIndex(k, reflect.Value{})
		}
		return nil
	case "panic":
		v := ev.value(e.Args[0], nil)
		panic(exported(v).Interface())
	}
	panic("ipclab: cannot evaluate builtin " + e.Name)
}

func (ev *evaluator) unary(e *Expr) reflect.Value {
	x := ev.value(e.X, nil)
	switch e.Tok {
	case "+":
		return x
	case "!":
		return reflect.ValueOf(!x.Bool()).Convert(x.Type())
	case "-":
		r := reflect.New(x.Type()).Elem()
		switch k := x.Kind(); {
		case k == reflect.Float32 || k == reflect.Float64:
			r.SetFloat(-x.Float()) // -0.0, where 0-x would give +0.0
		case k == reflect.Complex64 || k == reflect.Complex128:
			r.SetComplex(-x.Complex())
		default:
			return binary("-", r, x)
		}
		return r
	case "^":
		r := reflect.New(x.Type()).Elem()
		if isUnsigned(x.Kind()) {
			r.SetUint(^x.Uint())
		} else {
			r.SetInt(^x.Int())
		}
		return r
	}
	panic("ipclab: cannot evaluate unary " + e.Tok)
}
