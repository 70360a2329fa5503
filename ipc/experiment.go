package ipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// MaxSize is the largest message size an experiment accepts (16 MiB).
const MaxSize = 16 << 20

// Experiment describes a measurement: every transport at every size, in one
// mode, each as Trials timed runs after a warm-up. The zero value of every
// field but Transports and Sizes has a sensible default.
type Experiment struct {
	Transports []string // names from Transports()
	Sizes      []int    // message sizes in bytes, HeaderSize … MaxSize
	Mode       Mode     // Stream (default) or PingPong

	// Duration is how long each trial runs (default 1s). The harness
	// measures the rate during the warm-up and sends that many messages.
	Duration time.Duration
	// Count, if positive, fixes the number of messages per trial instead.
	Count int64
	// Trials is the number of timed runs (default 3); results report their
	// median, minimum and maximum.
	Trials int
	// Warmup is the untimed run before the trials (default Duration/4,
	// between 50 ms and 500 ms; negative: none).
	Warmup time.Duration

	// Pin puts the producer on CPU 0 and the consumer on CPU 1.
	Pin bool
	// Options configure the transports (Wait, Segment, Addr, …);
	// MaxMessage is set from each size.
	Options Options
	// InProcess runs the consumer as a goroutine of this process instead of
	// a child process (always so for chan and shm-mutex).
	InProcess bool
	// Remote is the address "tcp://HOST:PORT" of an `ipclab worker
	// --listen` (see Serve) on which the consumer runs; only transports that
	// span hosts (tcp, zmq-tcp) can be used.
	Remote string

	// Progress, if set, is called after every warm-up and trial.
	Progress func(Progress)
}

// Progress reports how far Run has come.
type Progress struct {
	Done, Total int // trials done and planned
	Transport   string
	Size        int
	Phase       string // "warm-up" or "trial N"
}

func (e Experiment) withDefaults() Experiment {
	if e.Mode == "" {
		e.Mode = Stream
	}
	if e.Duration <= 0 {
		e.Duration = time.Second
	}
	if e.Trials <= 0 {
		e.Trials = 3
	}
	if e.Warmup == 0 {
		e.Warmup = min(500*time.Millisecond, max(50*time.Millisecond, e.Duration/4))
	}
	return e
}

