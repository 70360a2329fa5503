package cellhost

import (
	"fmt"
	"reflect"
	"strconv"
)

// Operators, types and constants of evaluated cells: arithmetic that wraps
// and rounds as Go's does, comparisons, and the types the registry holds.

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

// arith is a tok b for the operators every number type has. An integer
// division by zero panics here just as in compiled code, with the same error.
func arith[T int64 | uint64 | float64 | complex128](tok string, a, b T) T {
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
	case "%":
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
	return arith(tok, a, b)
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
