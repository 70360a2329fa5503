"""ipclab under JupyterHub, with real system users.

Started by hub_test.go (as root), which builds ipclab into
$IPCLAB_HUBTEST_DIR and passes the binary and a Go module proxy
directory. This script:

  - creates three system users with passwords (useradd, chpasswd), removed
    at the end with everything they own;
  - installs ipclab's kernel spec system-wide (ipclab install --prefix
    /usr/local) with the teacher's settings in its env;
  - starts Debian's JupyterHub on loopback (PAM logins, LocalProcessSpawner,
    configurable-http-proxy) and drives it through its REST API and each
    single-user server's kernel API (REST and websocket);
  - runs, in numbered order: three students' notebooks with a cross-process
    experiment at the same time; isolation checks of student A against
    student B's live kernel; crash sweeps; ports; runaway cells; and a
    final check that nothing of the students is left.
"""

import asyncio
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubclient import Hub  # noqa: E402

DIR = os.environ["IPCLAB_HUBTEST_DIR"]
BIN = os.environ["IPCLAB_BIN"]
GOMODCACHE = os.environ["IPCLAB_GOMODCACHE"]
TAG = os.environ.get("IPCLAB_HUBTEST_TAG") or secrets.token_hex(3)
KERNEL = "ipclab-hubtest-" + TAG
SPEC_DIR = "/usr/local/share/jupyter/kernels/" + KERNEL
USERS = {k: "ihub%s%s" % (TAG, k) for k in "abc"}
PASSWORDS = {u: secrets.token_urlsafe(12) for u in USERS.values()}
CELL = 900  # seconds a cell may take on a loaded two-core machine
# The teacher's limits for this class, smaller than the defaults so that the
# runaway cells below end quickly.
LIMITS = {"IPCLAB_MEMORY_LIMIT": "1GiB", "IPCLAB_PROCS_LIMIT": "300", "IPCLAB_OUTPUT_LIMIT": "1MiB"}


def log(*a):
    print("[hub]", *a, flush=True)


def sh(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


def uid(name):
    return pwd.getpwnam(name).pw_uid


def procs_of(u):
    """PIDs of the processes user u runs."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.stat("/proc/" + p).st_uid == u:
                    out.append(int(p))
            except OSError:
                pass
    return out


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def state(pid):
    """A process's state letter and parent, from /proc/PID/stat ("Z ppid 1":
    a zombie nobody has reaped yet), or "" once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return "%s ppid %s" % (rest[0], rest[1])
    except (OSError, IndexError):
        return ""


def sysv(kind, u):
    """Ids of the SysV shm segments or message queues (kind "shm"/"msg") owned by u."""
    ids = []
    with open("/proc/sysvipc/" + kind) as f:
        head = f.readline().split()
        for line in f:
            row = dict(zip(head, line.split()))
            if int(row["uid"]) == u:
                ids.append(row["shmid" if kind == "shm" else "msqid"])
    return ids


def owned_in(top, u, depth=3):
    """Paths under top owned by u (not following symlinks), to depth levels;
    directories not owned by u are entered only when they belong to ipclab."""
    found = []
    try:
        entries = os.listdir(top)
    except OSError:
        return found
    for name in entries:
        p = os.path.join(top, name)
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if st.st_uid == u:
            found.append(p)
        if stat.S_ISDIR(st.st_mode) and depth > 1 and (st.st_uid == u or name.startswith("ipclab")):
            found.extend(owned_in(p, u, depth - 1))
    return found


def resources_of(u):
    """Everything user u has in the places ipclab makes things: /dev/shm,
    /dev/mqueue (when mounted), SysV, and the temp dir."""
    res = []
    for p in owned_in("/dev/shm", u, 1) + owned_in("/dev/mqueue", u, 1):
        res.append(("path", p))
    res += [("sysvshm", i) for i in sysv("shm", u)]
    res += [("sysvmsg", i) for i in sysv("msg", u)]
    for p in owned_in("/tmp", u):
        res.append(("path", p))
    return res


def _owner_of_sysv(kind, ident):
    with open("/proc/sysvipc/" + ("shm" if kind == "sysvshm" else "msg")) as f:
        head = f.readline().split()
        for line in f:
            row = dict(zip(head, line.split()))
            if row["shmid" if kind == "sysvshm" else "msqid"] == ident:
                return int(row["uid"])
    return -1


