package ipc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperQueuesMax runs as a user without CAP_SYS_RESOURCE in an IPC
// namespace whose queues_max is 2 (set up by TestQueuesMaxNamed).
func TestHelperQueuesMax(t *testing.T) {
	if os.Getenv("IPCLAB_TEST_QUEUESMAX") == "" {
		t.Skip("run by TestQueuesMaxNamed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	near, far, err := Open(ctx, "posix-mq", Options{MaxMessage: 64, QueueDepth: 4, Dir: t.TempDir()})
	if err == nil {
		near.Close()
		far.Close()
		// two queues fit; a second pair must not
		near, far, err = Open(ctx, "posix-mq", Options{MaxMessage: 64, QueueDepth: 4, Dir: t.TempDir()})
	}
	if err == nil {
		near.Close()
		far.Close()
	}
	fmt.Printf("RESULT %v\n", err)
	if !errors.Is(err, ErrNoRoom) || !strings.Contains(err.Error(), "queues_max") {
		t.Fatalf("want an error naming queues_max, got %v", err)
	}
}

// TestQueuesMaxNamed: running out of POSIX queues names the limit
// (/proc/sys/fs/mqueue/queues_max) instead of "no space left on device".
// Root is not bound by queues_max, so the check runs as the second test
// user, in an IPC namespace of its own so that the machine's limit is not
// touched.
func TestQueuesMaxNamed(t *testing.T) {
	uid, gid := otherUser(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	bin := filepath.Join(dir, "ipc.test")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o700)
	if err := os.Chown(tmp, uid, gid); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("echo 1 > /proc/sys/fs/mqueue/queues_max && exec setpriv --reuid=%d --regid=%d --clear-groups %s -test.run='^TestHelperQueuesMax$' -test.v", uid, gid, bin)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWIPC}
	cmd.Env = append(os.Environ(), "IPCLAB_TEST_QUEUESMAX=1", "TMPDIR="+tmp, "HOME="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "queues_max") {
		t.Fatalf("the helper's error does not name queues_max:\n%s", out)
	}
}
