package ipc

import "errors"

// Sentinel errors. Errors returned by this package wrap them (test with
// errors.Is) and add what was being done when the condition was met.
var (
	// ErrUnknownTransport: the name is not in Transports().
	ErrUnknownTransport = errors.New("unknown transport")
	// ErrMessageTooLarge: a message is larger than the transport, the ring,
	// the receive buffer or an operating-system limit allows. The wrapping
	// error names the limit.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrBadParameter: an experiment or option value is out of range.
	ErrBadParameter = errors.New("bad parameter")
	// ErrPeerDied: the process (or goroutine) at the other end exited or was
	// killed while this end was using the connection.
	ErrPeerDied = errors.New("peer died")
	// ErrClosed: the connection or segment was closed by this process.
	ErrClosed = errors.New("closed")
	// ErrUnknownWorker: no worker was registered under that name.
	ErrUnknownWorker = errors.New("unknown worker")
	// ErrNotLocal: the transport joins goroutines of one process and cannot
	// reach another process or host.
	ErrNotLocal = errors.New("transport works only inside one process")
	// ErrVerify: the harness received lost or corrupt messages.
	ErrVerify = errors.New("verification failed")
)
