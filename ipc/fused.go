package ipc

import (
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// The ring stream's per-message work for small messages, with the copy and
// the checksum fused: each word of the payload is loaded once, stored at
// its destination and mixed into sum64's lanes. These are sum64 and copy
// written out in one loop with no call in it. That matters more than the
// arithmetic: Go's calling convention saves every live register around a
// call, and on the producer those saves are stores that queue behind the
// stores into ring lines the consumer still holds (a C compiler inlines
// sum64 and memcpy, so the C probe has no such calls). The result is the
// same message, checked by the same sum64 (TestFusedMatchesSum64). On amd64
// the loops run in assembly (fused_amd64.s), which goes further: the loop
// state stays in registers instead of spilling to the stack every message,
// and the payload moves in 16-byte stores; the Go loops below serve other
// architectures and tests.

// smallMessage is the largest message the fused loops handle; bigger ones
// are dominated by the copy, for which copyBig is the fastest.
const smallMessage = 16 << 10

// produceFused writes messages first … last-1 into out while they fit without
// waiting and returns the sequence number of the first one it did not write.
// size is the message size (HeaderSize < size ≤ smallMessage: a pointer
// past the header of a header-only message would point past its buffer,
// which the race detector's pointer checks refuse); src holds size+64 bytes.
func produceFused(out *Ring, src source, first, last int64, size int) int64 {
	if fusedAsm && testHookProduced == nil {
		_ = src[63+size-HeaderSize]
		return produceFusedAsm(out, unsafe.Pointer(unsafe.SliceData(src)), first, last, size)
	}
	return produceFusedGo(out, src, first, last, size)
}

// What consumeFusedAsm stopped at.
const (
	fusedFull  = iota // it took every message it was asked for
	fusedEmpty        // the ring has no more now
	fusedOther        // the next record is another size or the wrap marker (not taken)
	fusedBad          // it took a message that failed the check: buf holds it
)

// consumeFused reads messages from in while they are there without waiting,
// until t.next reaches last: each is copied into buf and checked as it is
// copied, the way ringConsume would copy and then check it. It
// returns when the ring has nothing ready or the next record needs the slow
// path (a wrap); messages of the wrong size go through tally.see.
func consumeFused(in *Ring, buf []byte, t *tally, last int64, size int) {
	if !fusedAsm {
		consumeFusedGo(in, buf, t, last, size)
		return
	}
	_ = buf[size-1]
	for int64(t.next) < last {
		k, stop := consumeFusedAsm(in, unsafe.Pointer(unsafe.SliceData(buf)), t.next, last-int64(t.next), size)
		t.got += k
		t.next += uint32(k)
		switch stop {
		case fusedEmpty:
			return
		case fusedBad:
			t.see(buf[:size], size) // judged on the copy: seq and sum from its header
		case fusedOther:
			head := in.chead
			consumeFusedGo(in, buf, t, int64(t.next)+1, size)
			if in.chead == head {
				return // a wrap: the slow path's
			}
		}
	}
}

func produceFusedGo(out *Ring, src source, first, last int64, size int) int64 {
	rec := recordSize(size)
	n := size - HeaderSize
	base := unsafe.Pointer(unsafe.SliceData(src))
	_ = src[63+n] // the payload of every message is inside src
	i := first
	for ; i < last; i++ {
		m := out.claimFast(size, rec)
		if m == nil {
			break
		}
		seq := uint32(i)
		s := unsafe.Add(base, seq&63)
		d := unsafe.Add(m, HeaderSize)
		// sum64's blocks, written out word by word (a function would not be
		// inlined; an array copy would go through the stack)
		seed := uint64(seq)<<32 | uint64(uint32(size))
		a, b, c, e, j := seed+prime1, seed^prime2, seed+prime3, ^seed, 0
		for ; j+32 <= n; j += 32 {
			w0, w1 := *(*uint64)(unsafe.Add(s, j)), *(*uint64)(unsafe.Add(s, j+8))
			w2, w3 := *(*uint64)(unsafe.Add(s, j+16)), *(*uint64)(unsafe.Add(s, j+24))
			*(*uint64)(unsafe.Add(d, j)), *(*uint64)(unsafe.Add(d, j+8)) = w0, w1
			*(*uint64)(unsafe.Add(d, j+16)), *(*uint64)(unsafe.Add(d, j+24)) = w2, w3
			a, b, c, e = (a^w0)*prime2, (b^w1)*prime2, (c^w2)*prime2, (e^w3)*prime2
		}
		h, j := copySumWords(bits.RotateLeft64(a, 1)+bits.RotateLeft64(b, 7)+bits.RotateLeft64(c, 12)+bits.RotateLeft64(e, 18)+uint64(n), d, s, j, n)
		h = avalanche(copySumTail(h, d, s, j, n))
		*(*uint64)(m) = uint64(seq) | uint64(uint32(h))<<32
		if testHookProduced != nil {
			testHookProduced(seq, unsafe.Slice((*byte)(m), size))
		}
	}
	return i
}

// copySumWords is sum64's loop over the whole words after the 32-byte
// blocks (copied as they are read); copySumTail the last bytes (avalanche
// then finishes). The blocks are written out in the loops above and below.
func copySumWords(h uint64, d, s unsafe.Pointer, j, n int) (uint64, int) {
	for ; j+8 <= n; j += 8 {
		w := *(*uint64)(unsafe.Add(s, j))
		*(*uint64)(unsafe.Add(d, j)) = w
		h = mixWord(h, w)
	}
	return h, j
}

func copySumTail(h uint64, d, s unsafe.Pointer, j, n int) uint64 {
	if j < n {
		var w uint64
		for k := n - 1; k >= j; k-- {
			v := *(*byte)(unsafe.Add(s, k))
			*(*byte)(unsafe.Add(d, k)) = v
			w = w<<8 | uint64(v)
		}
		h = mixWord(h, w)
	}
	return h
}

func consumeFusedGo(in *Ring, buf []byte, t *tally, last int64, size int) {
	n := size - HeaderSize
	d := unsafe.Pointer(unsafe.SliceData(buf))
	_ = buf[size-1]
	for int64(t.next) < last {
		p, k := in.nextFast()
		if p == nil {
			in.cachedTail = atomic.LoadUint64(in.tail)
			if p, k = in.nextFast(); p == nil {
				return // empty, or a wrap: the slow path's
			}
		}
		if k != size {
			m := unsafe.Slice((*byte)(p), k)
			if k <= len(buf) {
				m = buf[:copy(buf, m)]
			}
			t.see(m, size)
			continue
		}
		hdr := *(*uint64)(p)
		*(*uint64)(d) = hdr
		s, dd := unsafe.Add(p, HeaderSize), unsafe.Add(d, HeaderSize)
		seed := uint64(t.next)<<32 | uint64(uint32(size)) // as in produceFused
		a, b, c, e, j := seed+prime1, seed^prime2, seed+prime3, ^seed, 0
		for ; j+32 <= n; j += 32 {
			w0, w1 := *(*uint64)(unsafe.Add(s, j)), *(*uint64)(unsafe.Add(s, j+8))
			w2, w3 := *(*uint64)(unsafe.Add(s, j+16)), *(*uint64)(unsafe.Add(s, j+24))
			*(*uint64)(unsafe.Add(dd, j)), *(*uint64)(unsafe.Add(dd, j+8)) = w0, w1
			*(*uint64)(unsafe.Add(dd, j+16)), *(*uint64)(unsafe.Add(dd, j+24)) = w2, w3
			a, b, c, e = (a^w0)*prime2, (b^w1)*prime2, (c^w2)*prime2, (e^w3)*prime2
		}
		h, j := copySumWords(bits.RotateLeft64(a, 1)+bits.RotateLeft64(b, 7)+bits.RotateLeft64(c, 12)+bits.RotateLeft64(e, 18)+uint64(n), dd, s, j, n)
		h = avalanche(copySumTail(h, dd, s, j, n))
		if uint32(hdr) == t.next && uint32(hdr>>32) == uint32(h) {
			t.got++
			t.next++
		} else {
			t.see(buf[:size], size) // judged on the copy: seq and sum from its header
		}
	}
}
