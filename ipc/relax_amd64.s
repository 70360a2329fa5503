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

// func prefetchWrite(p unsafe.Pointer, n uintptr)
// PREFETCHW each 64-byte line of [p, p+n): asks for the lines in exclusive
// state before the stores come, so that a producer's stores into lines the
// consumer last held do not wait one by one for ownership.
TEXT ·prefetchWrite(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	ADDQ AX, CX
loop:
	CMPQ AX, CX
	JAE done
	BYTE $0x0F; BYTE $0x0D; BYTE $0x08 // PREFETCHW (AX)
	ADDQ $64, AX
	JMP loop
done:
	RET
