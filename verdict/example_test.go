package verdict_test

import "github.com/ipclab/ipclab/verdict"

// A verdict decided from a ratio measured in the same run. Outside the kernel
// a verdict shows as its text.
func Example() {
	shm, pipe := 12.5e6, 0.4e6 // messages per second, from ipc.Run
	v := verdict.New("2", "Shared memory is faster.")
	v.Param("size", "64 B")
	if r := v.Ratio("shm-ring ÷ pipe, 64 B msg/s", shm, pipe); r > 1 {
		verdict.NewSummary("summary", "Claims").Add(v.Confirm("the ring moved %.1f× the messages of a pipe", r))
	} else {
		verdict.NewSummary("summary", "Claims").Add(v.Contradict("a pipe was %.1f× faster", 1/r))
	}
	// Output:
	// Claim 2: CONFIRMED
	//   “Shared memory is faster.”
	//   the ring moved 31.2× the messages of a pipe
	//   - shm-ring ÷ pipe, 64 B msg/s: 31.2×
	//   parameters: size=64 B
}
