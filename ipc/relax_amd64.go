package ipc

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// storeRelease stores v at addr with release ordering (see relax_amd64.s).
//
//go:noescape
func storeRelease(addr *uint64, v uint64)

// cpuRelax executes PAUSE, telling the core it is in a spin-wait loop.
func cpuRelax()

//go:noescape
func repMovsb(dst, src *byte, n uintptr)

//go:noescape
func prefetchWrite(p unsafe.Pointer, n uintptr)

var hasERMS = cpu.X86.HasERMS

// copyBig copies like copy, with REP MOVSB for large blocks where the CPU
// has fast string moves.
func copyBig(dst, src []byte) int {
	n := min(len(dst), len(src))
	if n >= 16<<10 && hasERMS {
		repMovsb(&dst[0], &src[0], uintptr(n))
		return n
	}
	return copy(dst, src)
}
