package ipc

import "time"

// Mode says what an experiment measures.
type Mode string

const (
	// Stream sends messages one way as fast as the consumer takes them (throughput).
	Stream Mode = "stream"
	// PingPong sends one message and waits for its echo (round-trip latency).
	PingPong Mode = "pingpong"
)

// Result is what one transport achieved at one message size in one mode,
// summarised over several trials. Rates are medians over the trials; Min and Max
// give the spread. Latency fields are zero in Stream mode.
type Result struct {
	Transport string `json:"transport"`
	// Label names the variant that was run: the transport, then what was
	// not the default, e.g. "shm-ring/spin", "shm-ring/sysv/zero-copy".
	// Charts and tables draw and list one series per label.
	Label     string `json:"label"`
	Mode      Mode   `json:"mode"`
	SizeBytes int    `json:"size_bytes"`
	// ZeroCopy: the consumer checked each message in place instead of
	// copying it into its own memory (Options.ZeroCopy; shm-ring only).
	ZeroCopy bool `json:"zero_copy"`

	MessagesPerSecond float64 `json:"messages_per_second"`
	BytesPerSecond    float64 `json:"bytes_per_second"`
	// MinMessagesPerSecond and MaxMessagesPerSecond are the slowest and fastest trial.
	MinMessagesPerSecond float64 `json:"min_messages_per_second"`
	MaxMessagesPerSecond float64 `json:"max_messages_per_second"`

	RTTp50 time.Duration `json:"rtt_p50_ns"`
	RTTp90 time.Duration `json:"rtt_p90_ns"`
	RTTp99 time.Duration `json:"rtt_p99_ns"`
	RTTMax time.Duration `json:"rtt_max_ns"`
	// RTTQuantiles holds the round-trip time at 101 evenly spaced quantiles
	// (0%, 1%, …, 100%) of all measured round trips, for latency CDFs.
	RTTQuantiles []time.Duration `json:"rtt_quantiles_ns,omitempty"`

	Messages int64   `json:"messages"` // verified messages over all trials
	Lost     int64   `json:"lost"`     // sequence numbers never received
	Corrupt  int64   `json:"corrupt"`  // messages whose checksum did not match
	Trials   []Trial `json:"trials"`

	// RequestedDuration is how long each trial was asked to last (zero
	// when Experiment.Count fixed the number of messages instead).
	RequestedDuration time.Duration `json:"requested_duration_ns,omitempty"`
	// Short says the trials were too short or had too few messages for
	// their rate to mean much; ShortReason says which. Tables and charts
	// mark such results.
	Short       bool   `json:"short"`
	ShortReason string `json:"short_reason,omitempty"`

	// Producer and Consumer are what each side spent per message during
	// the trials (system calls made by ipc, CPU time, context switches).
	Producer Costs `json:"producer"`
	Consumer Costs `json:"consumer"`
	// Setup is the time to create a transport's resources and connect
	// both ends (Open and Close in one process), measured apart from the
	// trials; zero for Remote runs.
	Setup time.Duration `json:"setup_ns"`

	// OtherCPU is the share of the machine's CPU time (0…1) that processes
	// other than this run's took while this result's trials ran, from
	// /proc/stat. Busy is set when it was above BusyThreshold: the
	// numbers were measured while the machine was busy.
	OtherCPU float64 `json:"other_cpu"`
	Busy     bool    `json:"busy"`

	Environment Environment `json:"environment"`
}

// BusyThreshold is the share of the machine's CPU time taken by other
// processes above which a result (or run) is flagged Busy.
const BusyThreshold = 0.10

// Costs is what one side of a transport spent per message in the timed
// trials. CPU times and switches are those of the thread that ran the
// side's loop (getrusage RUSAGE_THREAD), so the Go runtime's own
// background threads do not count.
type Costs struct {
	// Syscalls is the number of system calls ipc made per message (read,
	// write, send, recv, poll, futex, sched_yield, mq_*, msg*). It is
	// counted where ipc makes them; SyscallsCounted is false for
	// transports whose calls are made by a library or by the Go runtime
	// (zmq-ipc, zmq-tcp), where Syscalls is 0.
	Syscalls        float64 `json:"syscalls_per_msg"`
	SyscallsCounted bool    `json:"syscalls_counted"`
	// UserNs and SysNs are user and kernel (system) CPU time per message,
	// in nanoseconds; with the switches below, measured only when
	// CPUCounted (not for chan and shm-mutex, whose goroutines move
	// between threads).
	CPUCounted bool    `json:"cpu_counted"`
	UserNs     float64 `json:"user_cpu_ns_per_msg"`
	SysNs      float64 `json:"sys_cpu_ns_per_msg"`
	// VoluntarySwitches (the thread slept: waited for data or room) and
	// InvoluntarySwitches (the scheduler took the CPU away) per message.
	VoluntarySwitches   float64 `json:"voluntary_switches_per_msg"`
	InvoluntarySwitches float64 `json:"involuntary_switches_per_msg"`
}

// Trial is one timed run of an experiment.
type Trial struct {
	Messages          int64         `json:"messages"`
	Elapsed           time.Duration `json:"elapsed_ns"`
	MessagesPerSecond float64       `json:"messages_per_second"`
	BytesPerSecond    float64       `json:"bytes_per_second"`
	RTTp50            time.Duration `json:"rtt_p50_ns,omitempty"`
	RTTp99            time.Duration `json:"rtt_p99_ns,omitempty"`
	// Chunks is how many runs of messages the trial was made of: a trial
	// of a given Duration sends in runs sized from the rate seen so far
	// until the time is up, so that one stall cannot shorten it.
	Chunks int `json:"chunks,omitempty"`
}

// Environment describes where and how results were measured, so that a
// number is never shown without its machine.
type Environment struct {
	Hostname      string `json:"hostname"`
	CPUModel      string `json:"cpu_model"`
	CPUs          int    `json:"cpus"`
	GoVersion     string `json:"go_version"`
	KernelVersion string `json:"kernel_version"` // uname -r
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	Pinned        bool   `json:"pinned"`
	// AllowedCPUs lists the CPUs this process may run on (its affinity).
	AllowedCPUs []int     `json:"allowed_cpus,omitempty"`
	Date        time.Time `json:"date"`
	// IpclabVersion is the version of the ipclab module that measured.
	IpclabVersion string `json:"ipclab_version"`
	// LoadBefore and LoadAfter are the 1, 5 and 15-minute load averages
	// (/proc/loadavg) when the run started and ended.
	LoadBefore [3]float64 `json:"load_before"`
	LoadAfter  [3]float64 `json:"load_after"`
	// OtherCPUSeconds is the CPU time processes other than this run's
	// (this process and its workers) took during the run, from
	// /proc/stat; OtherCPU is that as a share (0…1) of the machine's CPU
	// time (elapsed × CPUs). Busy is OtherCPU > BusyThreshold.
	OtherCPUSeconds float64 `json:"other_cpu_seconds"`
	OtherCPU        float64 `json:"other_cpu"`
	Busy            bool    `json:"busy"`
	// Parameters holds the run's settings (duration, trials, wait strategy, …).
	Parameters map[string]string `json:"parameters,omitempty"`
}

// Results is a set of results, typically one experiment over several
// transports and sizes.
type Results []Result
