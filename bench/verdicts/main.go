// Command verdicts checks that a notebook-sized experiment reaches the same
// conclusion every time: it runs the same experiment R times on the machine
// as it is ("quiet") and R times with one core kept busy by a spinning
// process it starts itself, and prints, per comparison of shared memory
// (shm-ring) with a message-passing transport, whether the verdict "shared
// memory faster" came out the same in every run, and the range of the
// ratios; and the same for "shared memory costs less CPU per message"
// (producer and consumer, user and system time), a verdict that does not
// depend on how much of the machine the scheduler gave the run. It is a
// benchmark, not a test: it asserts nothing.
//
//	go run ./bench/verdicts [-runs 5] [-duration 200ms] [-nice 10]
//	make bench-verdicts
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ipclab/ipclab/ipc"
)

type comparison struct {
	mode  ipc.Mode
	other string
	size  int
}

func (c comparison) String() string {
	return fmt.Sprintf("%-8s shm-ring vs %-11s %5s", c.mode, c.other, ipc.FormatSize(c.size))
}

// sample is one run's ratio: shm-ring's speed over the other's (msg/s, or
// inverse p50 round trip), > 1 means shared memory was faster.
type sample struct {
	ratio float64
	cpu   float64 // the other's CPU time per message over shm-ring's (both sides, user+sys); 0 if not measured
	busy  bool    // the run was flagged busy (Result.Busy on either side)
	short bool
}

