// Package ipc measures how processes talk: through shared memory, or by
// passing messages. It is what ipclab notebooks use to test, with numbers,
// what textbooks say about the two.
//
// Every mechanism is a Conn — Send a message, Recv a message — and is
// chosen by name, so an experiment swaps them freely:
//
//	shm-ring                      an SPSC ring in a shared segment
//	pipe fifo                     anonymous and named pipes
//	unix-stream unix-dgram        Unix-domain sockets
//	unix-seqpacket tcp            (tcp also between hosts)
//	posix-mq sysv-mq              kernel message queues
//	zmq-ipc zmq-tcp               ZeroMQ, via go-zeromq/zmq4
//	chan shm-mutex                goroutines of one process (baselines)
//
// Open gives both ends of a transport in this process; Spawn puts the far
// end in a worker process. Go cannot fork, so a worker is this same
// executable run again (/proc/self/exe) with IPCLAB_IPC_WORKER set; the
// package's init recognises it and runs the worker instead of main. So a
// test binary, the ipclab command and the kernel's session process can all
// start workers without help from their main.
//
// Run performs an Experiment: for every transport and message size (8 B to
// 16 MiB) it starts a consumer process, warms up, runs timed trials in
// Stream (throughput) or PingPong (round-trip latency) mode, and returns
// Results with the median and spread, latency percentiles, and the machine
// they were measured on. Every message carries a sequence number and a
// checksum over every byte that the receiver verifies on its own copy (like
// for like: every consumer copies each message into its own memory, unless
// Options.ZeroCopy lets the ring's check it in place); Results count Lost
// and Corrupt messages, and Run fails with ErrVerify if there were any.
// Trials last the Duration asked (Result.Short says when they could not);
// each Result carries what a message cost each side (system calls made by
// ipc, CPU time, context switches), the set-up cost, and whether the
// machine was busy while it was measured. A consumer that
// dies is reported as ErrPeerDied, never waited for. Serve and
// Experiment.Remote run the consumer on another host.
//
// The shared-memory pieces are usable on their own: Segment (POSIX, SysV,
// mapped file, memfd handed to a child), View and ViewSlice (typed views of
// a segment), Ring (zero-copy Claim/Commit and Next/Release, in batches,
// with Spin, Yield, Futex or Adaptive waiting), Mutex and Semaphore on
// futexes, Seqlock for snapshots, and CountTogether, which shows a shared
// counter losing updates and the ways to stop it.
//
// Every segment, FIFO, socket file and queue is named "ipclab-PID-RAND-…",
// written to a ledger, and removed by Close, by Run when SIGINT or SIGTERM
// arrives, or by Sweep in the next process after a crash. Files live in a
// per-user directory only its owner can enter (Dir), and Sweep removes only
// what the sweeping user owns. A segment larger than the machine can hold is
// refused with ErrNoRoom naming the limit. The package never
// panics across its boundary, never leaves a child process behind its
// parent, and never measures without verifying.
package ipc
