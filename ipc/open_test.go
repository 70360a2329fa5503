package ipc

import (
	"bytes"
	"context"
	"errors"
	"os"
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

// TestAbortClosesNothingTwice follows Open's failure path — the near end
// accepted and closed, then the endpoint aborted — and checks that the
// abort does not close the descriptor numbers again: by then the process
// may have opened something else under them (here: /dev/null, twice).
// Before, pipe, posix-mq, unix-dgram and unix-stream closed them twice.
func TestAbortClosesNothingTwice(t *testing.T) {
	checkNoLeftovers(t)
	for _, name := range []string{"pipe", "posix-mq", "unix-dgram", "unix-stream", "tcp"} {
		t.Run(name, func(t *testing.T) {
			tr, err := lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			o := Options{MaxMessage: 64, Dir: t.TempDir()}.withDefaults()
			ep, err := tr.listen(o)
			if err != nil {
				t.Fatal(err)
			}
			ep.spec.Transport, ep.spec.Options = name, o
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			farc := make(chan Conn, 1)
			go func() {
				c, _ := tr.attach(ctx, ep.spec, ep.files)
				farc <- c
			}()
			near, err := ep.accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if far := <-farc; far != nil {
				defer far.Close()
			}
			near.Close()
			var reopened []*os.File
			for range 3 { // take the numbers near.Close freed
				f, err := os.Open(os.DevNull)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				reopened = append(reopened, f)
			}
			ep.abort()
			for _, f := range reopened {
				if _, err := f.Stat(); err != nil {
					t.Fatalf("descriptor %d, opened after the near end was closed, was closed by abort: %v", f.Fd(), err)
				}
			}
		})
	}
}
