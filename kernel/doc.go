// Package kernel speaks the Jupyter messaging protocol (version 5.4) for
// ipclab. It binds the five ZeroMQ sockets a connection file names (shell,
// control, stdin, iopub, heartbeat), checks the HMAC signature of every
// message it receives, signs every message it sends, and turns requests into
// calls on an Engine whose output it publishes on IOPub.
//
// Serve runs one kernel session until a shutdown_request arrives or its
// context ends; ReadConnectionFile reads the file Jupyter hands a kernel at
// start. InstallSpec writes the kernel spec (kernel.json and logos) that tells
// Jupyter how to start ipclab.
//
// The package never compiles or runs Go code: package engine does, behind the
// Engine interface. Control requests (interrupt, shutdown, kernel_info) are
// served while a cell runs; shell requests are served one at a time in the
// order they arrive. Stream output is batched (about 40 ms or 64 KiB per
// message) and always flushed before any other IOPub message, so a front end
// sees output in the order the cell produced it.
//
// Nothing that reaches a port before authentication can crash or stall it:
// every socket accepts through a guard (zmtp.go) that checks the ZeroMQ
// handshake in its own goroutine under a deadline and bounds frames, and a
// signed message replayed with a signature already seen is dropped. Log lines
// carry at most 256 bytes of any field.
package kernel
