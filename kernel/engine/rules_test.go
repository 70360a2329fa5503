package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ipclab/ipclab/kernel/engine"
)

// Each step is one cell; want is its text/plain value, out a substring of its
// stdout, and errName the error it must end with.
type step struct {
	code    string
	want    string
	out     string
	errName string
	errHas  string
}

func runSteps(t *testing.T, s *session, steps []step) {
	t.Helper()
	for i, st := range steps {
		rec, res := s.run(st.code)
		if st.errName != "" {
			if res.Err == nil || res.Err.Name != st.errName {
				t.Fatalf("step %d: want error %s, got %+v (stdout %q)", i+1, st.errName, res.Err, rec.out())
			}
			all := res.Err.Value + "\n" + strings.Join(res.Err.Traceback, "\n")
			if !strings.Contains(all, st.errHas) {
				t.Fatalf("step %d: error does not mention %q:\n%s", i+1, st.errHas, all)
			}
			continue
		}
		if res.Err != nil {
			t.Fatalf("step %d (%q) failed: %s: %s\n%s\nstderr: %s", i+1, st.code, res.Err.Name, res.Err.Value, strings.Join(res.Err.Traceback, "\n"), rec.stderr.String())
		}
		if got := text(res); got != st.want {
			t.Fatalf("step %d (%q): value %q, want %q", i+1, st.code, got, st.want)
		}
		if !strings.Contains(rec.out(), st.out) {
			t.Fatalf("step %d: stdout %q does not contain %q", i+1, rec.out(), st.out)
		}
	}
}

