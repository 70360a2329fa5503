package plots

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ipclab/ipclab/ipc"
)

// modeOf returns a result's mode, inferring it for results that do not say.
func modeOf(r ipc.Result) ipc.Mode {
	if r.Mode != "" {
		return r.Mode
	}
	if r.RTTp50 > 0 || len(r.RTTQuantiles) > 0 {
		return ipc.PingPong
	}
	return ipc.Stream
}

// seriesOf names the series a result belongs to: its variant label
// ("shm-ring/spin"), or its transport for results that have none.
func seriesOf(r ipc.Result) string {
	if r.Label != "" {
		return r.Label
	}
	return r.Transport
}

// key names one cell of a grid of results.
type key struct {
	transport string
	size      int
}

// table is a set of results of one mode arranged by series (variant label)
// and size; a later result for the same series and size replaces an
// earlier one.
type table struct {
	transports []string // series, in order of first appearance
	sizes      []int    // ascending
	at         map[key]ipc.Result
}

func tableOf(rs ipc.Results, mode ipc.Mode, sizes []int) table {
	t := table{at: map[key]ipc.Result{}}
	seenT := map[string]bool{}
	seenS := map[int]bool{}
	for _, r := range rs {
		if modeOf(r) != mode || (len(sizes) > 0 && !slices.Contains(sizes, r.SizeBytes)) {
			continue
		}
		name := seriesOf(r)
		if !seenT[name] {
			seenT[name] = true
			t.transports = append(t.transports, name)
		}
		if !seenS[r.SizeBytes] {
			seenS[r.SizeBytes] = true
			t.sizes = append(t.sizes, r.SizeBytes)
		}
		t.at[key{name, r.SizeBytes}] = r
	}
	slices.Sort(t.sizes)
	return t
}

func (t table) get(transport string, size int) (ipc.Result, bool) {
	r, ok := t.at[key{transport, size}]
	return r, ok
}

// noData explains why a chart has nothing of the mode it needs.
func noData(rs ipc.Results, mode ipc.Mode, hint string) error {
	if len(rs) == 0 {
		return fmt.Errorf("%w: the results are empty (run an experiment first)", ErrNoData)
	}
	counts := map[ipc.Mode]int{}
	for _, r := range rs {
		counts[modeOf(r)]++
	}
	var have []string
	for m, n := range counts {
		have = append(have, fmt.Sprintf("%d %s", n, m))
	}
	sort.Strings(have)
	msg := fmt.Sprintf("no %s results among %d (%s)", mode, len(rs), strings.Join(have, ", "))
	if hint != "" {
		msg += "; " + hint
	}
	return fmt.Errorf("%w: %s", ErrNoData, msg)
}

// spread returns the slowest and fastest trial rate in messages per second,
// from the trials when recorded, else from the result's Min and Max.
func spread(r ipc.Result) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, tr := range r.Trials {
		if tr.MessagesPerSecond > 0 {
			lo, hi = math.Min(lo, tr.MessagesPerSecond), math.Max(hi, tr.MessagesPerSecond)
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = r.MinMessagesPerSecond, r.MaxMessagesPerSecond
	}
	if lo <= 0 || hi <= 0 || hi < lo {
		return 0, 0
	}
	return lo, hi
}

// bytesPerSecond returns a result's throughput in bytes per second, computing
// it from the message rate when the result does not carry it.
func bytesPerSecond(r ipc.Result) float64 {
	if r.BytesPerSecond > 0 {
		return r.BytesPerSecond
	}
	return r.MessagesPerSecond * float64(r.SizeBytes)
}

// captionOf names the machine, Go version and date of a set of results, the
// parameters they were run with (each result's own: those all share once,
// those that differ with the series that had each value), whether any
// consumer worked zero-copy, and whether the machine was busy or trials
// were too short to trust.
func captionOf(rs ipc.Results) string {
	var envs []ipc.Environment
	seen := map[string]bool{}
	var first, last time.Time
	for _, r := range rs {
		e := r.Environment
		if !e.Date.IsZero() {
			if first.IsZero() || e.Date.Before(first) {
				first = e.Date
			}
			if e.Date.After(last) {
				last = e.Date
			}
		}
		k := machineOf(e) + "|" + e.GoVersion
		if !seen[k] {
			seen[k] = true
			envs = append(envs, e)
		}
	}
	if len(envs) == 0 {
		return ""
	}
	e := envs[0]
	var parts []string
	if m := machineOf(e); m != "" {
		parts = append(parts, m)
	} else {
		parts = append(parts, "machine not recorded")
	}
	if e.GoVersion != "" {
		parts = append(parts, e.GoVersion)
	}
	if e.IpclabVersion != "" {
		parts = append(parts, "ipclab "+e.IpclabVersion)
	}
	if !first.IsZero() {
		d := first.UTC().Format("2006-01-02 15:04 UTC")
		if last.Sub(first) > time.Hour {
			d = first.UTC().Format("2006-01-02") + " … " + last.UTC().Format("2006-01-02")
		}
		parts = append(parts, d)
	}
	if p := paramsOf(rs); p != "" {
		parts = append(parts, p)
	}
	if len(envs) > 1 {
		parts = append(parts, fmt.Sprintf("results from %d different machines or Go versions", len(envs)))
	}
	var zero []string
	busiest := 0.0
	busy := false
	var short []string
	for _, r := range rs {
		if r.ZeroCopy && !slices.Contains(zero, seriesOf(r)) {
			zero = append(zero, seriesOf(r))
		}
		if r.Busy || r.Environment.Busy {
			busy = true
			busiest = math.Max(busiest, math.Max(r.OtherCPU, r.Environment.OtherCPU))
		}
		if r.Short {
			short = append(short, seriesOf(r)+" "+formatBytes(r.SizeBytes))
		}
	}
	if len(zero) > 0 {
		parts = append(parts, "zero-copy: "+strings.Join(zero, ", ")+" checked messages in place; every other consumer copied each message into its own memory")
	}
	if busy {
		parts = append(parts, fmt.Sprintf("measured while the machine was busy (other processes took up to %.0f%% of its CPU time)", 100*busiest))
	}
	if len(short) > 0 {
		parts = append(parts, "* trials too short to trust: "+strings.Join(short, ", "))
	}
	return strings.Join(parts, " · ")
}

