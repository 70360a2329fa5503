package ipc

import "unsafe"

// fusedAsm says whether the ring stream's small messages take the assembly
// loops (fused_amd64.s); tests turn it off to check the Go ones too.
var fusedAsm = true

//go:noescape
func produceFusedAsm(out *Ring, src unsafe.Pointer, first, last int64, size int) int64

//go:noescape
func consumeFusedAsm(in *Ring, buf unsafe.Pointer, next uint32, count int64, size int) (done int64, stop int)
