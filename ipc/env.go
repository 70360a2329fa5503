package ipc

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// CurrentEnvironment describes this machine and Go toolchain. Run attaches
// it (with the experiment's parameters) to every Result.
func CurrentEnvironment() Environment {
	env := Environment{
		CPUModel:  cpuModel(),
		CPUs:      runtime.NumCPU(),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		Date:      time.Now().UTC().Truncate(time.Second),

		AllowedCPUs:   allowedCPUs(),
		IpclabVersion: ipclabVersion(),
		LoadBefore:    loadAverage(),
	}
	env.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		env.KernelVersion = unix.ByteSliceToString(u.Release[:])
	}
	return env
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAverage reads the 1, 5 and 15-minute load averages.
func loadAverage() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}

// cpuSample is a reading of the machine's busy CPU time (/proc/stat) and
// of the part of it that this process, its reaped children and a live
// worker took, in clock ticks (USER_HZ, 100 a second on Linux).
type cpuSample struct {
	at      time.Time
	busy    int64 // all CPUs: user, nice, system, irq, softirq, steal
	ours    int64 // this process and its reaped children, and the peer
	ok      bool
	peerPID int
}

const userHZ = 100

func sampleCPU(peerPID int) cpuSample {
	s := cpuSample{at: time.Now(), peerPID: peerPID}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system [idle iowait] irq softirq steal
		v, _ := strconv.ParseInt(f[i], 10, 64)
		s.busy += v
	}
	self, ok := procTicks("self", true)
	if !ok {
		return s
	}
	s.ours = self
	if peerPID > 0 {
		t, _ := procTicks(strconv.Itoa(peerPID), false)
		s.ours += t
	}
	s.ok = true
	return s
}

// procTicks reads utime+stime (and cutime+cstime if children) of a process.
func procTicks(pid string, children bool) (int64, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	_, rest, ok := strings.Cut(string(b), ") ") // the name may hold spaces
	if !ok {
		return 0, false
	}
	f := strings.Fields(rest) // f[0] is field 3 (state)
	if len(f) < 15 {
		return 0, false
	}
	var t int64
	last := 12 // stime (field 15)
	if children {
		last = 14 // cstime (field 17)
	}
	for i := 11; i <= last; i++ { // utime is field 14
		v, _ := strconv.ParseInt(f[i], 10, 64)
		t += v
	}
	return t, true
}

// otherCPU returns the CPU time, in seconds, that processes other than
// ours took between two samples, and that as a share of the machine's CPU
// time over the same span.
func otherCPU(a, b cpuSample) (seconds, share float64) {
	if !a.ok || !b.ok {
		return 0, 0
	}
	other := (b.busy - a.busy) - (b.ours - a.ours)
	seconds = max(0, float64(other)/userHZ)
	span := b.at.Sub(a.at).Seconds() * float64(runtime.NumCPU())
	if span <= 0 {
		return seconds, 0
	}
	return seconds, min(1, seconds/span)
}

// allowedCPUs lists the CPUs this process may run on.
func allowedCPUs() []int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return nil
	}
	var out []int
	for i := 0; i < 1024; i++ {
		if set.IsSet(i) {
			out = append(out, i)
		}
	}
	return out
}

// ipclabVersion is the version of the ipclab module this binary holds
// (with the VCS revision when it was built from a checkout).
func ipclabVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	const path = "github.com/ipclab/ipclab"
	v := ""
	if bi.Main.Path == path {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if len(s.Value) > 12 {
					v += " " + s.Value[:12]
				} else {
					v += " " + s.Value
				}
			case "vcs.modified":
				if s.Value == "true" {
					v += "+dirty"
				}
			}
		}
		return v
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil && d.Replace.Version == "" {
				return d.Version + " (local copy)"
			}
			return d.Version
		}
	}
	return "unknown"
}