func main() {
	runs := flag.Int("runs", 5, "runs per condition (quiet, busy core)")
	duration := flag.Duration("duration", 200*time.Millisecond, "trial duration")
	trials := flag.Int("trials", 3, "trials per result")
	nice := flag.Int("nice", 10, "niceness of the spinning process that keeps one core busy")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	others := []string{"pipe", "unix-stream", "tcp", "posix-mq"}
	sizes := []int{64, 4 << 10, 64 << 10, 1 << 20}
	exp := func(mode ipc.Mode, transports []string, sizes []int) ipc.Experiment {
		return ipc.Experiment{Transports: transports, Sizes: sizes, Mode: mode, Duration: *duration, Trials: *trials}
	}
	var plan []ipc.Experiment
	for _, mode := range []ipc.Mode{ipc.Stream, ipc.PingPong} {
		plan = append(plan, exp(mode, []string{"shm-ring", "pipe", "unix-stream", "tcp"}, sizes), exp(mode, []string{"posix-mq"}, []int{64, 4 << 10}))
	}
	got := map[string]map[comparison][]sample{"quiet": {}, "busy core": {}}
	var env []string
	for _, cond := range []string{"quiet", "busy core"} {
		for run := 1; run <= *runs; run++ {
			var spinner *exec.Cmd
			if cond == "busy core" {
				spinner = exec.Command("nice", "-n", fmt.Sprint(*nice), "sh", "-c", "while :; do :; done")
				if err := spinner.Start(); err != nil {
					fail(err)
				}
				time.Sleep(200 * time.Millisecond)
			}
			var rs ipc.Results
			var err error
			for _, e := range plan {
				var r ipc.Results
				r, err = ipc.Run(ctx, e)
				rs = append(rs, r...)
				if err != nil {
					break
				}
			}
			if spinner != nil {
				spinner.Process.Kill()
				spinner.Wait()
			}
			if err != nil {
				fail(err)
			}
			e := rs[len(rs)-1].Environment
			env = append(env, fmt.Sprintf("%s run %d: load %.1f → %.1f, other processes %.0f%% of the CPU time%s",
				cond, run, e.LoadBefore[0], e.LoadAfter[0], 100*e.OtherCPU, map[bool]string{true: " (busy)"}[e.Busy]))
			fmt.Fprintln(os.Stderr, env[len(env)-1])
			find := func(tr string, mode ipc.Mode, size int) (ipc.Result, bool) {
				for _, r := range rs {
					if r.Transport == tr && r.Mode == mode && r.SizeBytes == size {
						return r, true
					}
				}
				return ipc.Result{}, false
			}
			for _, mode := range []ipc.Mode{ipc.Stream, ipc.PingPong} {
				for _, other := range others {
					for _, size := range sizes {
						a, ok1 := find("shm-ring", mode, size)
						b, ok2 := find(other, mode, size)
						if !ok1 || !ok2 {
							continue
						}
						ratio := a.MessagesPerSecond / b.MessagesPerSecond
						if mode == ipc.PingPong {
							ratio = float64(b.RTTp50) / float64(a.RTTp50)
						}
						c := comparison{mode, other, size}
						cpu := func(r ipc.Result) float64 {
							return r.Producer.UserNs + r.Producer.SysNs + r.Consumer.UserNs + r.Consumer.SysNs
						}
						cr := 0.0
						if a.Producer.CPUCounted && b.Producer.CPUCounted && cpu(a) > 0 {
							cr = cpu(b) / cpu(a)
						}
						got[cond][c] = append(got[cond][c], sample{ratio, cr, a.Busy || b.Busy, a.Short || b.Short})
					}
				}
			}
		}
	}

	host, _ := os.Hostname()
	e := ipc.CurrentEnvironment()
	fmt.Printf("verdicts: %d runs quiet + %d with one core busy (a `nice -n %d` spinning process), %s trials × %d per result\n",
		*runs, *runs, *nice, *duration, *trials)
	fmt.Printf("machine: %s, %s, %d CPUs, %s, Linux %s, ipclab %s, %s UTC\n", host, e.CPUModel, e.CPUs, e.GoVersion, e.KernelVersion, e.IpclabVersion, time.Now().UTC().Format(time.DateTime))
	for _, l := range env {
		fmt.Println("  " + l)
	}
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "comparison\tshm faster (quiet)\tshm faster (busy)\tratio min–median–max\tsame verdict 10/10?\tdifference > 2×?\tshm cheaper CPU/msg\tCPU ratio min–max\t")
	var keys []comparison
	for c := range got["quiet"] {
		keys = append(keys, c)
	}
	slices.SortFunc(keys, func(a, b comparison) int { return strings.Compare(a.String(), b.String()) })
	stable, big, bigStable, cpuStable := 0, 0, 0, 0
	for _, c := range keys {
		var all []float64
		count := func(ss []sample) (faster int, n int) {
			for _, s := range ss {
				all = append(all, s.ratio)
				if s.ratio > 1 {
					faster++
				}
			}
			return faster, len(ss)
		}
		fq, nq := count(got["quiet"][c])
		fb, nb := count(got["busy core"][c])
		slices.Sort(all)
		same := (fq+fb == nq+nb) || (fq+fb == 0)
		minR, maxR := all[0], all[len(all)-1]
		// "Over 2×": the median ratio is beyond 2 (or below 1/2).
		med := all[len(all)/2]
		over2 := med >= 2 || med <= 0.5
		if same {
			stable++
		}
		if over2 {
			big++
			if same {
				bigStable++
			}
		}
		cheaper, ncpu := 0, 0
		cmin, cmax := math.Inf(1), math.Inf(-1)
		for _, ss := range [][]sample{got["quiet"][c], got["busy core"][c]} {
			for _, s := range ss {
				if s.cpu > 0 {
					ncpu++
					cmin, cmax = math.Min(cmin, s.cpu), math.Max(cmax, s.cpu)
					if s.cpu > 1 {
						cheaper++
					}
				}
			}
		}
		if ncpu > 0 && (cheaper == ncpu || cheaper == 0) {
			cpuStable++
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d/%d\t%.2f–%.2f–%.2f\t%s\t%s\t%d/%d\t%.1f–%.1f\t\n", c, fq, nq, fb, nb, minR, med, maxR, yesNo(same), yesNo(over2), cheaper, ncpu, cmin, cmax)
	}
	tw.Flush()
	fmt.Printf("\nsame verdict in every run: %d of %d comparisons; of the %d whose median difference is over 2×: %d\n", stable, len(keys), big, bigStable)
	fmt.Printf("\"shared memory costs less CPU per message\" (both sides' user+sys, which the scheduler's share does not change) the same in every run: %d of %d\n", cpuStable, len(keys))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "verdicts:", err)
	os.Exit(1)
}