// drawn returns the results of mode that t holds: those a chart draws, whose
// parameters its caption names.
func drawn(rs ipc.Results, mode ipc.Mode, t table) ipc.Results {
	var out ipc.Results
	for _, r := range rs {
		if modeOf(r) == mode {
			if got, ok := t.get(seriesOf(r), r.SizeBytes); ok && got.Environment.Date.Equal(r.Environment.Date) {
				out = append(out, r)
			}
		}
	}
	return out
}

// shortMarks applies shortMark to every name.
func (t table) shortMarks(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = t.shortMark(n)
	}
	return out
}

// shortMark returns name with " *" if any of its results in t had trials
// too short to trust (the caption lists them).
func (t table) shortMark(name string) string {
	for k, r := range t.at {
		if k.transport == name && r.Short {
			return name + " *"
		}
	}
	return name
}

// machineOf describes the machine: host, CPU, CPUs, OS, kernel.
func machineOf(e ipc.Environment) string {
	var b []string
	if e.Hostname != "" {
		b = append(b, e.Hostname)
	}
	cpu := strings.Join(strings.Fields(e.CPUModel), " ")
	if e.CPUs > 0 {
		if cpu != "" {
			cpu += ", "
		}
		cpu += fmt.Sprintf("%d CPUs", e.CPUs)
		if e.Pinned {
			cpu += " pinned"
		}
	}
	if cpu != "" {
		b = append(b, cpu)
	}
	osArch := strings.Trim(e.OS+"/"+e.Arch, "/")
	if e.KernelVersion != "" {
		osArch = strings.TrimSpace(osArch + " " + e.KernelVersion)
	}
	if osArch != "" {
		b = append(b, osArch)
	}
	return strings.Join(b, ", ")
}

// paramsOf lists the parameters of the results briefly, in a stable order,
// leaving out the mode (the subtitle says it) and long descriptions: a
// parameter all results share as k=v, one that differs as k=v1 (series…),
// v2 (series…), so that merged results keep their own parameters.
func paramsOf(rs ipc.Results) string {
	values := map[string]map[string][]string{} // key → value → series
	for _, r := range rs {
		for k, v := range r.Environment.Parameters {
			if k == "mode" || len(v) > 24 || (ringOnly[k] && r.Transport != "shm-ring") {
				continue
			}
			if values[k] == nil {
				values[k] = map[string][]string{}
			}
			if s := seriesOf(r); !slices.Contains(values[k][v], s) {
				values[k][v] = append(values[k][v], s)
			}
		}
	}
	keys := slices.Sorted(maps.Keys(values))
	var kv []string
	for _, k := range keys {
		vs := slices.Sorted(maps.Keys(values[k]))
		if len(vs) == 1 {
			kv = append(kv, k+"="+vs[0])
			continue
		}
		var each []string
		for _, v := range vs {
			series := values[k][v]
			if len(series) > 3 {
				series = append(series[:2:2], fmt.Sprintf("%d more", len(values[k][v])-2))
			}
			each = append(each, fmt.Sprintf("%s (%s)", v, strings.Join(series, ", ")))
		}
		kv = append(kv, k+"="+strings.Join(each, ", "))
	}
	return strings.Join(kv, " ")
}

// ringOnly are the parameters that only shm-ring results depend on.
var ringOnly = map[string]bool{"wait": true, "segment": true, "zero-copy": true}

// pickSizes returns up to n sizes spread from the smallest to the largest.
func pickSizes(sizes []int, n int) []int {
	if len(sizes) <= n {
		return sizes
	}
	out := make([]int, 0, n)
	for i := range n {
		out = append(out, sizes[i*(len(sizes)-1)/(n-1)])
	}
	return slices.Compact(out)
}