// Validate checks the experiment without running it; the error names every
// bad parameter and the limit it breaks.
func (e Experiment) Validate() error {
	e = e.withDefaults()
	var errs []error
	if len(e.Transports) == 0 {
		errs = append(errs, fmt.Errorf("%w: no transports (have %v)", ErrBadParameter, canonicalOrder))
	}
	if len(e.Sizes) == 0 {
		errs = append(errs, fmt.Errorf("%w: no message sizes", ErrBadParameter))
	}
	if e.Mode != Stream && e.Mode != PingPong {
		errs = append(errs, fmt.Errorf("%w: mode %q (want stream or pingpong)", ErrBadParameter, e.Mode))
	}
	for _, s := range e.Sizes {
		if s < HeaderSize {
			errs = append(errs, fmt.Errorf("%w: message size %d: every message carries an %d-byte header (sequence number and checksum), so the smallest size is %d", ErrBadParameter, s, HeaderSize, HeaderSize))
		} else if s > MaxSize {
			errs = append(errs, fmt.Errorf("%w: message size %d: larger than the harness limit of %d bytes (16 MiB)", ErrMessageTooLarge, s, MaxSize))
		}
	}
	if e.Remote != "" {
		if _, _, err := net.SplitHostPort(trimScheme(e.Remote)); err != nil {
			errs = append(errs, fmt.Errorf("%w: remote %q: want tcp://HOST:PORT", ErrBadParameter, e.Remote))
		}
	}
	for _, name := range e.Transports {
		t, err := lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if e.Remote != "" && t.reach != network {
			errs = append(errs, fmt.Errorf("transport %s: %w: it cannot reach another host (use tcp or zmq-tcp with Remote)", name, ErrBadParameter))
			continue
		}
		for _, s := range e.Sizes {
			if s < HeaderSize || s > MaxSize {
				continue
			}
			o := e.Options
			o.MaxMessage = s
			if err := Check(name, o, s); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func trimScheme(addr string) string {
	if len(addr) > 6 && addr[:6] == "tcp://" {
		return addr[6:]
	}
	return addr
}

// Run performs the experiment and returns one Result per transport and
// size, in order. It checks every parameter before it starts. SIGINT and
// SIGTERM during the run cancel it like ctx: Run stops its workers, removes
// every resource it made and returns. If any message was lost or corrupt,
// the results are returned with an error wrapping ErrVerify.
func Run(ctx context.Context, e Experiment) (Results, error) {
	e = e.withDefaults()
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("run experiment: %w", err)
	}
	ctx, release := interruptible(ctx)
	defer release()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			cancel(fmt.Errorf("%w: %v", context.Canceled, s))
		case <-ctx.Done():
		}
	}()
	Sweep()

	env := CurrentEnvironment()
	env.Pinned = e.Pin
	env.Parameters = e.parameters()
	env.LoadBefore = loadAverage()
	cpu0 := sampleCPU(0)
	total := len(e.Transports) * len(e.Sizes) * e.Trials
	var results Results
	// Every result gets the environment of the whole run, with the load
	// after it, also when the run fails part-way.
	finish := func() {
		env.LoadAfter = loadAverage()
		env.OtherCPUSeconds, env.OtherCPU = otherCPU(cpu0, sampleCPU(0))
		env.Busy = env.OtherCPU > BusyThreshold
		for i := range results {
			results[i].Environment = env
		}
	}
	var verifyErr error
	done := 0
	for _, name := range e.Transports {
		for _, size := range e.Sizes {
			r, err := e.measure(ctx, name, size, &done, total)
			if cerr := context.Cause(ctx); cerr != nil && err != nil {
				err = fmt.Errorf("%w (%w)", err, cerr)
			}
			if err != nil {
				finish()
				return results, fmt.Errorf("run %s %s with %d-byte messages: %w", name, e.Mode, size, err)
			}
			if r.Lost != 0 || r.Corrupt != 0 {
				verifyErr = errors.Join(verifyErr, fmt.Errorf("%s %d bytes: %w: %d lost, %d corrupt of %d", name, size, ErrVerify, r.Lost, r.Corrupt, r.Messages))
			}
			results = append(results, r)
		}
	}
	finish()
	return results, verifyErr
}

// label names the variant of transport name this experiment runs: the
// transport, then what differs from the defaults ("shm-ring/spin",
// "shm-ring/sysv/zero-copy", "tcp/in-process").
func (e Experiment) label(name string) string {
	o := e.Options.withDefaults()
	l := name
	if name == "shm-ring" {
		if o.Wait != Adaptive {
			l += "/" + string(o.Wait)
		}
		if o.Segment != PosixShm {
			l += "/" + string(o.Segment)
		}
		if o.ZeroCopy {
			l += "/zero-copy"
		}
	}
	if t, err := lookup(name); err == nil && e.InProcess && t.reach != inProcess {
		l += "/in-process"
	}
	if e.Remote != "" {
		l += "/remote"
	}
	if e.Pin {
		l += "/pinned"
	}
	return l
}

// Thresholds below which a trial is too short to trust (Result.Short).
const (
	// MinTrialDuration: a trial shorter than this is dominated by timer
	// resolution, scheduling and start-up.
	MinTrialDuration = 10 * time.Millisecond
	// MinTrialMessages: fewer messages than this in a trial say little
	// about the rate.
	MinTrialMessages = 20
)

