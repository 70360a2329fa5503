package cellhost

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/ipclab/ipclab/display/cellrt"
)

// binary must compute what Go's operators compute, wrapping and rounding
// included, for every integer and float type.
func TestBinaryMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	edges := []int64{0, 1, -1, 2, 7, -8, 127, -128, 255, 32767, -32768, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64}
	ints := func() int64 {
		if r.IntN(3) == 0 {
			return edges[r.IntN(len(edges))]
		}
		return int64(r.Uint64())
	}
	for i := 0; i < 2000; i++ {
		a, b := ints(), ints()
		checkInts[int8](t, int8(a), int8(b))
		checkInts[int16](t, int16(a), int16(b))
		checkInts[int32](t, int32(a), int32(b))
		checkInts[int64](t, a, b)
		checkInts[uint8](t, uint8(a), uint8(b))
		checkInts[uint16](t, uint16(a), uint16(b))
		checkInts[uint32](t, uint32(a), uint32(b))
		checkInts[uint64](t, uint64(a), uint64(b))
		f, g := r.NormFloat64()*math.Exp(r.NormFloat64()*20), r.NormFloat64()
		checkFloats[float64](t, f, g)
		checkFloats[float32](t, float32(f), float32(g))
	}
}

type fixed interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

func checkInts[T fixed](t *testing.T, a, b T) {
	t.Helper()
	want := map[string]T{"+": a + b, "-": a - b, "*": a * b, "&": a & b, "|": a | b, "^": a ^ b, "&^": a &^ b}
	if b != 0 {
		want["/"], want["%"] = a/b, a%b
	}
	s := uint(b) % 80
	want["<<"], want[">>"] = a<<s, a>>s
	for tok, w := range want {
		y := reflect.ValueOf(b)
		if tok == "<<" || tok == ">>" {
			y = reflect.ValueOf(s)
		}
		got := binary(tok, reflect.ValueOf(a), y).Interface().(T)
		if got != w {
			t.Fatalf("%T: %v %s %v = %v, Go says %v", a, a, tok, y, got, w)
		}
	}
	for tok, w := range map[string]bool{"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b} {
		if got := compare(tok, reflect.ValueOf(a), reflect.ValueOf(b)); got != w {
			t.Fatalf("%T: %v %s %v = %v, Go says %v", a, a, tok, b, got, w)
		}
	}
}

func checkFloats[T float32 | float64](t *testing.T, a, b T) {
	t.Helper()
	for tok, w := range map[string]T{"+": a + b, "-": a - b, "*": a * b, "/": a / b} {
		got := binary(tok, reflect.ValueOf(a), reflect.ValueOf(b)).Interface().(T)
		if got != w && !(got != got && w != w) {
			t.Fatalf("%T: %v %s %v = %v, Go says %v", a, a, tok, b, got, w)
		}
	}
}

