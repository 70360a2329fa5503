#include "textflag.h"

// func storeRelease(addr *uint64, v uint64)
// A plain MOV: on amd64 (TSO) every store already has release semantics, so
// the publishing store of a ring index needs no fence (sync/atomic's Store
// is an XCHG, a full barrier that waits for the store buffer to drain).
TEXT ·storeRelease(SB), NOSPLIT, $0-16
	MOVQ addr+0(FP), AX
	MOVQ v+8(FP), BX
	MOVQ BX, (AX)
	RET

// func cpuRelax()
TEXT ·cpuRelax(SB), NOSPLIT, $0-0
	PAUSE
	RET

// func repMovsb(dst, src *byte, n uintptr)
// REP MOVSB: with ERMS/FSRM the fastest way to copy large blocks on recent
// x86 cores (what glibc's memcpy uses for them; Go's memmove uses AVX loops).
TEXT ·repMovsb(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	REP; MOVSB
	RET
