package ipc

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes the results as an aligned text table: one line per
// variant (Label) and size, with the system calls and CPU time per message
// of each side (producer/consumer), then the machine and load they were
// measured on. A result marked "short" had trials too short or too few
// messages to trust; "busy" was measured while other processes took more
// than BusyThreshold of the machine.
func (rs Results) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tmode\tsize\tmsg/s\tthroughput\tspread\tp50 RTT\tp99 RTT\tsyscalls/msg\tCPU/msg user+sys\tset-up\tlost\tcorrupt\tnote\t")
	var notes []string
	for _, r := range rs {
		spread := ""
		if r.MessagesPerSecond > 0 {
			spread = fmt.Sprintf("±%.0f%%", 50*(r.MaxMessagesPerSecond-r.MinMessagesPerSecond)/r.MessagesPerSecond)
		}
		p50, p99 := "-", "-"
		if r.Mode == PingPong {
			p50, p99 = fmtDuration(r.RTTp50), fmtDuration(r.RTTp99)
		}
		var note []string
		if r.Short {
			note = append(note, "short")
			notes = append(notes, fmt.Sprintf("%s %s: short: %s", r.labelOrTransport(), FormatSize(r.SizeBytes), r.ShortReason))
		}
		if r.Busy {
			note = append(note, fmt.Sprintf("busy %.0f%%", 100*r.OtherCPU))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t\n", r.labelOrTransport(), r.Mode, FormatSize(r.SizeBytes),
			fmtRate(r.MessagesPerSecond), fmtBytes(r.BytesPerSecond), spread, p50, p99,
			fmtSyscalls(r.Producer)+"/"+fmtSyscalls(r.Consumer), fmtCPU(r.Producer)+"/"+fmtCPU(r.Consumer), fmtSetup(r.Setup),
			r.Lost, r.Corrupt, strings.Join(note, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rs) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nsyscalls/msg and CPU/msg: producer/consumer (pinger/echoer in ping-pong); \"-\": not counted by ipc")
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	seen := map[string]bool{}
	for _, r := range rs {
		if line := r.Environment.Summary(); !seen[line] {
			seen[line] = true
			if _, err := fmt.Fprintln(w, line); err != nil {
				return err
			}
		}
	}
	return nil
}

// Summary is a line naming the machine, toolchain, date and load of a run,
// and whether it was busy.
func (e Environment) Summary() string {
	s := fmt.Sprintf("%s, %d CPUs, %s, Linux %s, %s/%s, ipclab %s, pinned=%v, %s UTC, load %.1f → %.1f",
		e.CPUModel, e.CPUs, e.GoVersion, e.KernelVersion, e.OS, e.Arch, e.IpclabVersion, e.Pinned, e.Date.Format(time.DateTime), e.LoadBefore[0], e.LoadAfter[0])
	if e.Busy {
		s += fmt.Sprintf("; measured while the machine was busy (other processes took %.0f%% of its CPU time)", 100*e.OtherCPU)
	}
	return s
}

func (r Result) labelOrTransport() string {
	if r.Label != "" {
		return r.Label
	}
	return r.Transport
}

func fmtSyscalls(c Costs) string {
	if !c.SyscallsCounted {
		return "-"
	}
	return strconv.FormatFloat(c.Syscalls, 'g', 3, 64)
}

func fmtCPU(c Costs) string {
	if !c.CPUCounted {
		return "-"
	}
	return fmtDuration(time.Duration(c.UserNs + c.SysNs))
}

func fmtSetup(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmtDuration(d)
}