// The evaluator's own run-time panics read as Go's.
func TestRuntimePanicsMatchGo(t *testing.T) {
	xs := []int{1, 2, 3}
	s := "héllo"
	var arr [4]int
	zero := 0
	lo, hi, big := 3, 1, 10
	cases := []struct {
		name   string
		native func()
		expr   *Expr
		vars   map[string]any
	}{
		{"index", func() { _ = xs[big] }, &Expr{Op: "index", X: sym("xs"), Y: sym("big")}, nil},
		{"negative index", func() { i := -1; _ = xs[i] }, &Expr{Op: "index", X: sym("xs"), Y: &Expr{Op: "const", Kind: "int", Val: "-1"}}, nil},
		{"string index", func() { _ = s[big] }, &Expr{Op: "index", X: sym("s"), Y: sym("big")}, nil},
		{"array index", func() { _ = arr[big] }, &Expr{Op: "index", X: sym("arr"), Y: sym("big")}, nil},
		{"slice lo>hi", func() { _ = xs[lo:hi] }, &Expr{Op: "slice", X: sym("xs"), Lo: sym("lo"), Hi: sym("hi")}, nil},
		{"slice hi>cap", func() { _ = xs[:big] }, &Expr{Op: "slice", X: sym("xs"), Hi: sym("big")}, nil},
		{"string slice", func() { _ = s[:big] }, &Expr{Op: "slice", X: sym("s"), Hi: sym("big")}, nil},
		{"slice3 max>cap", func() { _ = xs[0:1:big] }, &Expr{Op: "slice", X: sym("xs"), Lo: &Expr{Op: "const", Kind: "int", Val: "0"}, Hi: &Expr{Op: "const", Kind: "int", Val: "1"}, Max: sym("big")}, nil},
		{"negative lo", func() { i := -2; _ = xs[i:] }, &Expr{Op: "slice", X: sym("xs"), Lo: &Expr{Op: "const", Kind: "int", Val: "-2"}}, nil},
		{"negative hi", func() { i := -2; _ = xs[:i] }, &Expr{Op: "slice", X: sym("xs"), Hi: &Expr{Op: "const", Kind: "int", Val: "-2"}}, nil},
		{"array slice", func() { _ = arr[:big] }, &Expr{Op: "slice", X: sym("arr"), Hi: sym("big")}, nil},
		{"slice3 hi>max", func() { _ = xs[0:lo:hi] }, &Expr{Op: "slice", X: sym("xs"), Hi: sym("lo"), Max: sym("hi")}, nil},
		{"slice3 lo>hi", func() { _ = xs[lo:hi:lo] }, &Expr{Op: "slice", X: sym("xs"), Lo: sym("lo"), Hi: sym("hi"), Max: sym("lo")}, nil},
		{"divide", func() { _ = big / zero }, &Expr{Op: "binary", Tok: "/", X: sym("big"), Y: sym("zero")}, nil},
		{"modulo", func() { _ = big % zero }, &Expr{Op: "binary", Tok: "%", X: sym("big"), Y: sym("zero")}, nil},
		{"nil deref", func() { var p *struct{ x int }; _ = p.x }, &Expr{Op: "field", X: &Expr{Op: "sym", Pkg: "t", Name: "nilp", Var: true}, Path: []int{0}}, nil},
	}
	cellrt.Export("t", map[string]any{"xs": &xs, "s": &s, "arr": &arr, "zero": &zero, "lo": &lo, "hi": &hi, "big": &big, "nilp": new(*struct{ x int })})
	for _, c := range cases {
		want := panicOf(c.native)
		p := &Program{Stmts: []*Stmt{{Op: "expr", Rhs: []*Expr{c.expr}}}}
		syms, err := p.resolve()
		if err != nil {
			t.Fatal(err)
		}
		ev := &evaluator{syms: syms}
		got := panicOf(func() { ev.stmt(p.Stmts[0]) })
		if got != want {
			t.Errorf("%s: evaluator panics with %q, Go with %q", c.name, got, want)
		}
	}
}

func sym(name string) *Expr { return &Expr{Op: "sym", Pkg: "t", Name: name, Var: true} }

func panicOf(f func()) (msg string) {
	defer func() { msg = fmt.Sprint(recover()) }()
	f()
	return "no panic"
}

// A program naming what nobody exported runs nothing.
func TestUnresolvedProgramRunsNothing(t *testing.T) {
	n := 1
	cellrt.Export("u", map[string]any{"n": &n})
	p := &Program{Stmts: []*Stmt{
		{Op: "assign", Tok: "+", Lhs: []*Expr{{Op: "sym", Pkg: "u", Name: "n", Var: true}}},
		{Op: "expr", Rhs: []*Expr{{Op: "call", Fun: &Expr{Op: "sym", Pkg: "u", Name: "missing"}}}},
	}}
	out := evalProgram(p)
	if out["ename"] != "Unresolved" || n != 1 {
		t.Fatalf("got %v with n = %d, want Unresolved with n untouched", out, n)
	}
}
