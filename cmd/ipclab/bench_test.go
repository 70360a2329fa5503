package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipclab/ipclab/ipc"
)

// buildProbe compiles bench/probe.c into a temporary directory. Without gcc
// the test is skipped, except under CI=true, where it fails.
func buildProbe(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gcc is needed to build bench/probe.c (CI=true)")
		}
		t.Skip("no gcc: cannot build bench/probe.c")
	}
	probe := filepath.Join(t.TempDir(), "probe")
	out, err := exec.Command(gcc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", probe, filepath.Join("..", "..", "bench", "probe.c"), "-lrt").CombinedOutput()
	if err != nil {
		t.Fatalf("gcc probe.c: %v\n%s", err, out)
	}
	return probe
}

// compareRow is one line of the comparison table.
type compareRow struct {
	transport, mode, size string
	fields                []string // the columns after the size
}

// compareRows reads the comparison table that follows "against the C probe".
func compareRows(t *testing.T, out string) []compareRow {
	t.Helper()
	_, table, ok := strings.Cut(out, "against the C probe")
	if !ok {
		t.Fatalf("no comparison in the output:\n%s", out)
	}
	lines := strings.Split(table, "\n")
	var rows []compareRow
	for _, l := range lines[2:] { // the title's tail, the header
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "C limit:") || strings.HasPrefix(l, "load average") {
			break
		}
		name := limitLabel
		if !strings.HasPrefix(l, limitLabel) {
			name, _, _ = strings.Cut(l, " ")
		}
		f := strings.Fields(strings.TrimPrefix(l, name))
		if len(f) < 4 {
			t.Fatalf("short comparison line %q", l)
		}
		rows = append(rows, compareRow{transport: name, mode: f[0], size: f[1], fields: f[2:]})
	}
	return rows
}

// TestCompareEveryProbeTransport runs ipclab bench --compare for every
// transport the probe learnt beside the first four (and shm-ring, for the C
// limit), at 64 B with a few hundred messages, in both modes: every
// transport gets a line with Go and C rates and zero lost and corrupt
// messages, and stream mode adds the C limit line. Rates are not checked.
func TestCompareEveryProbeTransport(t *testing.T) {
	probe := buildProbe(t)
	fresh := []string{"fifo", "unix-seqpacket", "unix-dgram", "posix-mq", "sysv-mq"}
	for _, tr := range fresh {
		if !probeKnows(tr) {
			t.Errorf("probeKnows(%q) = false", tr)
		}
	}
	for _, mode := range []string{"stream", "pingpong"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			transports := append([]string{"shm-ring"}, fresh...)
			plot := filepath.Join(t.TempDir(), "c.svg")
			var out, errOut bytes.Buffer
			args := []string{"--transports", strings.Join(transports, ","), "--sizes", "64", "--mode", mode,
				"--count", "300", "--trials", "1", "--rounds", "2", "--compare", probe, "--plot", plot}
			if err := benchCommand(ctx, args, &out, &errOut); err != nil {
				t.Fatalf("bench %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, out.String(), errOut.String())
			}
			rows := compareRows(t, out.String())
			seen := map[string]bool{}
			for _, r := range rows {
				seen[r.transport] = true
				if r.mode != mode || r.size != "64" {
					t.Errorf("%s: mode %s size %s, want %s 64", r.transport, r.mode, r.size, mode)
				}
				n := len(r.fields)
				if r.transport == limitLabel {
					if r.fields[n-2] != "-" || r.fields[n-1] != "-" {
						t.Errorf("C limit line claims verification: %q", r.fields)
					}
					continue
				}
				if r.fields[n-2] != "0" || r.fields[n-1] != "0" {
					t.Errorf("%s: lost %s, corrupt %s, want 0 and 0", r.transport, r.fields[n-2], r.fields[n-1])
				}
				if r.fields[0] == "0" || r.fields[1] == "0" {
					t.Errorf("%s: a rate of zero: %q", r.transport, r.fields)
				}
			}
			for _, tr := range transports {
				if !seen[tr] {
					t.Errorf("no comparison line for %s:\n%s", tr, out.String())
				}
			}
			if seen[limitLabel] != (mode == "stream") {
				t.Errorf("C limit line present = %v in %s mode:\n%s", seen[limitLabel], mode, out.String())
			}
			b, err := os.ReadFile(plot)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "C limit (plain ring)") != (mode == "stream") {
				t.Errorf("%s chart: reference line labelled %v", mode, mode == "stream")
			}
		})
	}
}

