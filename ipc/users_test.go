package ipc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests play a second user on the same machine (a course server) who
// tries to make this user's ipc calls delete, chmod or expose their files.
// They need root to create that user and to act as them; under CI=true a
// missing root is a failure, elsewhere a skip.

const otherUserName = "ipclab-other"

// otherUser returns the uid and gid of a real second system user, creating
// it with useradd when it does not exist yet.
func otherUser(t *testing.T) (uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root to create and act as a second user (CI runs as root)")
		}
		t.Skip("needs root to create and act as a second user")
	}
	u, err := user.Lookup(otherUserName)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", otherUserName).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "already exists") {
			t.Fatalf("useradd %s: %v\n%s", otherUserName, err, out)
		}
		if u, err = user.Lookup(otherUserName); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// asOther runs a shell script as the other user and returns its output and
// error.
func asOther(t *testing.T, uid, gid int, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// sharedTmp points TMPDIR at a fresh world-writable sticky directory, as
// /tmp is, for the duration of the test.
func sharedTmp(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	if err := os.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(tmp), 0o755); err != nil { // t.TempDir's parent
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	return tmp
}

func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestDirPerUserPrivate: the ipc directory is the user's own, 0700, so
// another user can neither plant a ledger in it nor remove a FIFO from it.
func TestDirPerUserPrivate(t *testing.T) {
	uid, gid := otherUser(t)
	sharedTmp(t)
	checkNoLeftovers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	near, far, err := Open(ctx, "fifo", Options{MaxMessage: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer near.Close()
	defer far.Close()
	fi, err := os.Lstat(Dir())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 || fi.Mode()&os.ModeSticky != 0 {
		t.Fatalf("%s has mode %v, want drwx------", Dir(), fi.Mode())
	}
	fifos, _ := filepath.Glob(filepath.Join(Dir(), Prefix()+"*fifo*"))
	if len(fifos) == 0 {
		t.Fatalf("no FIFO of ours in %s", Dir())
	}
	planted := filepath.Join(Dir(), fmt.Sprintf("ipclab-%d-abcdef.ledger", deadPID(t)))
	out, err := asOther(t, uid, gid, fmt.Sprintf("rm -f %s; printf '1 0\\npath /etc/hostname\\n' > %s", fifos[0], planted))
	if err == nil {
		t.Fatalf("the other user could write in %s:\n%s", Dir(), out)
	}
	if _, err := os.Lstat(fifos[0]); err != nil {
		t.Fatalf("the other user removed our FIFO: %v", err)
	}
	if _, err := os.Lstat(planted); err == nil {
		t.Fatalf("the other user planted %s", planted)
	}
}

// TestDirSquatRefused: another user who creates the directory first, as a
// directory of their own or as a symlink to somewhere else, gets a clear
// refusal — no FIFO in their directory, no chmod of the symlink's target.
func TestDirSquatRefused(t *testing.T) {
	uid, gid := otherUser(t)
	for _, how := range []string{"dir", "symlink"} {
		t.Run(how, func(t *testing.T) {
			tmp := sharedTmp(t)
			target := filepath.Join(tmp, "victim")
			if err := os.Mkdir(target, 0o755); err != nil {
				t.Fatal(err)
			}
			script := "mkdir -m 0777 " + Dir()
			if how == "symlink" {
				script = fmt.Sprintf("ln -s %s %s", target, Dir())
			}
			if out, err := asOther(t, uid, gid, script); err != nil {
				t.Fatalf("%s: %v\n%s", script, err, out)
			}
			t.Cleanup(func() { os.RemoveAll(Dir()) })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			near, far, err := Open(ctx, "fifo", Options{MaxMessage: 64})
			if err == nil {
				near.Close()
				far.Close()
				t.Fatalf("Open used a directory %s made by another user", how)
			}
			if !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), Dir()) {
				t.Fatalf("error does not name the unsafe directory: %v", err)
			}
			if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o755 {
				t.Fatalf("the symlink's target became %v", fi.Mode())
			}
			if ents, _ := os.ReadDir(target); len(ents) > 0 {
				t.Fatalf("files made in the other user's target: %v", ents)
			}
			if _, err := Sweep(); !errors.Is(err, ErrUnsafeDir) {
				t.Fatalf("Sweep of a squatted directory: %v", err)
			}
		})
	}
}

// TestSweepPlantedLedger: a dead process's ledger that names paths, "..",
// another process's objects or another user's objects removes none of
// them; the ledger's own objects are removed.
func TestSweepPlantedLedger(t *testing.T) {
	uid, gid := otherUser(t)
	sharedTmp(t)
	if err := privateDir(Dir()); err != nil {
		t.Fatal(err)
	}
	victim := t.TempDir()
	a, b := filepath.Join(victim, "a.txt"), filepath.Join(victim, "b.txt")
	for _, f := range []string{a, b} {
		if err := os.WriteFile(f, []byte("precious"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pid := deadPID(t)
	prefix := fmt.Sprintf("ipclab-%d-abcdef", pid)
	// Another user's POSIX segment and SysV segment, named and listed as if
	// they were the dead process's.
	otherShm := "/" + prefix + "-9-shm"
	out, err := asOther(t, uid, gid, fmt.Sprintf("touch /dev/shm%s && ipcmk -M 4096", otherShm))
	t.Cleanup(func() { os.Remove("/dev/shm" + otherShm) })
	if err != nil {
		t.Fatalf("as the other user: %v\n%s", err, out)
	}
	f := strings.Fields(out)
	otherSysv := f[len(f)-1]
	t.Cleanup(func() { exec.Command("ipcrm", "-m", otherSysv).Run() })
	// Our own leftovers, which the sweep must remove.
	mine := filepath.Join(Dir(), prefix+"-1-fifo-a")
	if err := unix.Mkfifo(mine, 0o600); err != nil {
		t.Fatal(err)
	}
	myShm := "/" + prefix + "-2-shm"
	if err := os.WriteFile("/dev/shm"+myShm, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove("/dev/shm" + myShm) })
	ledger := strings.Join([]string{
		fmt.Sprintf("%d 0", pid),
		"path " + a,
		"shm /../.." + b,
		"path ../../" + filepath.Base(victim),
		"path " + victim + "/" + prefix + "-x/../a.txt",
		"mq /../" + prefix,
		fmt.Sprintf("shm /ipclab-%d-ffffff-1-shm", os.Getpid()),
		"shm " + otherShm,
		"sysvshm " + otherSysv,
		"path " + filepath.Base(mine),
		"shm " + myShm,
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(Dir(), prefix+".ledger"), []byte(ledger), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Sweep(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{a, b, "/dev/shm" + otherShm} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the sweep removed %s: %v", f, err)
		}
	}
	if out, err := exec.Command("ipcs", "-m", "-i", otherSysv).CombinedOutput(); err != nil {
		t.Errorf("the sweep removed the other user's SysV segment %s: %v\n%s", otherSysv, err, out)
	}
	for _, f := range []string{mine, "/dev/shm" + myShm, filepath.Join(Dir(), prefix+".ledger")} {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("the sweep left our own %s", f)
		}
	}
}

// TestSweepForeignLedger: a ledger in our directory that is not ours (a
// symlink, another user's file) is not read.
func TestSweepForeignLedger(t *testing.T) {
	uid, gid := otherUser(t)
	sharedTmp(t)
	if err := privateDir(Dir()); err != nil {
		t.Fatal(err)
	}
	victim := t.TempDir()
	pid := deadPID(t)
	prefix := fmt.Sprintf("ipclab-%d-abcdef", pid)
	target := filepath.Join(victim, prefix+"-1-map")
	if err := os.WriteFile(target, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("%d 0\npath %s\n", pid, target)
	foreign := filepath.Join(Dir(), prefix+".ledger")
	if err := os.WriteFile(foreign, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, uid, gid); err != nil {
		t.Fatal(err)
	}
	// A symlinked ledger pointing at a ledger elsewhere.
	elsewhere := filepath.Join(victim, "x.ledger")
	os.WriteFile(elsewhere, []byte(body), 0o600)
	link := filepath.Join(Dir(), fmt.Sprintf("ipclab-%d-abcdee.ledger", pid))
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Sweep(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); err != nil {
		t.Fatalf("a foreign ledger removed %s: %v", target, err)
	}
	if _, err := os.Lstat(foreign); err != nil {
		t.Fatalf("the other user's ledger was removed: %v", err)
	}
}

// TestSweepOthersDeadObjects: as root, the scan of /dev/shm for objects of
// dead processes leaves other users' objects alone.
func TestSweepOthersDeadObjects(t *testing.T) {
	uid, gid := otherUser(t)
	name := fmt.Sprintf("/dev/shm/ipclab-%d-abcdef-1-shm", deadPID(t))
	if out, err := asOther(t, uid, gid, "touch "+name); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { os.Remove(name) })
	if _, err := Sweep(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(name); err != nil {
		t.Fatalf("root's sweep removed another user's %s: %v", name, err)
	}
}