func TestCellRules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	s := newSession(t)
	t.Run("counter persists", func(t *testing.T) {
		runSteps(t, s, []step{
			{code: "n := 0"},
			{code: "n++; n", want: "1"},
			{code: "n++; n", want: "2"},
			{code: "n++; n", want: "3"},
		})
	})
	t.Run("unexported fields and methods across cells", func(t *testing.T) {
		runSteps(t, s, []step{
			{code: "import \"math\"\ntype point struct{ x, y float64 }\nfunc (p point) norm() float64 { return math.Hypot(p.x, p.y) }\nfunc (p *point) scale(k float64) { p.x *= k; p.y *= k }"},
			{code: "pts := []point{{3, 4}}\np := point{x: 6, y: 8}\nq := &point{1, 1}"},
			{code: "pts[0].norm()", want: "5"},
			{code: "p.scale(0.5); p.x + p.y", want: "7"},
			{code: "q.x = 10; q.x", want: "10"},
			{code: `fmt.Printf("%+v %T\n", p, p)`, out: "{x:3 y:4} cell.point"},
		})
	})
	t.Run("imports persist and may be repeated", func(t *testing.T) {
		runSteps(t, s, []step{
			{code: "import \"time\"\nd := 2 * time.Second"},
			{code: "import \"time\"\n(d + time.Second).String()", want: "3s"},
			{code: "d.Seconds()", want: "2"},
			{code: "strings.ToUpper(\"auto-imported\")", want: "AUTO-IMPORTED"},
		})
	})
	t.Run("type switch on an earlier type", func(t *testing.T) {
		runSteps(t, s, []step{
			{code: "var anything any = p"},
			{code: "kind := \"\"\nswitch v := anything.(type) {\ncase point:\n\tkind = fmt.Sprint(\"point \", v.x)\ndefault:\n\tkind = \"other\"\n}\nkind", want: "point 3"},
			{code: "_, isPoint := anything.(point); isPoint", want: "true"},
		})
	})
	t.Run("redefinition", func(t *testing.T) {
		runSteps(t, s, []step{
			{code: "func greet() string { return \"hello\" }\ngreet()", want: "hello"},
			{code: "func greet() string { return \"bonjour\" }"},
			{code: "greet()", want: "bonjour"},
			{code: "n := \"now a string\"; n", want: "now a string"},
		})
	})
	t.Run("goroutines keep running", func(t *testing.T) {
		runSteps(t, s, []step{
			{code: "import \"sync/atomic\"\nvar ticks atomic.Int64\nstop := make(chan struct{})\ngo func() { for { select { case <-stop: return; default: ticks.Add(1); time.Sleep(time.Millisecond) } } }()"},
			{code: "time.Sleep(50 * time.Millisecond); ticks.Load() > 0", want: "true"},
			{code: "close(stop)"},
		})
	})
	t.Run("errors", func(t *testing.T) {
		runSteps(t, s, []step{
			{code: "x := 1\ny := undefinedThing + x", errName: "CompileError", errHas: "line 2: undefined: undefinedThing"},
			{code: "func boom() { panic(\"boom\") }\n\nboom()", errName: "panic", errHas: "line 1"},
			{code: "os.Exit(3)", errName: "Exit", errHas: "os.Exit(3)"},
			{code: "fmt.Println(\"still alive\")", out: "still alive"},
			{code: "go func() { panic(\"in a goroutine\") }()\ntime.Sleep(100 * time.Millisecond)", errName: "panic", errHas: "in a goroutine"},
			{code: "1 + 1", want: "2"},
		})
	})
	t.Run("display", func(t *testing.T) {
		rec, res := s.run("display.Display(display.HTML(\"<b>hi</b>\"))\ndisplay.Markdown(\"*md*\")")
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if len(rec.displays) != 1 || rec.displays[0]["text/html"] != "<b>hi</b>" {
			t.Fatalf("displays = %v", rec.displays)
		}
		if res.Data["text/markdown"] != "*md*" {
			t.Fatalf("result = %v", res.Data)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		rec := &recorder{inputs: []string{"gopher"}}
		res := s.e.Execute(context.Background(), engine.Request{Code: "var name string\nfmt.Scanln(&name)\nfmt.Println(\"hello\", name)", Count: 100, AllowStdin: true}, rec)
		if res.Err != nil || !strings.Contains(rec.out(), "hello gopher") {
			t.Fatalf("err %v, stdout %q", res.Err, rec.out())
		}
		// A front end without input: the read gets an empty line (no hang),
		// stderr says why, and the cell goes on (README rule 15).
		rec = &recorder{}
		res = s.e.Execute(context.Background(), engine.Request{Code: "var got string\nfmt.Scanln(&got)\nfmt.Printf(\"[%s]\\n\", got)", Count: 101, AllowStdin: false}, rec)
		if res.Err != nil || !strings.Contains(rec.out(), "[]") || !strings.Contains(rec.stderr.String(), "allow_stdin is false") {
			t.Fatalf("err %+v, stdout %q, stderr %q", res.Err, rec.out(), rec.stderr.String())
		}
	})
	t.Run("a nil value shows nothing", func(t *testing.T) {
		runSteps(t, s, []step{{code: "display.Display(display.Text(\"shown\"))", want: ""}})
	})
}

func TestInterruptStopsLoopKeepsValues(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	s := newSession(t)
	s.ok("kept := 41")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan engine.Result)
	go func() {
		done <- s.e.Execute(ctx, engine.Request{Code: "for {}", Count: 2}, &recorder{})
	}()
	time.Sleep(3 * time.Second) // let it build and start spinning
	start := time.Now()
	cancel()
	res := <-done
	if res.Err == nil || res.Err.Name != "KeyboardInterrupt" {
		t.Fatalf("want KeyboardInterrupt, got %+v", res.Err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("interrupt took %v", d)
	}
	s.count = 2
	if v, _ := s.ok("kept + 1"); v != "42" {
		t.Fatalf("after interrupt kept+1 = %q, want 42 (values must survive an interrupt)", v)
	}
}

func TestNoFetchMessageForKnownModules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	s := newSession(t)
	rec, res := s.run("display.Display(display.Text(\"x\"))")
	if res.Err != nil || strings.Contains(rec.stderr.String(), "resolving") {
		t.Fatalf("err %v, stderr %q: ipclab's own packages are no download", res.Err, rec.stderr.String())
	}
}
