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
	Mode      Mode   `json:"mode"`
	SizeBytes int    `json:"size_bytes"`

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

	Environment Environment `json:"environment"`
}

// Trial is one timed run of an experiment.
type Trial struct {
	Messages          int64         `json:"messages"`
	Elapsed           time.Duration `json:"elapsed_ns"`
	MessagesPerSecond float64       `json:"messages_per_second"`
	BytesPerSecond    float64       `json:"bytes_per_second"`
	RTTp50            time.Duration `json:"rtt_p50_ns,omitempty"`
	RTTp99            time.Duration `json:"rtt_p99_ns,omitempty"`
}

// Environment describes where and how results were measured, so that a
// number is never shown without its machine.
type Environment struct {
	Hostname      string    `json:"hostname"`
	CPUModel      string    `json:"cpu_model"`
	CPUs          int       `json:"cpus"`
	GoVersion     string    `json:"go_version"`
	KernelVersion string    `json:"kernel_version"` // uname -r
	OS            string    `json:"os"`
	Arch          string    `json:"arch"`
	Pinned        bool      `json:"pinned"`
	Date          time.Time `json:"date"`
	// Parameters holds the run's settings (duration, trials, wait strategy, …).
	Parameters map[string]string `json:"parameters,omitempty"`
}

// Results is a set of results, typically one experiment over several
// transports and sizes.
type Results []Result
