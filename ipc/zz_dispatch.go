package ipc

// Init functions of a package run in the order its files are presented to
// the compiler (by name), so this file's init runs after every transport
// has registered itself: only then can a worker process attach.
func init() { workerDispatch() }
