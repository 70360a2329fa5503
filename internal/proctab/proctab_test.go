package proctab

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestKillTree: a shell with a grandchild in its own session is killed
// whole, and List sees the tree before and nothing of it after.
func TestKillTree(t *testing.T) {
	cmd := exec.Command("sh", "-c", "setsid sleep 100 & sleep 100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var tree []int
	deadline := time.Now().Add(10 * time.Second)
	for len(tree) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the shell's two children never showed up in the table")
		}
		time.Sleep(20 * time.Millisecond)
		tree = Children(List())[cmd.Process.Pid]
	}
	KillTree(cmd.Process.Pid, true)
	<-done
	for _, pid := range tree {
		for i := 0; syscall.Kill(pid, 0) == nil; i++ {
			for _, p := range List() {
				if p.PID == pid && p.State == 'Z' {
					goto dead // a zombie waits for init to reap it
				}
			}
			if i > 100 {
				t.Fatalf("child %d still runs after KillTree", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	dead:
	}
}