def still_there(kind, name):
    if kind == "path":
        return os.path.lexists(name)
    if kind in ("sysvshm", "sysvmsg"):
        return _owner_of_sysv(kind, name) >= 0
    return None  # POSIX queues without /dev/mqueue: unknown from outside


# The experiment each student runs: producer and consumer in separate
# processes, every message checked.
EXPERIMENT = r'''results, err := ipc.Run(context.Background(), ipc.Experiment{
	Transports: []string{"shm-ring", "pipe", "unix-stream", "fifo", "posix-mq", "sysv-mq"},
	Sizes:      []int{64, 4096},
	Duration:   200 * time.Millisecond,
	Trials:     2,
})
if err != nil {
	panic(err)
}
for _, r := range results {
	fmt.Printf("RESULT %s %d %d %d %d\n", r.Transport, r.SizeBytes, r.Messages, r.Lost, r.Corrupt)
}'''

# What student B's kernel holds open while A probes it: one of each named
# ipc resource, kept in session variables.
HOLD = r'''ctx := context.Background()
held := map[string][2]ipc.Conn{}
for _, tr := range []string{"fifo", "unix-stream", "unix-dgram", "posix-mq", "sysv-mq", "zmq-ipc", "shm-ring"} {
	a, b, err := ipc.Open(ctx, tr, ipc.Options{MaxMessage: 4096})
	if err != nil { panic(err) }
	held[tr] = [2]ipc.Conn{a, b}
}
segs := []*ipc.Segment{}
for _, k := range []ipc.SegmentKind{ipc.PosixShm, ipc.SysvShm, ipc.MappedFile} {
	s, err := ipc.CreateSegment(k, 1<<16)
	if err != nil { panic(err) }
	copy(s.Bytes(), "secret of B")
	segs = append(segs, s)
}
for _, l := range ipc.Leftovers() { fmt.Println("HELD", l) }
fmt.Println("PREFIX", ipc.Prefix(), "DIR", ipc.Dir())'''

# Student A's probe: every way in to what B owns. It prints one line per
# attempt that worked; nothing is the right answer.
PROBE = r'''import (
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

type target struct{ Kind, Name string }

func probe(list string) []string {
	var ts []target
	if err := json.Unmarshal([]byte(list), &ts); err != nil {
		panic(err)
	}
	var got []string
	hit := func(t target, how string) { got = append(got, t.Kind+" "+t.Name+": "+how) }
	for _, t := range ts {
		switch t.Kind {
		case "path":
			st, err := os.Lstat(t.Name)
			if err != nil {
				continue // A cannot even see it
			}
			mode := st.Mode()
			switch {
			case mode&os.ModeSocket != 0:
				for _, nw := range []string{"unix", "unixgram", "unixpacket"} {
					if c, err := net.Dial(nw, t.Name); err == nil {
						c.Close()
						hit(t, "connected ("+nw+")")
					}
				}
			case mode.IsDir():
				if es, err := os.ReadDir(t.Name); err == nil {
					hit(t, "listed "+strconv.Itoa(len(es))+" entries")
					for _, e := range es {
						if b, err := os.ReadFile(filepath.Join(t.Name, e.Name())); err == nil && len(b) > 0 && !e.IsDir() {
							hit(t, "read "+e.Name())
							break
						}
					}
				}
				if err := os.WriteFile(filepath.Join(t.Name, "planted-by-a"), []byte("x"), 0o755); err == nil {
					hit(t, "planted a file")
					os.Remove(filepath.Join(t.Name, "planted-by-a"))
				}
			default:
				flags := unix.O_NONBLOCK | unix.O_NOFOLLOW
				if fd, err := unix.Open(t.Name, unix.O_RDONLY|flags, 0); err == nil {
					hit(t, "opened for reading")
					if mode.IsRegular() && st.Size() > 0 {
						if m, err := unix.Mmap(fd, 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED); err == nil {
							hit(t, "mapped")
							unix.Munmap(m)
						}
					}
					unix.Close(fd)
				}
				if fd, err := unix.Open(t.Name, unix.O_WRONLY|flags, 0); err == nil {
					hit(t, "opened for writing")
					unix.Close(fd)
				}
			}
			if err := os.Chmod(t.Name, 0o777); err == nil {
				hit(t, "chmod")
			}
			if err := os.Remove(t.Name); err == nil {
				hit(t, "removed")
			}
		case "mq":
			name := strings.TrimPrefix(t.Name, "/")
			p, _ := unix.BytePtrFromString(name)
			for _, fl := range []int{unix.O_RDONLY, unix.O_WRONLY} {
				fd, _, e := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)), uintptr(fl|unix.O_NONBLOCK), 0, 0, 0, 0)
				if e == 0 {
					hit(t, "mq_open "+strconv.Itoa(fl))
					unix.Close(int(fd))
				}
			}
			if _, _, e := unix.Syscall(unix.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(p)), 0, 0); e == 0 {
				hit(t, "mq_unlink")
			}
		case "sysvshm":
			id, _ := strconv.Atoi(t.Name)
			if m, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY); err == nil {
				hit(t, "shmat")
				unix.SysvShmDetach(m)
			}
			if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err == nil {
				hit(t, "shmctl IPC_RMID")
			}
		case "sysvmsg":
			id, _ := strconv.Atoi(t.Name)
			var buf [128]byte
			if _, _, e := unix.Syscall6(unix.SYS_MSGRCV, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), 64, 0, uintptr(unix.IPC_NOWAIT), 0); e == 0 || e == syscall.ENOMSG {
				hit(t, "msgrcv")
			}
			msg := [16]byte{1}
			if _, _, e := unix.Syscall6(unix.SYS_MSGSND, uintptr(id), uintptr(unsafe.Pointer(&msg[0])), 8, uintptr(unix.IPC_NOWAIT), 0, 0); e == 0 {
				hit(t, "msgsnd")
			}
			if _, _, e := unix.Syscall(unix.SYS_MSGCTL, uintptr(id), uintptr(unix.IPC_RMID), 0); e == 0 {
				hit(t, "msgctl IPC_RMID")
			}
		}
	}
	return got
}'''


