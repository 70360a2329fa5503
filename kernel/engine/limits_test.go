package engine_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ipclab/ipclab"
	"github.com/ipclab/ipclab/kernel/engine"
)

func TestLimitsFromEnv(t *testing.T) {
	def := engine.DefaultLimits()
	if def.Memory <= 0 || def.Memory > 4<<30 || def.Procs != 512 || def.Output != 32<<20 {
		t.Fatalf("DefaultLimits = %+v", def)
	}
	for _, tt := range []struct {
		env     map[string]string
		want    engine.Limits
		wantErr string
	}{
		{env: nil, want: def},
		{env: map[string]string{"IPCLAB_MEMORY_LIMIT": "2GiB", "IPCLAB_PROCS_LIMIT": "100", "IPCLAB_OUTPUT_LIMIT": "1MB"},
			want: engine.Limits{Memory: 2 << 30, Procs: 100, Output: 1e6}},
		{env: map[string]string{"IPCLAB_MEMORY_LIMIT": "off", "IPCLAB_PROCS_LIMIT": "0", "IPCLAB_OUTPUT_LIMIT": "none"},
			want: engine.Limits{}},
		{env: map[string]string{"IPCLAB_MEMORY_LIMIT": "512m", "IPCLAB_OUTPUT_LIMIT": "65536"},
			want: engine.Limits{Memory: 512 << 20, Procs: 512, Output: 65536}},
		{env: map[string]string{"IPCLAB_MEMORY_LIMIT": "lots"}, wantErr: `IPCLAB_MEMORY_LIMIT="lots": want a size`},
		{env: map[string]string{"IPCLAB_PROCS_LIMIT": "1GiB"}, wantErr: `IPCLAB_PROCS_LIMIT="1GiB": want a whole number`},
		{env: map[string]string{"IPCLAB_OUTPUT_LIMIT": "-1"}, wantErr: "want a size"},
		{env: map[string]string{"IPCLAB_MEMORY_LIMIT": "99999999999TiB"}, wantErr: "too large"},
	} {
		got, err := engine.LimitsFromEnv(func(k string) string { return tt.env[k] })
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err %v, want %q", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%v: got %+v, %v; want %+v", tt.env, got, err, tt.want)
		}
	}
}

// TestLimitsBindTheSession runs runaway cells in a session with small
// limits: the session process carries them (and GOMEMLIMIT), a cell that
// allocates past the memory limit ends its session process with a clear
// error and the next cell runs, and a flood of output is cut with a notice.
// The limit on processes binds only users other than root; the JupyterHub
// test (tests/hub) checks it as a student.
func TestLimitsBindTheSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins")
	}
	lim := engine.Limits{Memory: 512 << 20, Procs: 4000, Output: 64 << 10}
	e, err := engine.New(engine.Options{Source: ipclab.Source, TempDir: t.TempDir(), WorkDir: t.TempDir(), Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	s := &session{t: t, e: e}
	_, out := s.ok(`b, _ := os.ReadFile("/proc/self/limits"); fmt.Println(string(b)); fmt.Println("GOMEMLIMIT=" + os.Getenv("GOMEMLIMIT"))`)
	for _, want := range []string{
		fmt.Sprintf("Max data size             %-20d %-20d bytes", lim.Memory, lim.Memory),
		fmt.Sprintf("Max processes             %-20d %-20d processes", lim.Procs, lim.Procs),
		fmt.Sprintf("GOMEMLIMIT=%d", lim.Memory/10*9),
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("the session process's limits lack %q:\n%s", want, out)
		}
	}
	// The kernel (this test process) keeps its own limits.
	if b, _ := os.ReadFile("/proc/self/limits"); strings.Contains(string(b), fmt.Sprint(lim.Memory)) {
		t.Fatalf("the limits leaked into the kernel process:\n%s", b)
	}

	s.ok("kept := 42")
	// A runaway allocation: 1 GiB blocks, touched, up to 30 GiB.
	rec, res := s.run(`var keep [][]byte
for i := 0; i < 30; i++ {
	b := make([]byte, 1<<30)
	for j := 0; j < len(b); j += 4096 { b[j] = 1 }
	keep = append(keep, b)
	fmt.Println("allocated", i+1, "GiB")
}`)
	if res.Err == nil || !strings.Contains(res.Err.Value, "limit of 512MiB of memory (IPCLAB_MEMORY_LIMIT)") {
		t.Fatalf("30 GiB cell: want an out-of-memory error, got %+v\nstdout %q\nstderr %q", res.Err, rec.out(), rec.stderr.String())
	}
	if strings.Contains(rec.out(), "allocated 1 GiB") {
		t.Fatalf("a 1 GiB block fit under a 512 MiB limit:\n%s", rec.out())
	}
	if v, _ := s.ok("1 + 2"); v != "3" {
		t.Fatalf("after the runaway cell: 1+2 = %q", v)
	}

	// 100 MB of output: 64 KiB reach the front end, then one notice.
	rec, res = s.run(`line := strings.Repeat("x", 99) + "\n"
for i := 0; i < 1000000; i++ { fmt.Print(line) }
fmt.Println("done")`)
	if res.Err != nil {
		t.Fatalf("output flood: %+v", res.Err)
	}
	if n := len(rec.out()); n > int(lim.Output) || n < int(lim.Output)/2 {
		t.Fatalf("output flood: %d bytes reached the front end, limit %d", n, lim.Output)
	}
	if !strings.Contains(rec.stderr.String(), "output passed 64KiB") || !strings.Contains(rec.stderr.String(), "IPCLAB_OUTPUT_LIMIT") {
		t.Fatalf("output flood: no notice on stderr: %q", rec.stderr.String())
	}
	if _, out := s.ok(`fmt.Println("next")`); out != "next\n" {
		t.Fatalf("the cell after the flood printed %q", out)
	}
}
