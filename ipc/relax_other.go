//go:build !amd64

package ipc

import (
	"sync/atomic"
	"unsafe"
)

func storeRelease(addr *uint64, v uint64) { atomic.StoreUint64(addr, v) }

func cpuRelax() {}

func copyBig(dst, src []byte) int { return copy(dst, src) }

func prefetchWrite(p unsafe.Pointer, n uintptr) {}
