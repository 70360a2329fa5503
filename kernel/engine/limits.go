package engine

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Limits protect a class sharing one server from a student's runaway cell.
// They bound the session process (where cells run) and every process it
// starts, never the kernel itself, so a cell that hits one fails or ends
// its session process while the kernel, the student's other kernels,
// other students and the hub go on:
//
//   - Memory is the session process's RLIMIT_DATA (heap and other private
//     writable memory, inherited by ipc workers and commands a cell
//     runs); GOMEMLIMIT is set to nine tenths of it so that Go's collector
//     works harder before the limit is reached. Go reserves far more
//     address space than it uses, so RLIMIT_AS would stop healthy
//     programs; RLIMIT_DATA counts only what is really writable.
//   - Procs is RLIMIT_NPROC for the session process: processes and threads
//     the whole user may have before the session process and what it
//     starts can make more (fork loops end with "resource temporarily
//     unavailable"). It does not bind root.
//   - Output is how many bytes of stream and display output one cell may
//     send to the front end; the rest is dropped with a notice.
//
// A zero field means no limit. The teacher sets them in the kernel spec's
// env (see LimitsFromEnv); DefaultLimits are used otherwise.
type Limits struct {
	Memory int64
	Procs  int64
	Output int64
}

// DefaultLimits are the limits of a kernel whose environment sets none:
// 4 GiB of memory (at most half the machine's), 512 processes and threads
// for the user, 32 MiB of output per cell.
func DefaultLimits() Limits {
	mem := int64(4 << 30)
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		if half := int64(si.Totalram) * int64(si.Unit) / 2; half > 0 && half < mem {
			mem = half
		}
	}
	return Limits{Memory: mem, Procs: 512, Output: 32 << 20}
}

// Environment variables that override DefaultLimits, one per field:
// sizes in bytes with an optional unit (KiB, MiB, GiB, KB, MB, GB, K, M,
// G), counts as integers, and 0, "off" or "none" for no limit.
const (
	EnvMemoryLimit = "IPCLAB_MEMORY_LIMIT"
	EnvProcsLimit  = "IPCLAB_PROCS_LIMIT"
	EnvOutputLimit = "IPCLAB_OUTPUT_LIMIT"
)

// LimitsFromEnv returns DefaultLimits with what getenv sets for
// IPCLAB_MEMORY_LIMIT, IPCLAB_PROCS_LIMIT and IPCLAB_OUTPUT_LIMIT.
func LimitsFromEnv(getenv func(string) string) (Limits, error) {
	l := DefaultLimits()
	for _, f := range []struct {
		env  string
		dst  *int64
		size bool
	}{{EnvMemoryLimit, &l.Memory, true}, {EnvProcsLimit, &l.Procs, false}, {EnvOutputLimit, &l.Output, true}} {
		v := strings.TrimSpace(getenv(f.env))
		if v == "" {
			continue
		}
		n, err := parseLimit(v, f.size)
		if err != nil {
			return l, fmt.Errorf("%s=%q: %w", f.env, v, err)
		}
		*f.dst = n
	}
	return l, nil
}

