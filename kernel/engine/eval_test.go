package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ipclab/ipclab"
	"github.com/ipclab/ipclab/kernel/engine"
)

// evalSetup declares what the probes use; it is compiled in both sessions.
var evalSetup = []string{
	`import ("fmt"; "math"; "os"; "strings"; "time")
type point struct{ x, y float64 }
func (p point) norm() float64 { return math.Hypot(p.x, p.y) }
func (p *point) scale(k float64) { p.x *= k; p.y *= k }
func (p point) area() float64 { return p.x * p.y }
type shape interface{ area() float64 }
type named int
const big named = 7
type outer struct { point; label string; inner *point }
func pair() (int, string) { return 4, "four" }
var _ = os.Args
var _ = strings.ToUpper`,
	`n, k, zero := 10, 3, 0
var f32 float32 = 1.5
s := "héllo"
xs := []int{1, 2, 3}
m := map[string]int{"a": 1}
var nilmap map[string]int
p := point{3, 4}
pp := &point{1, 2}
ch := make(chan int, 4)
var err error
var any1 any = 5
var arr [3]int
d := 1500 * time.Millisecond
var u8 uint8 = 250
var i8 int8 = -128
fn := func(a, b int) int { return a + b }
var sh shape = p
o := outer{point: point{5, 12}, label: "o", inner: &point{7, 0}}
var nilp *point
var anyv any
fmt.Sprint(n, k, zero, f32, s, xs, m, nilmap, p, pp, err, any1, arr, d, u8, i8, fn != nil, sh, o.label, nilp)`,
	`func boom(i int) int { return xs[i] }`,
	// os.Exit ends the cell even where a deferred recover would catch a panic.
	`func exitSwallowed() string { defer func() { recover() }(); os.Exit(5); fmt.Println("after os.Exit"); return "after" }`,
}

// evalProbes are cells the session evaluates without compiling; each must
// behave exactly as when it is compiled.
var evalProbes = []string{
	`n`, `n++; n`, `n += 5; n`, `n = n*3 - 1; n`, `n, k = k, n; fmt.Println(n, k)`,
	`p.x`, `p.norm()`, `p.scale(2); p`, `pp.scale(3); *pp`, `pp.x = 0.5; pp.norm()`, `o.x + o.inner.x`, `o.norm()`, `o.label`,
	`xs[1]`, `xs[1:]`, `xs = append(xs, 4, 5); len(xs)`, `xs = append(xs, xs...); xs[2:4]`, `cap(xs[:0]) > 0`,
	`m["a"]`, `m["zz"]`, `m["b"] = 2; len(m)`, `m["b"] += 40; m["b"]`, `delete(m, "a"); m`,
	`s + "!"`, `len(s)`, `s[1]`, `s[1:3]`, `s < "hz"`,
	`float64(n) / 3`, `n / 2`, `-n`, `n % 4`, `u8 + 10`, `i8 / -1`, `i8 - 1`, `u8 << 1`, `n << 2`, `^n`, `f32 * 3`, `-f32`,
	`string(rune(65 + n))`, `d`, `d * 2`, `d + time.Second`, `time.Second`, `big`,
	`err == nil`, `err`, `any1 == 5`, `any1`, `sh.area()`, `sh`, `fn(2, 3)`, `ch <- 7; len(ch)`, `<-ch`,
	`pair()`, `fmt.Println(pair())`, `_, s = pair(); s`, `fmt.Println(n, s, p)`, `fmt.Printf("%v %+v %T\n", p, p, p)`,
	`fmt.Sprintf("%T %v", pp, nilp == nil)`, `strings.Repeat("ab", 3)`, `math.Sqrt(2)`, `n > 3 && s != ""`, `false || !(n > 3)`,
	`boom(1)`, `arr[2] = 9; arr`, `&arr == nil`,
	// Failures: the same error, value and traceback as compiled code.
	`boom(10)`, `xs[100]`, `nilmap["x"] = 1`, `n / zero`, `panic("custom")`, `os.Exit(3)`, `nilp.x`, `xs[k:1]`,
	`fmt.Println(exitSwallowed())`, `got := exitSwallowed(); fmt.Println("after", got)`,
	// Display without a package name, as gophernotes notebooks write it.
	`Display(display.Text("bare"))`, `Display(p)`,
	`n`,
	// Variables declared by evaluated cells, used by evaluated and compiled ones.
	`q := n * 2; q`, `r, str := pair(); r`, `str`, `q, w := q + 1, q; fmt.Println(q, w)`, `pq := &q; *pq = 99; q`,
	`ys := append(xs, 7); len(ys)`, `e := err; e == nil`, `dd := d; dd`, `v := any1; v`,
	`func useQ() int { return q + w }`, `useQ()`, `total := 0; for _, y := range ys { total += y }; total`,
	`q++; useQ()`, `go func() { ch <- q }(); <-ch`, `*pq`, `total`, `q = 7; useQ()`,
	// Literals, make, new and conversions build the types with reflect.
	`pts := []point{{3, 4}, {6, 8}}; pts[1].norm()`, `pm := map[string]point{"a": {1, 2}}; pm`, `pp3 := &point{x: 9}; *pp3`,
	`ptrs := []*point{{1, 1}, nil}; ptrs[0].y + 1`, `arr2 := [5]int{1, 3: 4}; arr2`, `jobs := make(chan int, 3); cap(jobs)`,
	`buf := make([]byte, 2, 8); len(buf) + cap(buf)`, `mm := make(map[named]string); mm[big] = "b"; mm`, `ip := new(int); *ip = 3; *ip`,
	`o2 := outer{label: "x", inner: &point{1, 2}}; o2.inner.norm()`, `named(n) + big`, `time.Duration(n) * time.Millisecond`,
	`float32(n) / 3`, `[]byte("hé")`, `string([]rune{104, 233})`, `3 * time.Second`, `sh2 := shape(point{2, 3}); sh2.area()`,
	`make([]int, k-100)`, `make(chan int, k-100)`, `bs := []byte(s); bs[0]`,
	`if n > 3 { fmt.Println("big") } else if n > 1 { fmt.Println("mid") } else { n = 0 }; n`,
	`if err != nil { panic(err) }; fmt.Println("no error")`, `e2 := fmt.Errorf("bad %d", n); if e2 != nil {
	panic(e2)
}`,
	`if q > 0 { q2 := q; fmt.Println(q2) }`, `if x := n; x > 0 { fmt.Println(x) }`,
	`anyv = []point{{1, 2}}`, `func kind() string { switch anyv.(type) { case []point: return "points" }; return "other" }`, `kind()`,
	`anyv = &point{3, 4}`, `kind2 := func() bool { _, ok := anyv.(*point); return ok }(); kind2`,
}

