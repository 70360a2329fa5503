package ipc

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// Every message the harness sends carries an 8-byte header:
//
//	bytes 0..3  sequence number (low 32 bits, little endian)
//	bytes 4..7  checksum (low 32 bits of sum64 over the sequence number,
//	            the message size and every byte of the payload)
//
// The payload (bytes 8..size) is copied from a pseudo-random source block at
// an offset that changes with the sequence number, so consecutive messages
// differ. Messages of 8 bytes carry the header only. bench/probe.c implements
// the same format and the same sum so that Go and C do the same work.

// HeaderSize is the size of the sequence-and-checksum header that the
// harness puts at the front of every message; it is also the smallest
// message size an experiment accepts.
const HeaderSize = 8

const (
	prime1 = 0x9E3779B97F4A7C15
	prime2 = 0xC2B2AE3D27D4EB4F
	prime3 = 0x165667B19E3779F9
)

// sum64 is a small multiply-xor hash with four independent lanes; it is not
// cryptographic, only quick and sensitive to any change of a word. Words
// are read in the machine's byte order (little-endian on every platform Go
// and the C probe are compared on).
func sum64(seed uint64, p []byte) uint64 {
	a, b, c, d := seed+prime1, seed^prime2, seed+prime3, ^seed
	n := len(p)
	i := 0
	for ; i+32 <= n; i += 32 {
		w := (*[4]uint64)(unsafe.Pointer(&p[i]))
		a = (a ^ w[0]) * prime2
		b = (b ^ w[1]) * prime2
		c = (c ^ w[2]) * prime2
		d = (d ^ w[3]) * prime2
	}
	h := bits.RotateLeft64(a, 1) + bits.RotateLeft64(b, 7) + bits.RotateLeft64(c, 12) + bits.RotateLeft64(d, 18) + uint64(n)
	for ; i+8 <= n; i += 8 {
		h = mixWord(h, *(*uint64)(unsafe.Pointer(&p[i])))
	}
	if i < n {
		var w uint64
		for j := n - 1; j >= i; j-- {
			w = w<<8 | uint64(p[j])
		}
		h = mixWord(h, w)
	}
	return avalanche(h)
}

// mixWord folds one word into sum64's running hash (after the lanes).
func mixWord(h, w uint64) uint64 {
	h = (h ^ w) * prime2
	return h ^ h>>31
}

// avalanche is sum64's final mix.
func avalanche(h uint64) uint64 {
	h ^= h >> 33
	h *= prime3
	return h ^ h>>29
}

// payloadSum is the checksum of a message with the given sequence number
// whose payload (the bytes after the header) is p. It covers every byte:
// a receiver that verifies a message has read all of it.
func payloadSum(seq uint32, p []byte) uint32 {
	return uint32(sum64(uint64(seq)<<32|uint64(uint32(len(p)+HeaderSize)), p))
}

// source is the pseudo-random block message payloads are copied from.
type source []byte

// newSource returns a block big enough for messages of up to size bytes.
func newSource(size int) source {
	s := make(source, size+64)
	x := uint64(prime3)
	for i := 0; i+8 <= len(s); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(s[i:], x)
	}
	return s
}

// fill writes message seq (header and payload) into m; len(m) is the size.
// The checksum is computed from the source block, not from m: m is often
// shared memory whose cache lines the consumer owns, and reading back what
// was just written would wait for them.
func (s source) fill(m []byte, seq uint32) {
	off := int(seq & 63)
	p := s[off : off+len(m)-HeaderSize]
	sum := payloadSum(seq, p)
	copyBig(m[HeaderSize:], p)
	binary.LittleEndian.PutUint32(m, seq)
	binary.LittleEndian.PutUint32(m[4:], sum)
}

// check reports the sequence number of message m and whether its checksum
// matches. Messages shorter than the header are never valid.
func check(m []byte) (seq uint32, ok bool) {
	if len(m) < HeaderSize {
		return 0, false
	}
	seq = binary.LittleEndian.Uint32(m)
	return seq, binary.LittleEndian.Uint32(m[4:]) == payloadSum(seq, m[HeaderSize:])
}

// tally counts what a receiver saw, in order.
type tally struct {
	next    uint32 // next expected sequence number
	got     int64  // messages received
	lost    int64  // sequence numbers skipped
	corrupt int64  // bad checksum, wrong size, or out of order
}

// see accounts for message m, which should have size bytes.
func (t *tally) see(m []byte, size int) {
	t.got++
	if len(m) == size && len(m) >= HeaderSize {
		seq := binary.LittleEndian.Uint32(m)
		if seq == t.next && binary.LittleEndian.Uint32(m[4:]) == uint32(sum64(uint64(seq)<<32|uint64(uint32(len(m))), m[HeaderSize:])) {
			t.next++
			return
		}
	}
	seq, ok := check(m)
	t.seeOdd(m, size, seq, ok)
}

func (t *tally) seeOdd(m []byte, size int, seq uint32, ok bool) {
	if !ok || len(m) != size {
		t.corrupt++
		t.next++
		return
	}
	if d := seq - t.next; d != 0 {
		if d < 1<<31 { // ahead: messages in between never came
			t.lost += int64(d)
		} else { // behind: a duplicate or reordering
			t.corrupt++
			return
		}
	}
	t.next = seq + 1
}