def probe_cell(targets):
    """PROBE and its call in one cell."""
    return PROBE + '\nfor _, h := range probe(`%s`) { fmt.Println("BREACH", h) }\nfmt.Println("probed %d")' % (
        json.dumps([{"Kind": k, "Name": n} for k, n in targets]), len(targets))


class HubTest(unittest.TestCase):
    hub = None
    kernels = {}
    servers = {}
    tokens = {}

    @classmethod
    def setUpClass(cls):
        cls.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(cls.loop)
        cls.created = []
        try:
            cls._setup()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _setup(cls):
        for u in USERS.values():
            # Homes 0700, as the README asks of a class (Debian 12's adduser
            # does this; useradd's default 0755 lets every student read the
            # others' notebooks and Go build caches).
            sh("useradd", "--create-home", "-K", "HOME_MODE=0700", "--shell", "/bin/sh", u)
            cls.created.append(u)
            subprocess.run(["chpasswd"], input="%s:%s\n" % (u, PASSWORDS[u]), text=True, check=True)
        log("users", " ".join(USERS.values()))
        # A module cache the teacher filled, read-only for students: builds
        # need no network, and module paths are the same for every student,
        # so a copied build cache serves them all.
        env = {"GOMODCACHE": GOMODCACHE, "GOPROXY": "off", **LIMITS}
        args = [BIN, "install", "--prefix", "/usr/local", "--name", KERNEL, "--display-name", "Go (ipclab hub test)"]
        for k, v in env.items():
            args += ["--env", "%s=%s" % (k, v)]
        log(sh(*args).strip())
        os.makedirs(os.path.join(DIR, "hub"), exist_ok=True)
        cls.hub = Hub(os.path.join(DIR, "hub"), list(USERS.values()),
                      spawner_env={"PATH": "/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin"})
        cls.aw(cls.hub.start())
        log("hub at", cls.hub.url)

        async def login_and_start(u):
            tok = await cls.hub.login(u, PASSWORDS[u])
            cls.tokens[u] = tok
            cls.servers[u] = await cls.hub.start_server(u, tok)

        cls.aw(asyncio.gather(*(login_and_start(u) for u in USERS.values())))
        log("three servers ready")
        # A class's first kernel compiles Go's standard library for plugins
        # into the student's own build cache: minutes on a loaded machine.
        # Do it once for student a, then give b and c a copy, as a teacher
        # would put a warm cache in /etc/skel.
        a = USERS["a"]
        k = cls.aw(cls.servers[a].start_kernel(KERNEL))
        t0 = time.monotonic()
        c = cls.aw(k.execute("func warm() int { return 1 }\nwarm()", timeout=CELL))
        if c.status != "ok":
            raise RuntimeError("warm-up cell: %r\n%s" % (c, cls.hub.log_tail()))
        # The prelude plugin (fmt, ipc, plots… for evaluated cells) builds
        # in the background: wait for it too.
        built = os.path.join(pwd.getpwnam(a).pw_dir, ".cache", "ipclab", "built")
        deadline = time.monotonic() + CELL
        while not any(f.startswith("prelude") and ".tmp" not in f for f in os.listdir(built)):
            if time.monotonic() > deadline:
                raise RuntimeError("student a's prelude plugin was not built in %d s" % CELL)
            time.sleep(1)
        log("student a's first compiled cell (cold build cache): %.0f s" % (time.monotonic() - t0))
        cls.aw(k.shutdown())
        src = os.path.join(pwd.getpwnam(a).pw_dir, ".cache", "go-build")
        for u in (USERS["b"], USERS["c"]):
            pw = pwd.getpwnam(u)
            dst = os.path.join(pw.pw_dir, ".cache", "go-build")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
            sh("chown", "-R", "%s:%s" % (u, grp.getgrgid(pw.pw_gid).gr_name), os.path.dirname(dst))

    @classmethod
    def aw(cls, coro):
        return cls.loop.run_until_complete(coro)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.hub is not None:
                for k in list(cls.kernels.values()):
                    try:
                        cls.aw(asyncio.wait_for(k.shutdown(), 30))
                    except Exception:
                        pass
                cls.hub.stop()
        finally:
            for u in cls.created:
                force_remove_user(u)
            shutil.rmtree(SPEC_DIR, ignore_errors=True)
            cls.loop.close()

    def kernel(self, who):
        u = USERS[who]
        if who not in self.kernels:
            self.kernels[who] = self.aw(self.servers[u].start_kernel(KERNEL))
        return self.kernels[who]

    def cell(self, who, code, ok=True, timeout=CELL):
        c = self.aw(self.kernel(who).execute(code, timeout=timeout))
        if ok:
            self.assertEqual(c.status, "ok", "student %s: %r" % (who, c))
        return c

    # 1. Three students at once.
    def test_1_three_students_run_an_experiment_at_once(self):
        async def student(who):
            k = await self.servers[USERS[who]].start_kernel(KERNEL)
            self.kernels[who] = k
            steps = []
            steps.append(await k.execute('name := "%s"\nn := 3' % who, timeout=CELL))
            steps.append(await k.execute("func twice(x int) int { return 2 * x }\ntwice(n)", timeout=CELL))
            steps.append(await k.execute(EXPERIMENT, timeout=CELL))
            steps.append(await k.execute('u, _ := user.Current()\nfmt.Println("USER", u.Username, os.Getuid())', timeout=CELL))
            return steps

        t0 = time.monotonic()
        out = self.aw(asyncio.gather(*(student(w) for w in "abc")))
        log("three notebooks at once: %.0f s" % (time.monotonic() - t0))
        for who, steps in zip("abc", out):
            for c in steps:
                self.assertEqual(c.status, "ok", "student %s: %r" % (who, c))
            self.assertEqual(steps[1].result(), "6")
            rows = [l.split() for l in steps[2].text().splitlines() if l.startswith("RESULT ")]
            self.assertEqual(len(rows), 12, steps[2].text())
            for _, tr, size, msgs, lost, corrupt in rows:
                self.assertGreater(int(msgs), 0, "student %s %s %s" % (who, tr, size))
                self.assertEqual((lost, corrupt), ("0", "0"), "student %s %s %s" % (who, tr, size))
            self.assertIn("USER %s %d" % (USERS[who], uid(USERS[who])), steps[3].text())
            log("student %s: %s" % (who, ", ".join("%s/%s %s msgs" % (r[1], r[2], r[3]) for r in rows[:4])), "…")

    # 2. Student A against student B's live kernel.
    def test_2_student_a_cannot_touch_what_b_holds(self):
        hold = self.cell("b", HOLD)
        held = [tuple(l.split(None, 2)[1:]) for l in hold.text().splitlines() if l.startswith("HELD ")]
        # POSIX segments are files in /dev/shm.
        held = [("path", "/dev/shm/" + n.lstrip("/")) if k == "shm" else (k, n) for k, n in held]
        type(self).held = held
        targets = list(held)
        # What the kernel itself keeps: the ledger, the session's build
        # directory with cell sources and plugins, the caches.
        bu = uid(USERS["b"])
        for kind, name in resources_of(bu):
            if (kind, name) not in targets:
                targets.append((kind, name))
        home = pwd.getpwnam(USERS["b"]).pw_dir
        for sub in (".cache/ipclab", ".cache/ipclab/built", ".cache/go-build"):
            p = os.path.join(home, sub)
            if os.path.isdir(p):
                targets.append(("path", p))
                for f in sorted(os.listdir(p))[:3]:
                    targets.append(("path", os.path.join(p, f)))
        kinds = {k for k, _ in targets}
        paths = [n for k, n in targets if k == "path"]
        log("B holds %d resources: %s" % (len(targets), ", ".join(sorted(kinds))))
        for want in ("sysvshm", "sysvmsg", "mq"):
            self.assertIn(want, kinds, "B's kernel should hold a %s: %r" % (want, targets))
        self.assertTrue(any(".ledger" in p for p in paths), "no ledger of B found: %r" % paths)
        self.assertTrue(any("ipclab-session-" in p for p in paths), "no session directory of B found: %r" % paths)
        self.assertTrue(any(stat.S_ISFIFO(os.lstat(p).st_mode) for p in paths if os.path.lexists(p)), "no FIFO of B")
        self.assertTrue(any(stat.S_ISSOCK(os.lstat(p).st_mode) for p in paths if os.path.lexists(p)), "no socket file of B")
        self.assertTrue(any(p.startswith("/dev/shm/") for p in paths), "no POSIX segment of B")
        # Cell sources in B's session directory.
        sessions = [p for p in paths if os.path.basename(p).startswith("ipclab-session-")]
        for s in sessions:
            for root, dirs, files in os.walk(s):
                for f in files[:2]:
                    targets.append(("path", os.path.join(root, f)))
                if len(targets) > 400:
                    break

        probe = self.cell("a", probe_cell(targets))
        breaches = [l for l in probe.text().splitlines() if l.startswith("BREACH")]
        self.assertIn("probed %d" % len(targets), probe.text())
        self.assertEqual(breaches, [], "student A reached B's resources:\n" + "\n".join(breaches))
        gone = [(k, n) for k, n in targets if still_there(k, n) is False]
        self.assertEqual(gone, [], "B's resources vanished during A's probe")
        # B's kernel still works with them.
        c = self.cell("b", 'fmt.Println(string(segs[0].Bytes()[:11]), len(held))')
        self.assertIn("secret of B 7", c.text())

    def test_3_caches_and_names_are_the_students_own(self):
        for who in "abc":
            u = USERS[who]
            home = pwd.getpwnam(u).pw_dir
            for sub in (".cache/ipclab", ".cache/ipclab/built"):
                p = os.path.join(home, sub)
                st = os.lstat(p)
                self.assertFalse(stat.S_ISLNK(st.st_mode), p)
                self.assertEqual(st.st_uid, uid(u), p)
                self.assertEqual(st.st_mode & 0o022, 0, "%s is writable by others: %o" % (p, st.st_mode))
                for f in os.listdir(p):
                    fst = os.lstat(os.path.join(p, f))
                    self.assertEqual(fst.st_uid, uid(u), f)
                    self.assertEqual(fst.st_mode & 0o022, 0, "%s/%s is writable by others" % (p, f))
        # ipc names of different users never collide: each carries a prefix
        # that is the user's own.
        prefixes = {}
        for who in "abc":
            c = self.cell(who, 'fmt.Println("PREFIX", ipc.Prefix(), ipc.Dir())')
            line = [l for l in c.text().splitlines() if l.startswith("PREFIX")][0].split()
            prefixes[who] = (line[1], line[2])
        self.assertEqual(len({p for p, _ in prefixes.values()}), 3, prefixes)
        for who, (prefix, d) in prefixes.items():
            u = uid(USERS[who])
            self.assertTrue(str(u) in prefix or str(u) in d or USERS[who] in d,
                            "student %s's ipc names %r in %r do not say whose they are, so another user "
                            "with the same PID could take them" % (who, prefix, d))

    # 3. Crash sweeps.
    def test_4_a_sweep_never_touches_what_b_owns(self):
        bu = uid(USERS["b"])
        kernel_pids = [p for p in procs_of(bu) if " kernel " in cmdline(p) and "ipclab" in cmdline(p)]
        self.assertTrue(kernel_pids, "no ipclab kernel process of B")
        server_pids = [p for p in procs_of(bu) if "jupyterhub-singleuser" in cmdline(p)]
        # B's server must not restart the kernel while A sweeps: pause it.
        for p in server_pids:
            os.kill(p, signal.SIGSTOP)
        try:
            for p in kernel_pids:
                os.kill(p, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while any(" kernel " in cmdline(p) or "session" in cmdline(p) for p in procs_of(bu) if p not in server_pids):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            orphans = resources_of(bu)
            log("B's kernel killed; left behind: %d entries" % len(orphans))
            # A's kernel sweeps, and a new kernel of A starts (its start-up clean-up).
            c = self.cell("a", 'swept, err := ipc.Sweep()\nfmt.Println("SWEPT", swept, err)')
            self.assertIn("SWEPT", c.text())
            self.assertIn("<nil>", c.text(), "A's sweep tried to remove what is not A's: %s" % c.text())
            k2 = self.aw(self.servers[USERS["a"]].start_kernel(KERNEL))
            c2 = self.aw(k2.execute('swept, err := ipc.Sweep()\nfmt.Println("SWEPT", swept, err)', timeout=CELL))
            self.aw(k2.shutdown())
            self.assertIn("<nil>", c2.text(), repr(c2))
            gone = [(k, n) for k, n in orphans if still_there(k, n) is False]
            self.assertEqual(gone, [], "A's sweeps removed B's resources")
        finally:
            for p in server_pids:
                os.kill(p, signal.SIGCONT)
        # B's own next kernel cleans up after the crash.
        self.kernels.pop("b", None)
        # (ipc's sweep runs before a process's first ipc resource; the
        # kernel's start-up clean-up removes the dead session's directory.)
        c = self.cell("b", 'swept, err := ipc.Sweep()\nfmt.Println("SWEPT", swept, err)')
        dead_ws = [(k, n) for k, n in orphans if os.path.basename(n).startswith("ipclab-session-")]
        left = [(k, n) for k, n in list(getattr(self, "held", [])) + dead_ws if still_there(k, n)]
        self.assertEqual(left, [], "B's next kernel left the crashed session's resources: %s" % c.text())

    # Ports.
    def test_5_kernels_listen_only_on_loopback(self):
        listening = listening_sockets()
        checked = 0
        for who in "abc":
            u = uid(USERS[who])
            for pid in procs_of(u):
                for addr in sockets_of(pid, listening):
                    checked += 1
                    self.assertTrue(addr.startswith("127.0.0.1:") or addr.startswith("[::1]:"),
                                    "process %d (%s) of %s listens on %s" % (pid, cmdline(pid)[:80], who, addr))
        self.assertGreater(checked, 5, "found too few listening sockets to check")

    # 4. Runaway cells.
    def test_6_runaway_cells_stay_in_their_kernel(self):
        # Memory: 1 GiB blocks, touched, toward 30 GiB (the class limit is 1 GiB).
        c = self.cell("c", '''var keep [][]byte
for i := 0; i < 30; i++ {
	b := make([]byte, 1<<30)
	for j := 0; j < len(b); j += 4096 { b[j] = 1 }
	keep = append(keep, b)
	fmt.Println("allocated", i+1, "GiB")
}''', ok=False)
        self.assertEqual(c.status, "error", repr(c))
        self.assertIn("limit of 1GiB of memory (IPCLAB_MEMORY_LIMIT)", c.error(), repr(c))
        self.assertNotIn("allocated 2 GiB", c.text())
        self.others_alive()
        # A fork loop of exec.Command.
        c = self.cell("c", '''var cmds []*exec.Cmd
stopped := ""
for i := 0; i < 100000; i++ {
	cmd := exec.Command("sleep", "120")
	if err := cmd.Start(); err != nil { stopped = fmt.Sprint("stopped after ", i, ": ", err); break }
	cmds = append(cmds, cmd)
}
for _, cmd := range cmds { cmd.Process.Kill(); cmd.Wait() }
fmt.Println(stopped)''', ok=False)
        text = c.text() + c.error() + c.text("stderr")
        self.assertTrue("resource temporarily unavailable" in text or "IPCLAB_PROCS_LIMIT" in text, repr(c))
        m = re.search(r"stopped after (\d+)", text)
        if m:
            self.assertLess(int(m.group(1)), 300)
        self.assertEqual(self.cell("c", "1 + 1").result(), "2")
        self.others_alive()
        # 100 MB of output: the limit is 1 MiB.
        c = self.cell("c", '''line := strings.Repeat("y", 99) + "\\n"
for i := 0; i < 1000000; i++ { fmt.Print(line) }''')
        self.assertLessEqual(len(c.text()), 1 << 20)
        self.assertIn("IPCLAB_OUTPUT_LIMIT", c.text("stderr"))
        self.assertEqual(self.cell("c", "2 + 2").result(), "4")
        self.others_alive()
        no_sleepers = [p for p in procs_of(uid(USERS["c"])) if cmdline(p).startswith("sleep ")]
        self.assertEqual(no_sleepers, [], "the fork loop's processes outlived it")

    def others_alive(self):
        for who in "ab":
            self.assertEqual(self.cell(who, "1 + 3").result(), "4", who)
        self.aw(self.hub.api("GET", "/hub/api/users"))

    # Nothing left.
    def test_9_nothing_left_after_the_servers_stop(self):
        for who, k in list(self.kernels.items()):
            self.aw(k.shutdown())
        self.kernels.clear()
        for u in USERS.values():
            self.aw(self.hub.stop_server(u, self.tokens[u]))
        time.sleep(2)
        for u in USERS.values():
            ui = uid(u)
            procs = [(p, cmdline(p), state(p)) for p in procs_of(ui)]
            self.assertEqual(procs, [], "processes of %s left (pid, command line, state and parent)" % u)
            # ipc's private directory of the user may stay, empty (0700).
            left = [(k, p) for k, p in resources_of(ui)
                    if not (os.path.basename(p) == "ipclab-uid-%d" % ui and os.path.isdir(p) and not os.listdir(p))]
            self.assertEqual(left, [], "%s left resources after an orderly shutdown" % u)


def listening_sockets():
    """inode → "addr:port" of every listening TCP socket and bound UDP socket."""
    out = {}
    for f, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True), ("/proc/net/udp", False), ("/proc/net/udp6", True)):
        try:
            with open(f) as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            p = line.split()
            local, st, inode = p[1], p[3], p[9]
            if f.endswith(("tcp", "tcp6")) and st != "0A":
                continue
            out[inode] = decode_addr(local, v6)
    return out