// compiledProbes are compiled in both sessions; in the evaluating one they
// use variables that evaluated cells declared.
var compiledProbes = map[string]bool{
	`func useQ() int { return q + w }`:                                                            true,
	`total := 0; for _, y := range ys { total += y }; total`:                                      true,
	`go func() { ch <- q }(); <-ch`:                                                               true,
	`func kind() string { switch anyv.(type) { case []point: return "points" }; return "other" }`: true,
	`kind2 := func() bool { _, ok := anyv.(*point); return ok }(); kind2`:                         true,
	// Unnamed types the prelude does not export are compiled.
	`pm := map[string]point{"a": {1, 2}}; pm`:         true,
	`ptrs := []*point{{1, 1}, nil}; ptrs[0].y + 1`:    true,
	`arr2 := [5]int{1, 3: 4}; arr2`:                   true,
	`mm := make(map[named]string); mm[big] = "b"; mm`: true,
	`if q > 0 { q2 := q; fmt.Println(q2) }`:           true, // a local variable
	`if x := n; x > 0 { fmt.Println(x) }`:             true,
}

func TestEvaluatedCellsMatchCompiled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	eval := newSession(t)
	e, err := engine.New(engine.Options{Source: ipclab.Source, TempDir: t.TempDir(), WorkDir: t.TempDir(), CompileAll: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	compiled := &session{t: t, e: e}
	for _, code := range evalSetup {
		a, _ := eval.ok(code)
		b, _ := compiled.ok(code)
		if a != b {
			t.Fatalf("setup values differ: %q vs %q", a, b)
		}
	}
	for _, code := range evalProbes {
		recA, a := eval.run(code)
		recB, b := compiled.run(code)
		if a.Evaluated == compiledProbes[code] {
			t.Errorf("%q: evaluated %v, want %v", code, a.Evaluated, !compiledProbes[code])
		}
		if b.Evaluated {
			t.Fatalf("%q was evaluated with CompileAll", code)
		}
		got, want := describe(recA, a), describe(recB, b)
		if got != want {
			t.Errorf("%q:\nevaluated: %s\ncompiled:  %s", code, got, want)
		}
	}
}

// describe is everything a user sees of a cell.
func describe(rec *recorder, res engine.Result) string {
	var b strings.Builder
	b.WriteString("value=" + text(res) + " stdout=" + rec.out() + " stderr=" + rec.stderr.String())
	if res.Err != nil {
		b.WriteString(" error=" + res.Err.Name + ": " + res.Err.Value + "\n" + strings.Join(res.Err.Traceback, "\n"))
	}
	return b.String()
}

// Cells that only look like expressions but need the compiler are compiled,
// and a cell naming what the session has not loaded falls back too.
func TestEvaluationFallsBackToCompiling(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	s := newPreludeSession(t)
	s.ok(`xs := []int{3, 1, 2}`)
	for _, c := range []struct {
		code, want string
		evaluated  bool
	}{
		{`utf8.RuneCountInString("héllo")`, "5", false}, // a package no cell has exported yet
		{`utf8.RuneLen('é')`, "2", true},                // now it has
		{`[]int{1, 2}`, "[1 2]", true},                  // a composite literal
		{`func() int { return len(xs) }()`, "3", false}, // a function literal
		{`2 * time.Second`, "2s", true},                 // a constant of a named type
		{`time.Duration(len(xs))`, "3ns", true},         // a conversion to a named type
		{`struct{ a int }{1}`, "{1}", false},            // a literal of an unnamed struct type
		{`min(len(xs), 2)`, "2", false},                 // a builtin the evaluator leaves out
		{`total := 0; for _, x := range xs { total += x }; total`, "6", false},
		{`total`, "6", true},
	} {
		rec, res := s.run(c.code)
		if res.Err != nil {
			t.Fatalf("%q: %v\n%s", c.code, res.Err, rec.stderr.String())
		}
		if got := text(res); got != c.want || res.Evaluated != c.evaluated {
			t.Errorf("%q = %q (evaluated %v), want %q (evaluated %v)", c.code, got, res.Evaluated, c.want, c.evaluated)
		}
	}
	for code, want := range map[string]string{"%time\nlen(xs)": "(evaluated without a build)", "%time\nfor range xs {}": "(compiled)"} {
		if _, out := s.ok(code); !strings.Contains(out, want) {
			t.Errorf("%q printed %q, want it to say %s", code, out, want)
		}
	}
}

// The prelude exports the packages cells use most, so a session's first
// cells that only call them need no build.
func TestPreludeEvaluatesCommonPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	s := newPreludeSession(t)
	for _, c := range []struct{ code, want, out string }{
		{`strings.ToUpper("ipc")`, "IPC", ""},
		{`fmt.Println("hello", math.Pi)`, "", "hello 3.141592653589793\n"},
		{`func() time.Duration { return time.Second }()`, "", ""}, // a function literal: compiled
		{`display.Markdown("**hi**")`, "", ""},
	} {
		rec, res := s.run(c.code)
		if res.Err != nil {
			t.Fatalf("%q: %v", c.code, res.Err)
		}
		compiled := strings.HasPrefix(c.code, "func()")
		if res.Evaluated == compiled {
			t.Errorf("%q: evaluated %v, want %v", c.code, res.Evaluated, !compiled)
		}
		if c.want != "" && text(res) != c.want {
			t.Errorf("%q = %q, want %q", c.code, text(res), c.want)
		}
		if c.out != "" && rec.out() != c.out {
			t.Errorf("%q printed %q, want %q", c.code, rec.out(), c.out)
		}
	}
}