func (e Experiment) parameters() map[string]string {
	o := e.Options.withDefaults()
	p := map[string]string{
		"mode":     string(e.Mode),
		"trials":   strconv.Itoa(e.Trials),
		"warmup":   e.Warmup.String(),
		"wait":     string(o.Wait),
		"segment":  string(o.Segment),
		"checksum": "sum64 of every byte, checked by the receiver",
		"copy":     "consumer copies every message into its own memory",
	}
	if o.ZeroCopy {
		p["zero-copy"] = "true"
		p["copy"] = "shm-ring consumer checks in place (zero-copy); others copy"
	}
	if e.Count > 0 {
		p["count"] = strconv.FormatInt(e.Count, 10)
	} else {
		p["duration"] = e.Duration.String()
	}
	if e.InProcess {
		p["peer"] = "goroutine"
	} else {
		p["peer"] = "process"
	}
	if e.Remote != "" {
		p["remote"] = e.Remote
	}
	return p
}

// measure runs warm-up and trials for one transport and size.
func (e Experiment) measure(ctx context.Context, name string, size int, done *int, total int) (Result, error) {
	zero := e.Options.ZeroCopy && name == "shm-ring"
	res := Result{Transport: name, Label: e.label(name), Mode: e.Mode, SizeBytes: size, ZeroCopy: zero}
	if e.Count <= 0 {
		res.RequestedDuration = e.Duration
	}
	o := e.Options
	o.MaxMessage = size
	if e.Remote == "" {
		res.Setup = setupTime(ctx, name, o)
	}
	driverCPU, peerCPU := -1, -1
	if e.Pin {
		driverCPU, peerCPU = 0, 1
	}
	p, err := e.startPeer(ctx, name, o, peerCPU)
	if err != nil {
		return res, err
	}
	defer p.close()
	src := newSource(size)
	progress := func(phase string) {
		if e.Progress != nil {
			e.Progress(Progress{Done: *done, Total: total, Transport: name, Size: size, Phase: phase})
		}
	}

	// The warm-up also estimates the rate, from which the runs ("chunks")
	// of a timed trial are sized.
	var rate float64
	if e.Warmup > 0 || e.Count <= 0 {
		n := max(1, min(1000, int64(4<<20/size)))
		if e.Count > 0 {
			n = max(1, e.Count/10)
		}
		var spent time.Duration
		for {
			tr, err := p.runTrial(ctx, e.Mode, n, size, src, driverCPU, zero)
			if err != nil {
				return res, fmt.Errorf("warm-up: %w", err)
			}
			spent += tr.elapsed
			rate = float64(tr.got) / max(tr.elapsed.Seconds(), 1e-9)
			if e.Count > 0 || tr.elapsed >= e.Warmup || spent >= 2*e.Warmup {
				break
			}
			grow := 2.0
			if tr.elapsed > 0 {
				grow = min(100, max(2, 1.3*float64(e.Warmup)/float64(tr.elapsed)))
			}
			n = int64(float64(n) * grow)
		}
		progress("warm-up")
	}

	all := newHistogram()
	var rates []float64
	var prod, cons usage
	cpu0 := sampleCPU(p.pid)
	for i := range e.Trials {
		tr, chunks, err := e.trial(ctx, p, size, src, driverCPU, zero, &rate)
		if err != nil {
			return res, fmt.Errorf("trial %d: %w", i+1, err)
		}
		r := float64(tr.got) / max(tr.elapsed.Seconds(), 1e-9)
		t := Trial{Messages: tr.got, Elapsed: tr.elapsed, MessagesPerSecond: r, BytesPerSecond: r * float64(size), Chunks: chunks}
		if tr.hist != nil {
			t.RTTp50, t.RTTp99 = tr.hist.quantile(0.5), tr.hist.quantile(0.99)
			all.merge(tr.hist)
		}
		res.Trials = append(res.Trials, t)
		res.Messages += tr.got
		res.Lost += tr.lost
		res.Corrupt += tr.corrupt
		prod.add(tr.producer, i == 0)
		cons.add(tr.consumer, i == 0)
		rates = append(rates, r)
		*done++
		progress(fmt.Sprintf("trial %d", i+1))
	}
	_, res.OtherCPU = otherCPU(cpu0, sampleCPU(p.pid))
	res.Busy = res.OtherCPU > BusyThreshold
	res.Producer, res.Consumer = prod.perMessage(res.Messages), cons.perMessage(res.Messages)
	res.Short, res.ShortReason = shortTrials(res.Trials, res.RequestedDuration)
	slices.Sort(rates)
	res.MessagesPerSecond = median(rates)
	res.MinMessagesPerSecond, res.MaxMessagesPerSecond = rates[0], rates[len(rates)-1]
	res.BytesPerSecond = res.MessagesPerSecond * float64(size)
	if e.Mode == PingPong {
		res.RTTp50, res.RTTp90, res.RTTp99, res.RTTMax = all.quantile(0.5), all.quantile(0.9), all.quantile(0.99), all.max
		for q := 0; q <= 100; q++ {
			res.RTTQuantiles = append(res.RTTQuantiles, all.quantile(float64(q)/100))
		}
	}
	return res, nil
}

