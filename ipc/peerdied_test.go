package ipc

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

// TestPeerGoneIsErrPeerDied: when the other end of a fifo or zmq-ipc
// connection goes away (here: closed; a killed process closes the same
// way), Recv says ErrPeerDied, not "EOF" or "connection reset".
func TestPeerGoneIsErrPeerDied(t *testing.T) {
	for _, name := range []string{"fifo", "zmq-ipc"} {
		t.Run(name, func(t *testing.T) {
			checkNoLeftovers(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			near, far, err := Open(ctx, name, Options{MaxMessage: 64, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer near.Close()
			if err := far.Send(ctx, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			if _, err := near.Recv(ctx, buf); err != nil {
				t.Fatal(err)
			}
			far.Close()
			rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
			defer rcancel()
			_, err = near.Recv(rctx, buf)
			if !errors.Is(err, ErrPeerDied) {
				t.Fatalf("Recv after the peer went: %v, want ErrPeerDied", err)
			}
		})
	}
}

// TestKilledPeerIsErrPeerDied: the same with a real process killed.
func TestKilledPeerIsErrPeerDied(t *testing.T) {
	for _, name := range []string{"fifo", "zmq-ipc"} {
		t.Run(name, func(t *testing.T) {
			checkNoLeftovers(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p, err := Spawn(ctx, name, Options{MaxMessage: 64, Dir: t.TempDir()}, "echo", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			syscall.Kill(p.PID(), syscall.SIGKILL)
			buf := make([]byte, 64)
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			defer rcancel()
			_, err = p.Conn.Recv(rctx, buf)
			if !errors.Is(err, ErrPeerDied) {
				t.Fatalf("Recv from a killed peer: %v, want ErrPeerDied", err)
			}
		})
	}
}