// TestCompareKeepsFormats: with --format json the results on stdout stay
// JSON and the comparison goes to stderr.
func TestCompareKeepsFormats(t *testing.T) {
	probe := buildProbe(t)
	var out, errOut bytes.Buffer
	args := []string{"--transports", "sysv-mq", "--sizes", "64", "--count", "200", "--trials", "1", "--format", "json", "--compare", probe}
	if err := benchCommand(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var rs ipc.Results
	if err := json.Unmarshal(out.Bytes(), &rs); err != nil || len(rs) != 1 {
		t.Fatalf("stdout is not the JSON of one result (%v):\n%s", err, out.String())
	}
	rows := compareRows(t, errOut.String())
	if len(rows) != 2 || rows[0].transport != "sysv-mq" || rows[1].transport != limitLabel {
		t.Errorf("comparison on stderr: %+v", rows)
	}
}

// TestProbeErrorsNameTheTransport: what the probe refuses comes back as an
// error naming the transport and saying why.
func TestProbeErrorsNameTheTransport(t *testing.T) {
	probe := buildProbe(t)
	ctx := context.Background()
	e := ipc.Experiment{Mode: ipc.Stream, Count: 100, Trials: 1}
	_, err := runProbe(ctx, probe, "carrier-pigeon", e, 64, "adaptive", os.Stderr)
	if err == nil || !strings.Contains(err.Error(), "transport carrier-pigeon") || !strings.Contains(err.Error(), "unknown transport") {
		t.Errorf("unknown transport: %v", err)
	}
	// a SysV message larger than the OS allows (msgmax, 8 KiB by default)
	if b, rerr := os.ReadFile("/proc/sys/kernel/msgmax"); rerr == nil && strings.TrimSpace(string(b)) == "8192" {
		_, err = runProbe(ctx, probe, "sysv-mq", e, 64<<10, "adaptive", os.Stderr)
		if err == nil || !strings.Contains(err.Error(), "sysv-mq") || !strings.Contains(err.Error(), "msgmax") {
			t.Errorf("sysv-mq 64 KiB: %v", err)
		}
	}
	// a POSIX queue the OS limits refuse: the error names them
	if _, err = runProbe(ctx, probe, "posix-mq", e, 1<<20, "adaptive", os.Stderr); err != nil &&
		(!strings.Contains(err.Error(), "transport posix-mq") || !strings.Contains(err.Error(), "mqueue")) {
		t.Errorf("posix-mq 1 MiB: %v", err)
	}
	// the probe leaves no names behind
	if m, _ := filepath.Glob(filepath.Join(os.TempDir(), "ipclab-probe-*")); len(m) > 0 {
		t.Errorf("left behind: %q", m)
	}

	// an old probe: it cannot list, or lacks a transport
	dir := t.TempDir()
	old := filepath.Join(dir, "old")
	os.WriteFile(old, []byte("#!/bin/sh\n[ \"$1\" = list ] && exit 2\nexit 0\n"), 0o755)
	lacks := filepath.Join(dir, "lacks")
	os.WriteFile(lacks, []byte("#!/bin/sh\nprintf 'shm-ring\\npipe\\nunix-stream\\ntcp\\nc-ring\\n'\n"), 0o755)
	e.Transports = []string{"pipe", "fifo"}
	if err := checkProbe(ctx, old, e); err == nil || !strings.Contains(err.Error(), "make -C bench") {
		t.Errorf("probe without list: %v", err)
	}
	if err := checkProbe(ctx, lacks, e); err == nil || !strings.Contains(err.Error(), "transport fifo") {
		t.Errorf("probe without fifo: %v", err)
	}
	if err := checkProbe(ctx, probe, e); err != nil {
		t.Errorf("the probe of this tree: %v", err)
	}
}

// TestLimitLine: the C limit line gives the median of the per-round ratios
// of shm-ring to the plain ring, and its range.
func TestLimitLine(t *testing.T) {
	l := limitRow{size: 64, c: []probeResult{{rate: 100}, {rate: 200}, {rate: 400}}, shm: []float64{50, 50, 300}}
	var out bytes.Buffer
	writeRatios(&out, nil, []limitRow{l})
	rows := compareRows(t, out.String())
	if len(rows) != 1 || rows[0].transport != limitLabel {
		t.Fatalf("rows %+v from\n%s", rows, out.String())
	}
	// per-round ratios 0.5, 0.25, 0.75: median 0.5; rates: shm 50, C 200
	if f := rows[0].fields; f[0] != "50" || f[1] != "200" || f[2] != "0.50" || f[3] != "0.25–0.75" {
		t.Errorf("C limit line %q, want Go 50, C 200, ratio 0.50, range 0.25–0.75", f)
	}
	if got := l.rate(); got != 200 {
		t.Errorf("rate = %v, want the median 200", got)
	}
	// without shm-ring in the run, no ratio
	out.Reset()
	writeRatios(&out, nil, []limitRow{{size: 64, c: []probeResult{{rate: 100}}, shm: []float64{0}}})
	if f := compareRows(t, out.String())[0].fields; f[0] != "-" || f[2] != "-" {
		t.Errorf("C limit without shm-ring: %q", f)
	}
}
