package ipc

import (
	"fmt"
	"testing"
)

// TestFusedMatchesSum64: the fused producer writes messages that the plain
// check (sum64 over the bytes in the ring) accepts, and the fused consumer
// accepts them, copies them whole into its buffer, and counts a flipped
// byte anywhere in a message as corrupt — for every payload length from 1
// to 100 bytes (every path through the blocks, words and tail) and a few
// larger ones. (Header-only messages take the plain path.)
func TestFusedMatchesSum64(t *testing.T) {
	sizes := []int{}
	for s := HeaderSize + 1; s <= HeaderSize+100; s++ {
		sizes = append(sizes, s)
	}
	sizes = append(sizes, 1000, 4096, smallMessage)
	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			mem := ringMem(t, 1<<20)
			prod, err := NewRing(mem, Spin)
			if err != nil {
				t.Fatal(err)
			}
			src := newSource(size)
			const n = 6
			if got := produceFused(prod, src, 0, n, size); got != n {
				t.Fatalf("produced %d of %d", got, n)
			}
			prod.Commit()
			// Every message as it lies in the ring passes the plain check;
			// then one byte of message 3 is spoilt.
			peek, _ := AttachRing(mem, Spin)
			for i := range n {
				m, ok := peek.TryNext()
				if !ok {
					t.Fatalf("message %d missing", i)
				}
				if seq, ok := check(m); !ok || seq != uint32(i) {
					t.Fatalf("message %d: sum64 check says seq %d ok %v", i, seq, ok)
				}
				if i == 3 {
					m[len(m)-1] ^= 0x40
				}
			}
			cons, _ := AttachRing(mem, Spin)
			buf := make([]byte, size)
			var tl tally
			consumeFused(cons, buf, &tl, n, size)
			if tl.got != n || tl.corrupt != 1 || tl.lost != 0 {
				t.Fatalf("got %d corrupt %d lost %d, want %d, 1, 0", tl.got, tl.corrupt, tl.lost, n)
			}
			want := make([]byte, size)
			src.fill(want, n-1)
			if string(buf) != string(want) {
				t.Fatal("the consumer's buffer does not hold the last message whole")
			}
		})
	}
}
