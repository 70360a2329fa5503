package ipc

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// TestOpenEveryTransport sends verified messages both ways through every
// transport with both ends in this process.
func TestOpenEveryTransport(t *testing.T) {
	for _, name := range Transports() {
		t.Run(name, func(t *testing.T) {
			checkNoLeftovers(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			o := Options{MaxMessage: 4096, Dir: t.TempDir()}
			a, b, err := Open(ctx, name, o)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			defer b.Close()
			src := newSource(4096)
			buf := make([]byte, 4096)
			for i, size := range []int{8, 9, 64, 1000, 4096, 100, 8} {
				msg := make([]byte, size)
				src.fill(msg, uint32(i))
				from, to := a, b
				if i%2 == 1 {
					from, to = b, a
				}
				if err := from.Send(ctx, msg); err != nil {
					t.Fatalf("send %d bytes: %v", size, err)
				}
				n, err := to.Recv(ctx, buf)
				if err != nil {
					t.Fatalf("recv %d bytes: %v", size, err)
				}
				if !bytes.Equal(buf[:n], msg) {
					t.Fatalf("message %d: got %d bytes, want %d, differs", i, n, size)
				}
				if seq, ok := check(buf[:n]); !ok || seq != uint32(i) {
					t.Fatalf("message %d: check = %d, %v", i, seq, ok)
				}
			}
			// A receive with nothing to receive ends with its context.
			short, cancel2 := context.WithTimeout(ctx, 30*time.Millisecond)
			defer cancel2()
			if _, err := a.Recv(short, buf); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("recv on empty: err = %v, want deadline exceeded", err)
			}
		})
	}
}
