package plots

import (
	"cmp"
	"fmt"
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

// key names one cell of a grid of results.
type key struct {
	transport string
	size      int
}

// table is a set of results of one mode arranged by transport and size; a
// later result for the same transport and size replaces an earlier one.
type table struct {
	transports []string // in order of first appearance
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
		if !seenT[r.Transport] {
			seenT[r.Transport] = true
			t.transports = append(t.transports, r.Transport)
		}
		if !seenS[r.SizeBytes] {
			seenS[r.SizeBytes] = true
			t.sizes = append(t.sizes, r.SizeBytes)
		}
		t.at[key{r.Transport, r.SizeBytes}] = r
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

// captionOf names the machine, Go version and date of a set of results.
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
	if !first.IsZero() {
		d := first.UTC().Format("2006-01-02 15:04 UTC")
		if last.Sub(first) > time.Hour {
			d = first.UTC().Format("2006-01-02") + " … " + last.UTC().Format("2006-01-02")
		}
		parts = append(parts, d)
	}
	if p := paramsOf(e.Parameters); p != "" {
		parts = append(parts, p)
	}
	if len(envs) > 1 {
		parts = append(parts, fmt.Sprintf("results from %d different machines or Go versions", len(envs)))
	}
	return strings.Join(parts, " · ")
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

// paramsOf lists a run's parameters briefly, in a stable order, leaving out
// the mode (the subtitle says it) and long descriptions.
func paramsOf(p map[string]string) string {
	var kv []string
	for k, v := range p {
		if k == "mode" || len(v) > 24 {
			continue
		}
		kv = append(kv, k+"="+v)
	}
	slices.SortFunc(kv, func(a, b string) int { return cmp.Compare(a, b) })
	return strings.Join(kv, " ")
}

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