// An evaluated cell is interrupted as a compiled one is: a call into a cell's
// loop stops at its check and values stay; a receive nobody answers ends
// with a restart of the session process.
func TestInterruptEvaluatedCells(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	s := newSession(t)
	s.ok("kept := 41\nch := make(chan int)\nfunc spin() { for {} }")
	interrupt := func(code string) (engine.Result, time.Duration) {
		s.count++
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan engine.Result)
		go func() { done <- s.e.Execute(ctx, engine.Request{Code: code, Count: s.count}, &recorder{}) }()
		time.Sleep(time.Second)
		start := time.Now()
		cancel()
		return <-done, time.Since(start)
	}
	res, took := interrupt("kept++; spin()")
	if res.Err == nil || res.Err.Name != "KeyboardInterrupt" || strings.Contains(res.Err.Value, "restarted") || took > time.Second || !res.Evaluated {
		t.Fatalf("spin(): %+v after %v (evaluated %v), want an evaluated cell's KeyboardInterrupt within a second and no restart", res.Err, took, res.Evaluated)
	}
	if v, _ := s.ok("kept"); v != "42" {
		t.Fatalf("kept = %q after the interrupt, want 42", v)
	}
	res, took = interrupt("<-ch")
	if res.Err == nil || !strings.Contains(res.Err.Value, "restarted") || took > 1500*time.Millisecond {
		t.Fatalf("<-ch: %+v after %v, want a restart within 1.5 s", res.Err, took)
	}
	if v, _ := s.ok("kept"); v != "0" {
		t.Fatalf("kept = %q after the restart, want 0", v)
	}
}

// newPreludeSession is a session whose prelude plugin is built, so that
// which cells are evaluated does not depend on timing.
func newPreludeSession(t *testing.T) *session {
	t.Helper()
	s := newSession(t)
	if !s.e.WaitPrelude(5 * time.Minute) {
		t.Fatal("the prelude plugin was not built")
	}
	return s
}
