package ipc

import (
	"context"
	"fmt"
	"math/bits"
	"os"
	"slices"
	"sync"
)

// Conn is one end of a two-way, message-oriented connection. Every
// transport, shared memory or message passing, in one process or across
// processes or hosts, is used through it.
//
// Send delivers msg whole; Recv receives one whole message into buf and
// returns its length (a message larger than buf fails with
// ErrMessageTooLarge). Both block until they can proceed, ctx is done, or
// the peer is gone (ErrPeerDied, or io.EOF after the peer closed in
// order). After an error caused by ctx, the connection may be unusable:
// close it. A Conn is not safe for concurrent Sends (or concurrent Recvs)
// from several goroutines; one sender and one receiver goroutine may run
// at the same time.
type Conn interface {
	Send(ctx context.Context, msg []byte) error
	Recv(ctx context.Context, buf []byte) (int, error)
	// Close releases this end. The end that created the transport (the
	// first Conn of Open, the parent's Conn of Spawn) also removes every
	// name it made: segments, FIFOs, socket files, queues.
	Close() error
}

// Options configure a transport. The zero value works for every transport
// with messages up to 64 KiB.
type Options struct {
	// MaxMessage is the largest message that will be sent, in bytes; rings,
	// queues and buffers are sized for it. Default 64 KiB.
	MaxMessage int
	// Wait is how shm-ring ends wait (default Adaptive).
	Wait Wait
	// Segment is the memory behind shm-ring (default PosixShm).
	Segment SegmentKind
	// RingCapacity is the data size of each shm-ring direction, rounded up
	// to a power of two. Default: room for 8 of the largest records, but
	// no more than 4 MiB, and never less than 256 KiB or 2 records.
	RingCapacity int
	// Addr is where tcp and zmq-tcp listen, host:port (default 127.0.0.1:0).
	Addr string
	// QueueDepth is how many messages a POSIX queue holds (default: the OS
	// limit /proc/sys/fs/mqueue/msg_max).
	QueueDepth int
	// Dir holds FIFOs, socket files and mapped files (default Dir()).
	Dir string
	// ZeroCopy makes the harness's shm-ring consumer check each message
	// in place in the ring instead of copying it into its own memory
	// first, as every other transport's consumer must (Run, shm-ring only;
	// results say so in Label, ZeroCopy and their parameters).
	ZeroCopy bool `json:",omitempty"`
}

func (o Options) withDefaults() Options {
	if o.MaxMessage <= 0 {
		o.MaxMessage = 64 << 10
	}
	if o.Wait == "" {
		o.Wait = Adaptive
	}
	if o.Segment == "" {
		o.Segment = PosixShm
	}
	if o.RingCapacity <= 0 {
		o.RingCapacity = defaultRingCapacity(o.MaxMessage)
	}
	o.RingCapacity = 1 << bits.Len(uint(o.RingCapacity-1))
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Dir == "" {
		o.Dir = Dir()
	}
	return o
}

// reach says where the far end of a transport may be.
type reach int

const (
	inProcess reach = iota // goroutines of one process
	sameHost               // processes on one machine
	network                // processes on any hosts
)

// transport is an entry of the registry.
type transport struct {
	name  string
	about string
	reach reach
	// check reports whether messages of size bytes can be sent with o, with
	// an error that names the limit when they cannot.
	check func(o Options, size int) error
	// listen makes the transport's resources; the caller gets an endpoint
	// to accept its own end on and to describe the far end.
	listen func(o Options) (*endpoint, error)
	// attach makes the far end from its description, in this or another
	// process. files are the endpoint's files (possibly inherited).
	attach func(ctx context.Context, s spec, files []*os.File) (Conn, error)
}

// spec describes the far end of a transport to another process (as JSON).
type spec struct {
	Transport string      `json:"transport"`
	Options   Options     `json:"options"`
	Kind      SegmentKind `json:"kind,omitempty"`
	Names     []string    `json:"names,omitempty"`
	Addr      string      `json:"addr,omitempty"`
	ID        int         `json:"id,omitempty"`
	Size      int         `json:"size,omitempty"`
}

// endpoint is the near side of a transport that is being set up.
type endpoint struct {
	spec  spec
	files []*os.File // handed to the far end; closed here once it has them
	// accept returns this process's end once the far end has attached.
	accept func(ctx context.Context) (Conn, error)
	// abort removes the resources when accept will not be called or failed.
	abort func() error
}