func parseLimit(v string, size bool) (int64, error) {
	switch strings.ToLower(v) {
	case "off", "none", "unlimited":
		return 0, nil
	}
	num, mult := v, int64(1)
	if size {
		units := []struct {
			suffix string
			mult   int64
		}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
			{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
			{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40}, {"b", 1}}
		low := strings.ToLower(v)
		for _, u := range units {
			if strings.HasSuffix(low, u.suffix) {
				num, mult = strings.TrimSpace(v[:len(v)-len(u.suffix)]), u.mult
				break
			}
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		if size {
			return 0, errors.New("want a size such as 4GiB, 512MiB or 0 for none")
		}
		return 0, errors.New("want a whole number, or 0 for none")
	}
	if n > (1<<62)/mult {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// env adds what the session process needs to know of the limits to its
// environment: GOMEMLIMIT, unless the teacher set one.
func (l Limits) env(extra map[string]string) {
	if l.Memory > 0 && os.Getenv("GOMEMLIMIT") == "" {
		extra["GOMEMLIMIT"] = strconv.FormatInt(l.Memory/10*9, 10)
	}
}

// apply sets the limits of the process pid (just started, not yet running
// cells). Children it starts later inherit them.
func (l Limits) apply(pid int) error {
	var errs []error
	set := func(name string, res int, v int64) {
		if v <= 0 {
			return
		}
		lim := unix.Rlimit{Cur: uint64(v), Max: uint64(v)}
		var old unix.Rlimit
		if err := unix.Prlimit(pid, res, nil, &old); err == nil && old.Max < lim.Max {
			lim = unix.Rlimit{Cur: min(old.Max, lim.Cur), Max: old.Max} // never above what the kernel got
		}
		if err := unix.Prlimit(pid, res, &lim, nil); err != nil {
			errs = append(errs, fmt.Errorf("set %s of the session process to %d: %w", name, v, err))
		}
	}
	set("RLIMIT_DATA", unix.RLIMIT_DATA, l.Memory)
	set("RLIMIT_NPROC", unix.RLIMIT_NPROC, l.Procs)
	return errors.Join(errs...)
}

// String describes the limits for the kernel's log.
func (l Limits) String() string {
	count := func(v int64) string {
		if v <= 0 {
			return "none"
		}
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprintf("memory=%s procs=%s output=%s/cell", sizeString(l.Memory), count(l.Procs), sizeString(l.Output))
}

func sizeString(v int64) string {
	switch {
	case v <= 0:
		return "none"
	case v%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", v>>30)
	case v%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", v>>20)
	case v%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", v>>10)
	}
	return fmt.Sprintf("%d bytes", v)
}

// cappedOutput passes a cell's output on until limit bytes have gone, then
// drops the rest and says so once, on stderr.
type cappedOutput struct {
	Output
	limit int64

	mu   sync.Mutex
	sent int64
	cut  bool
}

func capOutput(out Output, limit int64) Output {
	if limit <= 0 || out == nil {
		return out
	}
	return &cappedOutput{Output: out, limit: limit}
}

// take returns how many of n more bytes may go out; cut is set the first
// time not all of them may (the caller then sends the notice).
func (c *cappedOutput) take(n int64) (ok int64, cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return 0, false
	}
	if c.sent+n <= c.limit {
		c.sent += n
		return n, false
	}
	c.cut = true
	ok = c.limit - c.sent
	c.sent = c.limit
	return ok, true
}

func (c *cappedOutput) notice() {
	c.Output.Stream("stderr", fmt.Sprintf("\nipclab: this cell's output passed %s; the rest is not shown (%s in the kernel spec's env sets the limit).\n",
		sizeString(c.limit), EnvOutputLimit))
}

func (c *cappedOutput) Stream(name, text string) {
	n, cut := c.take(int64(len(text)))
	if !cut {
		if n > 0 {
			c.Output.Stream(name, text)
		}
		return
	}
	part := text[:n]
	for len(part) > 0 && !utf8.ValidString(part) { // do not split a character
		part = part[:len(part)-1]
	}
	if part != "" {
		c.Output.Stream(name, part)
	}
	c.notice()
}

func (c *cappedOutput) Display(data, metadata map[string]any, displayID string, update bool) {
	n := int64(0)
	for _, v := range data {
		if s, ok := v.(string); ok {
			n += int64(len(s))
		} else {
			n += 64
		}
	}
	switch ok, cut := c.take(n); {
	case cut:
		c.notice()
	case ok > 0 || n == 0:
		c.Output.Display(data, metadata, displayID, update)
	}
}

// memoryNote returns a line for the crash report of a session process
// whose peak resident memory came within a tenth of the memory limit: Go
// then ends in "out of memory", a failed thread start or a fault, depending
// on which allocation hit the limit first.
func (l Limits) memoryNote(maxRSS int64) string {
	if l.Memory > 0 && maxRSS >= l.Memory/10*9 {
		return fmt.Sprintf("\nipclab: the session process used %s: out of memory\n", sizeString(maxRSS>>20<<20))
	}
	return ""
}

// faultInMemoryManager reports whether stderr is Go's report of a fault
// whose first frame is in the runtime itself (its allocator or collector,
// seen here): where an allocation is refused by RLIMIT_DATA, Go sometimes
// faults there instead of saying "out of memory", before the resident size
// grows near the limit.
func faultInMemoryManager(stderr string) bool {
	if !strings.HasPrefix(stderr, "SIGSEGV") && !strings.HasPrefix(stderr, "unexpected fault address") {
		return false
	}
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "\t") { // the first frame's file
			return strings.Contains(line, "/src/runtime/") // the runtime itself faulted, not the cell's code
		}
	}
	return false
}

// crashHint names the limit a session process that died with stderr most
// likely reached, or returns "".
func (l Limits) crashHint(stderr string) string {
	mem := fmt.Sprintf("%s of memory (%s)", sizeString(l.Memory), EnvMemoryLimit)
	procs := fmt.Sprintf("%d processes and threads of the user (%s)", l.Procs, EnvProcsLimit)
	switch {
	case l.Memory > 0 && (strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "cannot allocate memory")):
		return "it reached the kernel's limit of " + mem
	case l.Memory > 0 && faultInMemoryManager(stderr):
		return "it most likely reached the kernel's limit of " + mem + " (Go's runtime faulted while managing memory)"
	case strings.Contains(stderr, "pthread_create failed") || strings.Contains(stderr, "failed to create new OS thread"):
		switch {
		case l.Memory > 0 && l.Procs > 0:
			return "it could not start a thread: it reached the kernel's limit of " + mem + " or of " + procs
		case l.Memory > 0:
			return "it could not start a thread: it reached the kernel's limit of " + mem
		case l.Procs > 0:
			return "it could not start a thread: it reached the kernel's limit of " + procs
		}
	}
	return ""
}
