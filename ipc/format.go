package ipc

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// WriteTable writes the results as an aligned text table, followed by the
// machine they were measured on.
func (rs Results) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "transport\tmode\tsize\tmsg/s\tthroughput\tspread\tp50 RTT\tp99 RTT\tlost\tcorrupt\t")
	for _, r := range rs {
		spread := ""
		if r.MessagesPerSecond > 0 {
			spread = fmt.Sprintf("±%.0f%%", 50*(r.MaxMessagesPerSecond-r.MinMessagesPerSecond)/r.MessagesPerSecond)
		}
		p50, p99 := "-", "-"
		if r.Mode == PingPong {
			p50, p99 = fmtDuration(r.RTTp50), fmtDuration(r.RTTp99)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", r.Transport, r.Mode, FormatSize(r.SizeBytes),
			fmtRate(r.MessagesPerSecond), fmtBytes(r.BytesPerSecond), spread, p50, p99, r.Lost, r.Corrupt)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rs) > 0 {
		e := rs[0].Environment
		_, err := fmt.Fprintf(w, "\n%s, %d CPUs, %s, Linux %s, %s/%s, pinned=%v, %s\n", e.CPUModel, e.CPUs, e.GoVersion, e.KernelVersion, e.OS, e.Arch, e.Pinned, e.Date.Format(time.DateTime))
		return err
	}
	return nil
}

// WriteCSV writes one header line and one line per result.
func (rs Results) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"transport", "mode", "size_bytes", "messages_per_second", "bytes_per_second", "min_messages_per_second", "max_messages_per_second",
		"rtt_p50_ns", "rtt_p90_ns", "rtt_p99_ns", "rtt_max_ns", "messages", "lost", "corrupt", "trials", "cpu_model", "cpus", "go_version", "kernel_version", "pinned"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	d := func(v time.Duration) string { return strconv.FormatInt(int64(v), 10) }
	for _, r := range rs {
		e := r.Environment
		cw.Write([]string{r.Transport, string(r.Mode), strconv.Itoa(r.SizeBytes), f(r.MessagesPerSecond), f(r.BytesPerSecond),
			f(r.MinMessagesPerSecond), f(r.MaxMessagesPerSecond), d(r.RTTp50), d(r.RTTp90), d(r.RTTp99), d(r.RTTMax),
			strconv.FormatInt(r.Messages, 10), strconv.FormatInt(r.Lost, 10), strconv.FormatInt(r.Corrupt, 10), strconv.Itoa(len(r.Trials)),
			e.CPUModel, strconv.Itoa(e.CPUs), e.GoVersion, e.KernelVersion, strconv.FormatBool(e.Pinned)})
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
