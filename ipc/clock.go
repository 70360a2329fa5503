package ipc

import _ "unsafe" // for go:linkname

// nanotime is the runtime's monotonic clock: one vDSO call, where
// time.Now reads two clocks. The harness stamps every round trip with it.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
