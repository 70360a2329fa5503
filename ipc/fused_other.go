//go:build !amd64

package ipc

import "unsafe"

// fusedAsm: no assembly loops here, the Go ones serve.
var fusedAsm = false

func produceFusedAsm(out *Ring, src unsafe.Pointer, first, last int64, size int) int64 {
	panic("ipc: no assembly loops on this architecture")
}

func consumeFusedAsm(in *Ring, buf unsafe.Pointer, next uint32, count int64, size int) (done int64, stop int) {
	panic("ipc: no assembly loops on this architecture")
}