// trial runs one timed trial: Count messages, or, for a Duration, runs of
// messages sized from the latest rate (*rate, updated) until the time is
// up. A run aims at no more than an eighth of the duration (at least 20
// ms), so a stall or a wrong estimate costs at most one short run and the
// trial still lasts what was asked; the last run aims at what is left.
func (e Experiment) trial(ctx context.Context, p *peer, size int, src source, cpu int, zero bool, rate *float64) (trialResult, int, error) {
	if e.Count > 0 {
		tr, err := p.runTrial(ctx, e.Mode, e.Count, size, src, cpu, zero)
		return tr, 1, err
	}
	var sum trialResult
	if e.Mode == PingPong {
		sum.hist = newHistogram()
	}
	chunks := 0
	for {
		left := e.Duration - sum.elapsed
		if chunks > 0 && left < e.Duration/50 {
			return sum, chunks, nil
		}
		aim := min(left, max(e.Duration/8, 20*time.Millisecond))
		n := max(1, int64(*rate*aim.Seconds()))
		tr, err := p.runTrial(ctx, e.Mode, n, size, src, cpu, zero)
		if err != nil {
			return sum, chunks, err
		}
		if tr.elapsed > 0 && tr.got > 0 {
			*rate = float64(tr.got) / tr.elapsed.Seconds()
		} else {
			*rate *= 2
		}
		sum.elapsed += tr.elapsed
		sum.got += tr.got
		sum.lost += tr.lost
		sum.corrupt += tr.corrupt
		if tr.hist != nil {
			sum.hist.merge(tr.hist)
		}
		sum.producer.add(tr.producer, chunks == 0)
		sum.consumer.add(tr.consumer, chunks == 0)
		chunks++
	}
}

// shortTrials says whether any trial was too short to trust, and why.
func shortTrials(ts []Trial, requested time.Duration) (bool, string) {
	for i, t := range ts {
		switch {
		case requested > 0 && t.Elapsed < requested*9/10:
			return true, fmt.Sprintf("trial %d lasted %v of the %v asked", i+1, t.Elapsed.Round(time.Microsecond), requested)
		case t.Elapsed < MinTrialDuration:
			return true, fmt.Sprintf("trial %d lasted only %v (under %v)", i+1, t.Elapsed.Round(time.Microsecond), MinTrialDuration)
		case t.Messages < MinTrialMessages:
			return true, fmt.Sprintf("trial %d had only %d messages (under %d)", i+1, t.Messages, MinTrialMessages)
		}
	}
	return false, ""
}