// WriteCSV writes one header line and one line per result, with the
// machine, date, load and the run's parameters (as key=value;…) on every
// line, like WriteJSON.
func (rs Results) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"transport", "label", "mode", "size_bytes", "zero_copy", "messages_per_second", "bytes_per_second", "min_messages_per_second", "max_messages_per_second",
		"rtt_p50_ns", "rtt_p90_ns", "rtt_p99_ns", "rtt_max_ns", "messages", "lost", "corrupt", "trials", "requested_duration_ns", "short", "short_reason",
		"producer_syscalls_per_msg", "consumer_syscalls_per_msg", "syscalls_counted",
		"producer_user_cpu_ns_per_msg", "producer_sys_cpu_ns_per_msg", "consumer_user_cpu_ns_per_msg", "consumer_sys_cpu_ns_per_msg",
		"producer_voluntary_switches_per_msg", "producer_involuntary_switches_per_msg", "consumer_voluntary_switches_per_msg", "consumer_involuntary_switches_per_msg",
		"setup_ns", "other_cpu", "busy",
		"hostname", "date", "cpu_model", "cpus", "go_version", "kernel_version", "ipclab_version", "pinned", "allowed_cpus",
		"load_before", "load_after", "run_other_cpu", "run_busy", "parameters"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
	d := func(v time.Duration) string { return strconv.FormatInt(int64(v), 10) }
	for _, r := range rs {
		e := r.Environment
		cpus := make([]string, len(e.AllowedCPUs))
		for i, c := range e.AllowedCPUs {
			cpus[i] = strconv.Itoa(c)
		}
		keys := slices.Sorted(maps.Keys(e.Parameters))
		params := make([]string, len(keys))
		for i, k := range keys {
			params[i] = k + "=" + e.Parameters[k]
		}
		cw.Write([]string{r.Transport, r.labelOrTransport(), string(r.Mode), strconv.Itoa(r.SizeBytes), strconv.FormatBool(r.ZeroCopy), f(r.MessagesPerSecond), f(r.BytesPerSecond),
			f(r.MinMessagesPerSecond), f(r.MaxMessagesPerSecond), d(r.RTTp50), d(r.RTTp90), d(r.RTTp99), d(r.RTTMax),
			strconv.FormatInt(r.Messages, 10), strconv.FormatInt(r.Lost, 10), strconv.FormatInt(r.Corrupt, 10), strconv.Itoa(len(r.Trials)),
			d(r.RequestedDuration), strconv.FormatBool(r.Short), r.ShortReason,
			g(r.Producer.Syscalls), g(r.Consumer.Syscalls), strconv.FormatBool(r.Producer.SyscallsCounted && r.Consumer.SyscallsCounted),
			g(r.Producer.UserNs), g(r.Producer.SysNs), g(r.Consumer.UserNs), g(r.Consumer.SysNs),
			g(r.Producer.VoluntarySwitches), g(r.Producer.InvoluntarySwitches), g(r.Consumer.VoluntarySwitches), g(r.Consumer.InvoluntarySwitches),
			d(r.Setup), g(r.OtherCPU), strconv.FormatBool(r.Busy),
			e.Hostname, e.Date.UTC().Format(time.RFC3339), e.CPUModel, strconv.Itoa(e.CPUs), e.GoVersion, e.KernelVersion, e.IpclabVersion, strconv.FormatBool(e.Pinned), strings.Join(cpus, " "),
			fmt.Sprintf("%.2f %.2f %.2f", e.LoadBefore[0], e.LoadBefore[1], e.LoadBefore[2]), fmt.Sprintf("%.2f %.2f %.2f", e.LoadAfter[0], e.LoadAfter[1], e.LoadAfter[2]),
			g(e.OtherCPU), strconv.FormatBool(e.Busy), strings.Join(params, ";")})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the results as an indented JSON list of records.
func (rs Results) WriteJSON(w io.Writer) error {
	if rs == nil {
		rs = Results{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rs)
}

// FormatSize writes a byte count the way the CLI reads it: 64, 4K, 1M.
func FormatSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "M"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "K"
	}
	return strconv.Itoa(n)
}

// ParseSize reads 64, 4K, 4KiB, 1M, 16MiB (powers of 1024).
func ParseSize(s string) (int, error) {
	num, mult := s, 1
	for _, suf := range []struct {
		s string
		m int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"k", 1 << 10}, {"B", 1}} {
		if len(s) > len(suf.s) && s[len(s)-len(suf.s):] == suf.s {
			num, mult = s[:len(s)-len(suf.s)], suf.m
			break
		}
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: %w: want a number with an optional K or M suffix", s, ErrBadParameter)
	}
	return v * mult, nil
}

func fmtRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fK", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtBytes(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f GB/s", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.1f MB/s", v/1e6)
	}
	return fmt.Sprintf("%.1f KB/s", v/1e3)
}

func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d >= time.Microsecond:
		return fmt.Sprintf("%.2f µs", float64(d)/1e3)
	}
	return fmt.Sprintf("%d ns", d)
}
