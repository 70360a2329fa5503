package cellhost

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unsafe"

	"github.com/ipclab/ipclab/display/cellrt"
)

// A cell that declares nothing and only reads, assigns and calls what is
// already loaded (x, p.norm(), n++; n, fmt.Println(x), plots.Throughput(r))
// does not need to be compiled: the kernel type-checks it, lowers it to a
// Program and the session process evaluates that with reflect, in
// milliseconds instead of the second a plugin's link takes. The kernel only
// lowers what this evaluator implements exactly as Go does; everything else
// (loops, declarations, literals, closures, go statements) is compiled.
// Since the type checker has accepted the cell, the evaluator may convert a
// value to the type its use needs without checking the rules again.

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
		if e.Op == "sym" && !defined[[2]string{e.Pkg, e.Name}] {
			v, ok := cellrt.Symbol(e.Pkg, e.Name)
			if !ok {
				err = errUnresolved{e.Pkg, e.Name}
				return
			}
			rv := reflect.ValueOf(v)
			if e.Var {
				if rv.Kind() != reflect.Pointer || rv.IsNil() {
					err = errUnresolved{e.Pkg, e.Name}
					return
				}
				rv = rv.Elem()
			}
			syms[e] = rv
		}
		if e.Op == "type" && e.Pkg != "" {
			v, ok := cellrt.Symbol(e.Pkg, e.Name)
			t := reflect.TypeOf(v)
			if !ok || t == nil || t.Kind() != reflect.Pointer {
				err = errUnresolved{e.Pkg, e.Name}
				return
			}
			syms[e] = reflect.Zero(t.Elem()) // the type, carried by its zero value
		}
		for _, x := range []*Expr{e.X, e.Y, e.Fun, e.Lo, e.Hi, e.Max, e.Type} {
			walk(x)
		}
		for _, a := range append(e.Args, e.Keys...) {
			walk(a)
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
			// a, b = b, a: every right side is read before any is assigned.
			c := reflect.New(vals[i].Type()).Elem()
			c.Set(exported(vals[i]))
			vals[i] = c
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
	if e.Op == "sym" && e.Name == "_" {
		return target{}
	}
	v := ev.place(e)
	return target{v: v}
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
	v, ok := cellrt.Symbol(e.Pkg, e.Name)
	if !ok {
		panic(fmt.Sprintf("ipclab: %s.%s is not in the session", e.Pkg, e.Name))
	}
	rv := reflect.ValueOf(v)
	if e.Var {
		rv = rv.Elem()
	}
	ev.syms[e] = rv
	return rv
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
		p := ev.value(e.X, nil)
		if p.IsNil() {
			panic(runtimeError("invalid memory address or nil pointer dereference"))
		}
		return p.Elem()
	case "field":
		x := ev.value(e.X, nil)
		for _, i := range e.Path {
			if x.Kind() == reflect.Pointer {
				if x.IsNil() {
					panic(runtimeError("invalid memory address or nil pointer dereference"))
				}
				x = x.Elem()
			}
			if !x.CanAddr() {
				c := reflect.New(x.Type()).Elem()
				c.Set(exported(x))
				x = c
			}
			x = exported(x.Field(i))
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
	if x.Kind() == reflect.Pointer {
		if x.IsNil() {
			panic(runtimeError("invalid memory address or nil pointer dereference"))
		}
		x = x.Elem()
	}
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
	x := ev.value(e.X, nil)
	if x.Kind() == reflect.Pointer {
		if x.IsNil() {
			panic(runtimeError("invalid memory address or nil pointer dereference"))
		}
		x = x.Elem()
	}
	if x.Kind() == reflect.Array && !x.CanAddr() {
		c := reflect.New(x.Type()).Elem()
		c.Set(x)
		x = c
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
		if !x.CanAddr() {
			c := reflect.New(x.Type()).Elem()
			c.Set(x)
			x = c
		}
		x = x.Addr()
	}
	if x.Kind() == reflect.Interface && x.IsNil() {
		panic(runtimeError("invalid memory address or nil pointer dereference"))
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
		panic(runtimeError("invalid memory address or nil pointer dereference"))
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

func (ev *evaluator) binaryExpr(e *Expr) reflect.Value {
	switch e.Tok {
	case "&&":
		if !ev.value(e.X, nil).Bool() {
			return reflect.ValueOf(false)
		}
		return reflect.ValueOf(ev.value(e.Y, nil).Bool())
	case "||":
		if ev.value(e.X, nil).Bool() {
			return reflect.ValueOf(true)
		}
		return reflect.ValueOf(ev.value(e.Y, nil).Bool())
	}
	// An untyped nil or constant operand takes the other operand's type;
	// shift counts keep their own.
	var x, y reflect.Value
	shift := e.Tok == "<<" || e.Tok == ">>"
	switch {
	case !shift && e.X.Op == "nil":
		y = ev.value(e.Y, nil)
		x = ev.value(e.X, y.Type())
	default:
		x = ev.value(e.X, nil)
		var want reflect.Type
		if !shift && (e.Y.Op == "nil" || e.Y.Op == "const") {
			want = x.Type()
		}
		y = ev.value(e.Y, want)
	}
	switch e.Tok {
	case "==", "!=":
		eq := equal(x, y)
		return reflect.ValueOf(eq == (e.Tok == "=="))
	case "<", "<=", ">", ">=":
		return reflect.ValueOf(compare(e.Tok, x, y))
	}
	if !shift && x.Type() != y.Type() {
		y = convert(y, x.Type())
	}
	return binary(e.Tok, x, y)
}

func equal(x, y reflect.Value) bool {
	if x.Kind() == reflect.Interface || y.Kind() == reflect.Interface {
		return exported(x).Interface() == exported(y).Interface()
	}
	switch x.Kind() {
	case reflect.Slice, reflect.Map, reflect.Func:
		// Comparable only with nil.
		return x.IsNil() && y.IsNil()
	}
	if y.Type() != x.Type() {
		y = convert(y, x.Type())
	}
	return exported(x).Interface() == exported(y).Interface()
}

func compare(tok string, x, y reflect.Value) bool {
	var c int
	switch {
	case isSigned(x.Kind()):
		c = cmp3(x.Int() < y.Int(), x.Int() > y.Int())
	case isUnsigned(x.Kind()):
		c = cmp3(x.Uint() < y.Uint(), x.Uint() > y.Uint())
	case x.Kind() == reflect.Float32 || x.Kind() == reflect.Float64:
		a, b := x.Float(), y.Float()
		if a != a || b != b { // NaN: every ordering is false
			return false
		}
		c = cmp3(a < b, a > b)
	case x.Kind() == reflect.String:
		c = cmp3(x.String() < y.String(), x.String() > y.String())
	default:
		panic("ipclab: cannot order " + x.Type().String())
	}
	switch tok {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

func cmp3(less, more bool) int {
	switch {
	case less:
		return -1
	case more:
		return 1
	}
	return 0
}

func isSigned(k reflect.Kind) bool { return k >= reflect.Int && k <= reflect.Int64 }
func isUnsigned(k reflect.Kind) bool {
	return k >= reflect.Uint && k <= reflect.Uintptr
}

// binary computes x tok y for operands of one basic type (the shift count
// may be of any integer type), wrapping and rounding as Go does: the result
// is stored into a value of x's type, which truncates.
func binary(tok string, x, y reflect.Value) reflect.Value {
	r := reflect.New(x.Type()).Elem()
	switch k := x.Kind(); {
	case isSigned(k):
		r.SetInt(integer(tok, x.Int(), y, reflect.Value.Int))
	case isUnsigned(k):
		r.SetUint(integer(tok, x.Uint(), y, reflect.Value.Uint))
	case k == reflect.Float32 || k == reflect.Float64:
		// Rounding the float64 result to float32 on store gives the float32
		// operation's result: float64 is wide enough for no double rounding.
		r.SetFloat(arith(tok, x.Float(), y.Float()))
	case k == reflect.Complex64 || k == reflect.Complex128:
		r.SetComplex(arith(tok, x.Complex(), y.Complex()))
	case k == reflect.String && tok == "+":
		r.SetString(x.String() + y.String())
	default:
		panic("ipclab: cannot evaluate " + tok + " on " + x.Type().String())
	}
	return r
}

func arith[T float64 | complex128](tok string, a, b T) T {
	switch tok {
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	case "/":
		return a / b
	}
	panic("ipclab: cannot evaluate " + tok)
}

// integer computes a tok y in 64 bits; the caller's store truncates to the
// operands' width, which is what Go's wrapping arithmetic gives.
func integer[T int64 | uint64](tok string, a T, y reflect.Value, get func(reflect.Value) T) T {
	switch tok {
	case "<<":
		return a << shiftCount(y)
	case ">>":
		return a >> shiftCount(y)
	}
	b := get(y)
	switch tok {
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	case "/", "%":
		if b == 0 {
			panic(runtimeError("integer divide by zero"))
		}
		if tok == "/" {
			return a / b
		}
		return a % b
	case "&":
		return a & b
	case "|":
		return a | b
	case "^":
		return a ^ b
	case "&^":
		return a &^ b
	}
	panic("ipclab: cannot evaluate " + tok)
}

func shiftCount(y reflect.Value) uint64 {
	if isSigned(y.Kind()) {
		if y.Int() < 0 {
			panic(runtimeError("negative shift amount"))
		}
		return uint64(y.Int())
	}
	return y.Uint()
}

// typeOf is the reflect.Type a type expression names. Types other than
// basic ones come from the registry, never from reflect.SliceOf and the
// like: a type built at run time is not the one that plugins loaded later
// bring, and a value of it in an interface would not match their type
// switches.
func (ev *evaluator) typeOf(e *Expr) reflect.Type {
	if e.Pkg != "" {
		return ev.syms[e].Type()
	}
	switch e.Kind {
	case "any":
		return reflect.TypeFor[any]()
	case "error":
		return reflect.TypeFor[error]()
	}
	return basicType(e.Kind)
}

// composite makes a composite literal, its elements evaluated in order.
func (ev *evaluator) composite(e *Expr) reflect.Value {
	t := ev.typeOf(e.Type)
	ptr := t.Kind() == reflect.Pointer
	if ptr {
		t = t.Elem()
	}
	var v reflect.Value
	switch t.Kind() {
	case reflect.Struct, reflect.Array:
		v = reflect.New(t).Elem()
		for i, a := range e.Args {
			var dst reflect.Value
			if t.Kind() == reflect.Struct {
				dst = exported(v.Field(e.Path[i]))
			} else {
				dst = v.Index(e.Path[i])
			}
			dst.Set(ev.value(a, dst.Type()))
		}
	case reflect.Slice:
		n := 0
		for _, i := range e.Path {
			n = max(n, i+1)
		}
		v = reflect.MakeSlice(t, n, n)
		for i, a := range e.Args {
			v.Index(e.Path[i]).Set(ev.value(a, t.Elem()))
		}
	case reflect.Map:
		v = reflect.MakeMapWithSize(t, len(e.Args))
		for i, a := range e.Args {
			k := ev.value(e.Keys[i], t.Key())
			v.SetMapIndex(k, ev.value(a, t.Elem()))
		}
	default:
		panic("ipclab: cannot make a literal of " + t.String())
	}
	if ptr {
		return v.Addr()
	}
	return v
}

// makeValue is the builtin make, with the Go runtime's panics.
func (ev *evaluator) makeValue(e *Expr) reflect.Value {
	t := ev.typeOf(e.Type)
	var n []int64
	for _, a := range e.Args {
		n = append(n, toInt(ev.value(a, nil)))
	}
	switch t.Kind() {
	case reflect.Slice:
		l, c := n[0], n[0]
		if len(n) > 1 {
			c = n[1]
		}
		switch {
		case l < 0 || l > 1<<40:
			panic(runtimeError("makeslice: len out of range"))
		case c < l || c > 1<<40:
			panic(runtimeError("makeslice: cap out of range"))
		}
		return reflect.MakeSlice(t, int(l), int(c))
	case reflect.Map:
		if len(n) > 0 && n[0] > 0 {
			return reflect.MakeMapWithSize(t, int(n[0]))
		}
		return reflect.MakeMap(t)
	case reflect.Chan:
		size := int64(0)
		if len(n) > 0 {
			size = n[0]
		}
		if size < 0 || size > 1<<40 {
			panic(plainError("makechan: size out of range"))
		}
		return reflect.MakeChan(t, int(size))
	}
	panic("ipclab: cannot make " + t.String())
}

var basicTypes = map[string]reflect.Type{
	"bool": reflect.TypeFor[bool](), "string": reflect.TypeFor[string](),
	"int": reflect.TypeFor[int](), "int8": reflect.TypeFor[int8](), "int16": reflect.TypeFor[int16](),
	"int32": reflect.TypeFor[int32](), "int64": reflect.TypeFor[int64](),
	"uint": reflect.TypeFor[uint](), "uint8": reflect.TypeFor[uint8](), "uint16": reflect.TypeFor[uint16](),
	"uint32": reflect.TypeFor[uint32](), "uint64": reflect.TypeFor[uint64](), "uintptr": reflect.TypeFor[uintptr](),
	"float32": reflect.TypeFor[float32](), "float64": reflect.TypeFor[float64](),
	"complex64": reflect.TypeFor[complex64](), "complex128": reflect.TypeFor[complex128](),
	"byte": reflect.TypeFor[byte](), "rune": reflect.TypeFor[rune](),
}

func basicType(kind string) reflect.Type {
	t, ok := basicTypes[kind]
	if !ok {
		panic("ipclab: unknown basic type " + kind)
	}
	return t
}

// constant makes a value of a basic kind from the kernel's spelling of it.
func constant(kind, val string) reflect.Value {
	t := basicType(kind)
	v := reflect.New(t).Elem()
	var err error
	switch k := t.Kind(); {
	case k == reflect.Bool:
		v.SetBool(val == "true")
	case k == reflect.String:
		v.SetString(val)
	case isSigned(k):
		var n int64
		n, err = strconv.ParseInt(val, 10, 64)
		v.SetInt(n)
	case isUnsigned(k):
		var n uint64
		n, err = strconv.ParseUint(val, 10, 64)
		v.SetUint(n)
	case k == reflect.Float32 || k == reflect.Float64:
		var f float64
		f, err = strconv.ParseFloat(val, 64)
		v.SetFloat(f)
	case k == reflect.Complex64 || k == reflect.Complex128:
		var c complex128
		c, err = strconv.ParseComplex(val, 128)
		v.SetComplex(c)
	}
	if err != nil {
		panic(fmt.Sprintf("ipclab: bad %s constant %q: %v", kind, val, err))
	}
	return v
}