// setupTime is the cost of making a transport and connecting its two ends,
// measured apart from the trials: Open in this process, then Close.
func setupTime(ctx context.Context, name string, o Options) time.Duration {
	t0 := time.Now()
	a, b, err := Open(ctx, name, o)
	d := time.Since(t0)
	if err != nil {
		return 0
	}
	b.Close()
	a.Close()
	return d
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// startPeer starts the consumer: a goroutine, a child process or a remote worker.
func (e Experiment) startPeer(ctx context.Context, name string, o Options, cpu int) (*peer, error) {
	t, err := lookup(name)
	if err != nil {
		return nil, err
	}
	switch {
	case e.Remote != "":
		p, err := dialRemote(ctx, e.Remote, name, o)
		if err == nil && testHookPeerStarted != nil {
			testHookPeerStarted(0)
		}
		return p, err
	case e.InProcess || t.reach == inProcess:
		return startLocalPeer(ctx, name, o, cpu)
	}
	sp, err := spawn(ctx, name, o, childSpec{Role: harnessRole, CPU: cpu})
	if err != nil {
		return nil, err
	}
	if testHookPeerStarted != nil {
		testHookPeerStarted(sp.PID())
	}
	return &peer{conn: sp.Conn, ctl: sp.ctl, next: sp.next, dead: sp.exited, died: sp.died, close: sp.Close, pid: sp.PID()}, nil
}

// testHookPeerStarted, set by tests, learns the PID of each consumer process
// (0 for a remote worker).
var testHookPeerStarted func(pid int)

// startLocalPeer runs serveHarness in a goroutine, with a net.Pipe as the
// control channel.
func startLocalPeer(ctx context.Context, name string, o Options, cpu int) (*peer, error) {
	near, far, err := Open(ctx, name, o)
	if err != nil {
		return nil, err
	}
	a, b := net.Pipe()
	dead := make(chan struct{})
	var serveErr error
	pctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(dead)
		if cpu >= 0 {
			lockAndPin(cpu)
		}
		serveErr = serveHarness(pctx, newControl(b), far)
		far.Close()
		b.Close()
	}()
	ctl := newControl(a)
	reports := readReports(ctl)
	p := &peer{conn: near, ctl: ctl, dead: dead}
	p.died = func() error {
		if serveErr != nil {
			return fmt.Errorf("consumer goroutine: %w: %w", ErrPeerDied, serveErr)
		}
		return fmt.Errorf("consumer goroutine: %w", ErrPeerDied)
	}
	p.next = func(ctx context.Context, timeout time.Duration) (report, error) {
		return nextReport(ctx, "consumer goroutine", reports, dead, p.died, timeout)
	}
	var once sync.Once
	p.close = func() error {
		var err error
		once.Do(func() {
			a.Close()
			cancel()
			err = near.Close()
			<-dead
		})
		return err
	}
	return p, nil
}

func readReports(ctl *control) <-chan report {
	ch := make(chan report, 4)
	go func() {
		defer close(ch)
		for {
			var r report
			if err := ctl.recv(&r); err != nil {
				return
			}
			ch <- r
		}
	}()
	return ch
}

// nextReport waits for the next report, the peer's end, ctx or a timeout.
func nextReport(ctx context.Context, who string, reports <-chan report, dead <-chan struct{}, died func() error, timeout time.Duration) (report, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r, ok := <-reports:
		if !ok {
			return report{}, died()
		}
		if r.Op == "error" {
			return r, fmt.Errorf("%s: %s", who, r.Error)
		}
		return r, nil
	case <-dead:
		// The exit may race with a last report still being read from the
		// control socket (a worker that fails at once): prefer the report.
		select {
		case r, ok := <-reports:
			if ok && r.Op != "error" {
				return r, nil
			} else if ok {
				return r, fmt.Errorf("%s: %s", who, r.Error)
			}
		case <-time.After(time.Second):
		}
		return report{}, died()
	case <-ctx.Done():
		return report{}, ctx.Err()
	case <-t.C:
		return report{}, fmt.Errorf("%s did not answer within %v", who, timeout)
	}
}
