#include "textflag.h"
#include "go_asm.h"

// The fused loops of fused.go in assembly, for the ring stream's small
// messages. The Go loops keep more values alive than amd64 has registers,
// so every message spills its counters to the stack; on the producer those
// spills are stores that queue behind the stores into ring lines the
// consumer still holds, which is the cost fused.go exists to remove. Here
// the ring's tail or head and the loop state stay in registers, and the
// payload moves 16 bytes per store. Same arithmetic as sum64
// (TestFusedMatchesSum64 runs both versions against it).

#define PRIME1 $0x9E3779B97F4A7C15
#define PRIME2 $0xC2B2AE3D27D4EB4F
#define PRIME3 $0x165667B19E3779F9

// Locals: 0(SP) prime2 (IMUL takes a memory operand, not a 64-bit
// immediate), 8(SP) n = payload bytes, 16(SP) the record's size, 24(SP) the
// message header (consumer).

// SETUP fills the locals from size (in DX); clobbers DX.
#define SETUP \
	MOVQ PRIME2, R8; \
	MOVQ R8, 0(SP); \
	LEAQ -const_HeaderSize(DX), R8; \
	MOVQ R8, 8(SP); \
	ADDQ $7, DX; \
	ANDQ $~7, DX; \
	ADDQ $const_recordHead, DX; \
	MOVQ DX, 16(SP)

// SUM_COPY copies the n payload bytes at SI to DI and leaves sum64 of them
// in R8, seeded as payloadSum does with the sequence number in DX (low 32
// bits) and the message size (size+32(FP) in both functions). The 32-byte
// blocks are copied as they are summed; the lanes are folded into R8, the
// rest (under 32 bytes) is copied in as few stores as cover it, which may
// overlap the last block, and summed from SI. Uses R8–R10, R12, R13, DX,
// X0, X1.
#define SUM_COPY \
	SHLQ $32, DX; \
	MOVQ size+32(FP), R8; \
	MOVL R8, R8; \
	ORQ  R8, DX; \
	MOVQ PRIME1, R8; \
	ADDQ DX, R8; \
	MOVQ PRIME2, R9; \
	XORQ DX, R9; \
	MOVQ PRIME3, R10; \
	ADDQ DX, R10; \
	MOVQ DX, R12; \
	NOTQ R12; \
	XORQ R13, R13; \
block: \
	LEAQ 32(R13), DX; \
	CMPQ DX, 8(SP); \
	JGT  rest; \
	MOVOU (SI)(R13*1), X0; \
	MOVOU 16(SI)(R13*1), X1; \
	MOVOU X0, (DI)(R13*1); \
	MOVOU X1, 16(DI)(R13*1); \
	XORQ (SI)(R13*1), R8; \
	IMULQ 0(SP), R8; \
	XORQ 8(SI)(R13*1), R9; \
	IMULQ 0(SP), R9; \
	XORQ 16(SI)(R13*1), R10; \
	IMULQ 0(SP), R10; \
	XORQ 24(SI)(R13*1), R12; \
	IMULQ 0(SP), R12; \
	ADDQ $32, R13; \
	JMP  block; \
rest: \
	ROLQ $1, R8; \
	ROLQ $7, R9; \
	ROLQ $12, R10; \
	ROLQ $18, R12; \
	ADDQ R9, R8; \
	ADDQ R10, R8; \
	ADDQ R12, R8; \
	ADDQ 8(SP), R8; \
	MOVQ 8(SP), DX; \
	CMPQ R13, DX; \
	JEQ  words; \
	CMPQ DX, $16; \
	JLT  short; \
	SUBQ R13, DX; \
	CMPQ DX, $16; \
	JLE  last16; \
	MOVOU (SI)(R13*1), X0; \
	MOVOU X0, (DI)(R13*1); \
last16: \
	MOVQ 8(SP), DX; \
	MOVOU -16(SI)(DX*1), X1; \
	MOVOU X1, -16(DI)(DX*1); \
	JMP  words; \
short: \
	CMPQ DX, $8; \
	JLT  bytes; \
	MOVQ (SI), X0; \
	MOVQ X0, (DI); \
	MOVQ -8(SI)(DX*1), X1; \
	MOVQ X1, -8(DI)(DX*1); \
	JMP  words; \
bytes: \
	DECQ DX; \
	MOVB (SI)(DX*1), R9; \
	MOVB R9, (DI)(DX*1); \
	TESTQ DX, DX; \
	JNE  bytes; \
words: \
word: \
	LEAQ 8(R13), DX; \
	CMPQ DX, 8(SP); \
	JGT  tail; \
	XORQ (SI)(R13*1), R8; \
	IMULQ 0(SP), R8; \
	MOVQ R8, DX; \
	SHRQ $31, DX; \
	XORQ DX, R8; \
	ADDQ $8, R13; \
	JMP  word; \