def decode_addr(s, v6):
    import ipaddress
    import struct
    host, port = s.split(":")
    raw = bytes.fromhex(host)
    if v6:
        raw = b"".join(struct.pack("<I", struct.unpack(">I", raw[i:i + 4])[0]) for i in range(0, 16, 4))
        ip = ipaddress.IPv6Address(raw)
        txt = "[%s]" % ip if ip.ipv4_mapped is None else str(ip.ipv4_mapped)
    else:
        txt = str(ipaddress.IPv4Address(raw[::-1]))
    return "%s:%d" % (txt, int(port, 16))


def sockets_of(pid, listening):
    addrs = []
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return addrs
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m and m.group(1) in listening:
            addrs.append(listening[m.group(1)])
    return addrs


def force_remove_user(u):
    """Kill u's processes (by PID), remove what u owns in /dev/shm, SysV and
    /tmp, then the user and home."""
    try:
        ui = uid(u)
    except KeyError:
        return
    for _ in range(5):
        pids = procs_of(ui)
        if not pids:
            break
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.5)
    for i in sysv("shm", ui):
        subprocess.run(["ipcrm", "-m", i])
    for i in sysv("msg", ui):
        subprocess.run(["ipcrm", "-q", i])
    for kind, p in resources_of(ui):
        if kind == "path" and os.path.lexists(p):
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    os.remove(p)
                except OSError:
                    pass
    subprocess.run(["userdel", "--remove", u], capture_output=True)
    log("removed user", u)


def cleanup_all():
    """The backstop hub_test.go runs after this script, however it ended:
    the hub (by its PID file) and its proxy, the test users with everything
    they own, the kernel spec."""
    pidfile = os.path.join(DIR, "hub", "jupyterhub.pid")
    try:
        pid = int(open(pidfile).read().strip())
        os.killpg(pid, signal.SIGTERM)
        for _ in range(40):
            os.killpg(pid, 0)
            time.sleep(0.5)
        os.killpg(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass
    for u in USERS.values():
        force_remove_user(u)
    shutil.rmtree(SPEC_DIR, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