var registry = struct {
	sync.Mutex
	byName map[string]*transport
	order  []string
}{byName: map[string]*transport{}}

func register(t *transport) {
	registry.Lock()
	defer registry.Unlock()
	registry.byName[t.name] = t
	registry.order = append(registry.order, t.name)
}

// Transports lists the names Open, Spawn and Run accept, shared memory
// first, then message passing, then the in-process baselines.
func Transports() []string {
	registry.Lock()
	defer registry.Unlock()
	order := map[string]int{}
	for i, n := range canonicalOrder {
		order[n] = i
	}
	out := slices.Clone(registry.order)
	slices.SortStableFunc(out, func(a, b string) int { return order[a] - order[b] })
	return out
}

var canonicalOrder = []string{"shm-ring", "pipe", "fifo", "unix-stream", "unix-dgram", "unix-seqpacket", "tcp", "posix-mq", "sysv-mq", "zmq-ipc", "zmq-tcp", "chan", "shm-mutex"}

// About returns a one-line description of a transport.
func About(name string) string {
	if t, err := lookup(name); err == nil {
		return t.about
	}
	return ""
}

// SpansHosts reports whether the transport's ends can be on different
// machines (tcp, zmq-tcp).
func SpansHosts(name string) bool {
	t, err := lookup(name)
	return err == nil && t.reach == network
}

func lookup(name string) (*transport, error) {
	registry.Lock()
	defer registry.Unlock()
	if t, ok := registry.byName[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("transport %q: %w (have %v)", name, ErrUnknownTransport, canonicalOrder)
}

// Check reports whether the named transport can carry messages of size
// bytes with o, and if not, which limit stands in the way: the OS's own
// (posix-mq: /proc/sys/fs/mqueue/msgsize_max; sysv-mq: kernel.msgmax and
// msgmnb; unix-dgram and unix-seqpacket: what the kernel accepts on a
// socket with the buffers ipc would set), the ring's (RingCapacity), or
// o.MaxMessage if it was set lower. Pipes, FIFOs, stream sockets, TCP,
// ZeroMQ and the in-process baselines have no per-message limit of their
// own (the harness's is MaxSize). An unset MaxMessage is taken as size.
func Check(name string, o Options, size int) error {
	t, err := lookup(name)
	if err != nil {
		return err
	}
	if size < 1 {
		return fmt.Errorf("%s: message size %d: %w: sizes must be at least 1 byte", name, size, ErrBadParameter)
	}
	asked := o.MaxMessage
	if o.MaxMessage <= 0 || o.MaxMessage < size {
		o.MaxMessage = size // the OS limit first
	}
	o = o.withDefaults()
	if t.check != nil {
		if err := t.check(o, size); err != nil {
			return err
		}
	}
	if asked > 0 && size > asked {
		return fmt.Errorf("%s: %d-byte message: %w: Options.MaxMessage is %d (the transport allows more; raise MaxMessage)", name, size, ErrMessageTooLarge, asked)
	}
	return nil
}

// Open sets up the named transport with both ends in this process and
// returns them. The first end owns the resources: closing it removes them.
// Use Spawn to put the second end in another process.
func Open(ctx context.Context, name string, o Options) (near, far Conn, err error) {
	t, err := lookup(name)
	if err != nil {
		return nil, nil, err
	}
	o = o.withDefaults()
	ep, err := t.listen(o)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	ep.spec.Transport, ep.spec.Options = name, o
	type res struct {
		c   Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := t.attach(ctx, ep.spec, ep.files)
		ch <- res{c, err}
	}()
	near, err = ep.accept(ctx)
	r := <-ch
	if err == nil && r.err != nil {
		near.Close()
		err = r.err
	}
	if err != nil {
		if r.c != nil {
			r.c.Close()
		}
		ep.abort()
		for _, f := range ep.files {
			f.Close()
		}
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	return near, r.c, nil
}

// defaultRingCapacity: enough for 8 records in flight (so that producer and
// consumer rarely wait for each other), capped at 4 MiB to stay
// cache-friendly, but always at least 2 records and 256 KiB. bench/probe.c
// uses the same rule.
func defaultRingCapacity(maxMessage int) int {
	pow2 := func(n int) int { return 1 << bits.Len(uint(n-1)) }
	rec := int(recordSize(maxMessage))
	return max(256<<10, pow2(2*rec), min(pow2(8*rec), 4<<20))
}