tail: \
	CMPQ R13, 8(SP); \
	JGE  avalanche; \
	XORQ R9, R9; \
	MOVQ 8(SP), R10; \
	DECQ R10; \
tailbyte: \
	MOVBQZX (SI)(R10*1), DX; \
	SHLQ $8, R9; \
	ORQ  DX, R9; \
	DECQ R10; \
	CMPQ R10, R13; \
	JGE  tailbyte; \
	XORQ R9, R8; \
	IMULQ 0(SP), R8; \
	MOVQ R8, DX; \
	SHRQ $31, DX; \
	XORQ DX, R8; \
avalanche: \
	MOVQ R8, DX; \
	SHRQ $33, DX; \
	XORQ DX, R8; \
	MOVQ PRIME3, DX; \
	IMULQ DX, R8; \
	MOVQ R8, DX; \
	SHRQ $29, DX; \
	XORQ DX, R8

// func produceFusedAsm(out *Ring, src unsafe.Pointer, first, last int64, size int) int64
TEXT ·produceFusedAsm(SB), NOSPLIT, $32-48
	MOVQ out+0(FP), AX
	MOVQ src+8(FP), BX
	MOVQ first+16(FP), CX
	MOVQ size+32(FP), DX
	SETUP
	MOVQ Ring_ptail(AX), R11

msg:
	CMPQ CX, last+24(FP)
	JGE  done
	// claimFast: the record fits before the ring's end and in the free space
	MOVQ R11, DI
	ANDQ Ring_mask(AX), DI
	MOVQ DI, DX
	ADDQ 16(SP), DX
	CMPQ DX, Ring_cap(AX)
	JHI  done
	MOVQ R11, DX
	ADDQ 16(SP), DX
	SUBQ Ring_cachedHead(AX), DX
	CMPQ DX, Ring_cap(AX)
	JHI  done
	ADDQ Ring_data(AX), DI
	ADDQ 16(SP), R11
	ADDQ $(const_recordHead+const_HeaderSize), DI // the payload
	// the payload comes from src at seq&63
	MOVQ CX, SI
	ANDQ $63, SI
	ADDQ BX, SI
	MOVL CX, DX
	SUM_COPY
	// the record's length word and the message header (seq | sum<<32),
	// in one store
	SHLQ $32, R8
	MOVL CX, DX
	ORQ  DX, R8
	MOVQ R8, X1
	MOVQ size+32(FP), X0
	PUNPCKLQDQ X1, X0
	MOVOU X0, -(const_recordHead+const_HeaderSize)(DI)
	INCQ CX
	JMP  msg

done:
	MOVQ R11, Ring_ptail(AX)
	MOVQ CX, ret+40(FP)
	RET

// func consumeFusedAsm(in *Ring, buf unsafe.Pointer, next uint32, count int64, size int) (done int64, stop int)
TEXT ·consumeFusedAsm(SB), NOSPLIT, $32-56
	MOVQ in+0(FP), AX
	MOVQ buf+8(FP), BX
	XORQ CX, CX
	MOVQ size+32(FP), DX
	SETUP
	MOVQ Ring_chead(AX), R11

msg:
	CMPQ CX, count+24(FP)
	JGE  full
	CMPQ R11, Ring_cachedTail(AX)
	JNE  ready
	MOVQ Ring_tail(AX), DX
	MOVQ (DX), DX               // the producer's published tail (a plain load acquires on amd64)
	MOVQ DX, Ring_cachedTail(AX)
	CMPQ R11, DX
	JEQ  empty

ready:
	MOVQ R11, SI
	ANDQ Ring_mask(AX), SI
	ADDQ Ring_data(AX), SI
	MOVQ (SI), DX
	CMPQ DX, size+32(FP)
	JNE  other                  // another size, or the wrap marker
	ADDQ 16(SP), R11
	MOVQ const_recordHead(SI), DX
	MOVQ DX, (BX)               // the header, copied
	MOVQ DX, 24(SP)
	ADDQ $(const_recordHead+const_HeaderSize), SI
	LEAQ const_HeaderSize(BX), DI
	MOVL next+16(FP), DX        // summed with the expected sequence number
	ADDL CX, DX
	SUM_COPY
	MOVL next+16(FP), DX
	ADDL CX, DX
	MOVQ 24(SP), R9
	CMPL R9, DX
	JNE  bad
	SHRQ $32, R9
	CMPL R9, R8
	JNE  bad
	INCQ CX
	JMP  msg

full:
	MOVQ $const_fusedFull, DX
	JMP  ret
empty:
	MOVQ $const_fusedEmpty, DX
	JMP  ret
other:
	MOVQ $const_fusedOther, DX
	JMP  ret
bad:
	MOVQ $const_fusedBad, DX
ret:
	MOVQ R11, Ring_chead(AX)
	MOVQ CX, done+40(FP)
	MOVQ DX, stop+48(FP)
	RET
