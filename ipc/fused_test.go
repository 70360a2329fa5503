package ipc

import (
	"context"
	"fmt"
	"testing"
)

// TestFusedMatchesSum64: the fused producer writes messages that the plain
// check (sum64 over the bytes in the ring) accepts, and the fused consumer
// accepts them, copies them whole into its buffer, and counts a flipped
// byte anywhere in a message as corrupt — for every payload length from 1
// to 100 bytes (every path through the blocks, words and tail) and a few
// larger ones. (Header-only messages take the plain path.) Both the
// assembly loops (amd64) and the Go ones are checked.
func TestFusedMatchesSum64(t *testing.T) {
	for _, asm := range fusedImpls() {
		t.Run(implName(asm), func(t *testing.T) {
			defer useFusedAsm(asm)()
			testFusedMatchesSum64(t)
		})
	}
}

func fusedImpls() []bool {
	if fusedAsm {
		return []bool{true, false}
	}
	return []bool{false}
}

func implName(asm bool) string {
	if asm {
		return "asm"
	}
	return "go"
}

func useFusedAsm(on bool) (restore func()) {
	was := fusedAsm
	fusedAsm = on
	return func() { fusedAsm = was }
}

func testFusedMatchesSum64(t *testing.T) {
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

// TestFusedOtherRecords: a record of another size in the middle of a run
// of fused messages is counted as corrupt (as tally.see would) and the ones
// after it are still taken; a fused run stops at the ring's wrap and at an
// empty ring without taking anything it should not.
func TestFusedOtherRecords(t *testing.T) {
	for _, asm := range fusedImpls() {
		t.Run(implName(asm), func(t *testing.T) {
			defer useFusedAsm(asm)()
			const size = 64
			mem := ringMem(t, 64<<10)
			prod, err := NewRing(mem, Spin)
			if err != nil {
				t.Fatal(err)
			}
			cons, _ := AttachRing(mem, Spin)
			src := newSource(size)
			buf := make([]byte, size)
			var tl tally
			// 0–2 fused, an odd 100-byte record in place of 3 (a corrupt
			// message takes its sequence number), then 4–6.
			if got := produceFused(prod, src, 0, 3, size); got != 3 {
				t.Fatalf("produced %d of 3", got)
			}
			odd, ok := prod.TryClaim(100)
			if !ok {
				t.Fatal("no room for the odd record")
			}
			clear(odd)
			if got := produceFused(prod, src, 4, 7, size); got != 7 {
				t.Fatalf("produced up to %d, want 7", got)
			}
			prod.Commit()
			consumeFused(cons, buf, &tl, 7, size)
			if tl.got != 7 || tl.next != 7 || tl.corrupt != 1 || tl.lost != 0 {
				t.Fatalf("got %d next %d corrupt %d lost %d, want 7, 7, 1, 0", tl.got, tl.next, tl.corrupt, tl.lost)
			}
			// Empty: returns at once, takes nothing.
			consumeFused(cons, buf, &tl, 100, size)
			if tl.got != 7 {
				t.Fatalf("an empty ring gave %d messages", tl.got-7)
			}
			cons.Release()
			// Fill up to the ring's end: the fused producer stops before the
			// record that would wrap, and the consumer stops at it.
			i := int64(7)
			for {
				j := produceFused(prod, src, i, i+1000, size)
				prod.Commit()
				consumeFused(cons, buf, &tl, j, size)
				cons.Release()
				if j == i {
					break
				}
				i = j
			}
			if int64(tl.next) != i || tl.corrupt != 1 || tl.lost != 0 {
				t.Fatalf("up to the wrap: next %d (produced %d) corrupt %d lost %d", tl.next, i, tl.corrupt, tl.lost)
			}
			// Past the wrap through the slow paths, then fused again.
			m, err := prod.Claim(context.Background(), size)
			if err != nil {
				t.Fatal(err)
			}
			src.fill(m, uint32(i))
			prod.Commit()
			if m, ok := cons.TryNext(); !ok {
				t.Fatal("the message after the wrap is missing")
			} else {
				tl.see(m, size)
			}
			if got := produceFused(prod, src, i+1, i+4, size); got != i+4 {
				t.Fatalf("after the wrap produced up to %d, want %d", got, i+4)
			}
			prod.Commit()
			consumeFused(cons, buf, &tl, i+4, size)
			if int64(tl.next) != i+4 || tl.corrupt != 1 || tl.lost != 0 {
				t.Fatalf("after the wrap: next %d want %d, corrupt %d lost %d", tl.next, i+4, tl.corrupt, tl.lost)
			}
		})
	}
}
