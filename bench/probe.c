/*
 * probe.c — the C baseline for `ipclab bench --compare`.
 *
 * It does what the Go harness in ../ipc does, with the same wire format
 * (8-byte header: 32-bit sequence number and 32-bit sum64 checksum, payload
 * copied from a pseudo-random block at an offset that changes per message),
 * the same ring layout and publishing policy, the same framing and OS
 * settings per transport (ipc/t_fd.go, ipc/fdconn.go, ipc/t_mq.go):
 *   - byte streams (pipe, fifo, unix-stream, tcp): 4-byte little-endian
 *     length prefix, one write per message (from a 64 KiB send buffer, or
 *     writev of header and message above it), reads into a 64 KiB buffer;
 *     sockets send with MSG_NOSIGNAL (send, sendmsg), tcp with TCP_NODELAY;
 *   - packets (unix-dgram, unix-seqpacket): one message per call, no length
 *     prefix, received with MSG_TRUNC; both ends' buffers sized
 *     max(212992, 2*size+4096) with SO_SNDBUFFORCE/SO_RCVBUFFORCE (SO_SNDBUF/
 *     SO_RCVBUF when not allowed); unix-dgram is two bound sockets connected
 *     to each other;
 *   - posix-mq: two queues (one per direction), mq_maxmsg =
 *     /proc/sys/fs/mqueue/msg_max, mq_msgsize = the message size, priority 0;
 *   - sysv-mq: one queue, mtype 1 from the producer (parent), 2 back; the
 *     message is copied into a msgbuf to send and out of one on receipt;
 * the same calibration (warm-up, then as many messages as fit the duration)
 * and the same timing (stream: first send until the consumer reports its
 * count; pingpong: clock per round trip). Producer = parent, consumer = a
 * forked child, as plain C would do it: blocking descriptors, fork, a shared
 * anonymous mapping. Every message is verified (lost and corrupt counted).
 *
 * One transport is not in ipc: c-ring, the physical limit line. A plain
 * SPSC ring of fixed-size slots in the same kind of mapping: the producer
 * copies each message in from the source block, the consumer copies it out
 * into its own buffer, indices are published in batches as for shm-ring;
 * no header, no checksum, no verification, so it reports lost = corrupt = 0
 * by construction. It is what the machine can do, not what ipc can aim to
 * equal (ipc must verify every message).
 *
 *   probe TRANSPORT MODE SIZE DURATION_S TRIALS [WAIT [pin]]
 *     DURATION_S: seconds per trial, or cN: N messages per trial (as
 *     ipclab bench --count; the warm-up is then one run of N/10)
 *     pin: producer on CPU 0, consumer on CPU 1 (as ipclab bench --pin)
 *   probe sum SIZE SEQ     (prints the checksum of message SEQ; tests compare it with Go's)
 *   probe cost SIZE N      (one thread: produce and consume N messages, ns per message)
 *   probe list             (the transports it knows, one a line)
 *     TRANSPORT: shm-ring c-ring pipe fifo unix-stream unix-seqpacket
 *                unix-dgram tcp posix-mq sysv-mq
 *     MODE:      stream pingpong
 *     WAIT:      spin yield futex adaptive (rings; default adaptive for
 *                shm-ring, spin for c-ring)
 *
 * Output, one CSV line: transport,mode,size,msgs_per_s,bytes_per_s,
 * min_msgs_per_s,max_msgs_per_s,rtt_p50_ns,rtt_p99_ns,lost,corrupt
 * Errors go to stderr as "probe TRANSPORT: what: why"; exit status 2 for a
 * bad command line or unknown transport, 3 when the OS refuses the transport
 * at this size (queue limits, missing support), 1 for other failures.
 * Names it creates (FIFOs, socket paths, queue names, SysV queues) are
 * removed as soon as both ends hold them, and on every way out: exit, a
 * failure, SIGINT/SIGTERM/SIGHUP, the consumer dying; if the parent is
 * killed (SIGKILL) the consumer removes them (PR_SET_PDEATHSIG).
 *
 * Build: gcc -O2 -o probe probe.c -lrt   (see Makefile)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HEADER 8
#define P1 0x9E3779B97F4A7C15ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull

static const char *transport = "";

/* ---------------- names to remove on every way out ---------------- */
static char paths[4][108];
static char mqnames[2][64];
static volatile int msqid = -1;
static volatile sig_atomic_t is_parent = 1, ending;
static volatile pid_t child_pid;

/* remove every name still registered; async-signal-safe (unlink, mq_unlink
 * and msgctl are system calls) */
static void cleanup(void) {
	for (int i = 0; i < 4; i++)
		if (paths[i][0]) { unlink(paths[i]); paths[i][0] = 0; }
	for (int i = 0; i < 2; i++)
		if (mqnames[i][0]) { mq_unlink(mqnames[i]); mqnames[i][0] = 0; }
	if (msqid >= 0) { msgctl(msqid, IPC_RMID, 0); msqid = -1; }
}
static void parent_atexit(void) { if (is_parent) cleanup(); }

static void on_signal(int sig) {
	cleanup();
	ending = 1; /* the consumer's end is ours, not news */
	if (is_parent && child_pid > 0) kill(child_pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* the consumer died before the end: say so and stop instead of waiting for
 * it forever (a full queue or ring never drains) */
static void on_child(int sig) {
	(void)sig;
	int st, e = errno;
	if (ending || child_pid <= 0 || waitpid(child_pid, &st, WNOHANG) != child_pid) { errno = e; return; }
	static const char msg[] = "probe: the consumer process died\n";
	if (write(2, msg, sizeof msg - 1) < 0) {}
	cleanup();
	_exit(1);
}

static void die(const char *what) {
	fprintf(stderr, "probe %s: %s: %s\n", transport, what, strerror(errno));
	exit(1);
}
static void fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(int code, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "probe %s: ", transport);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

static long read_long(const char *path, long dflt) {
	FILE *f = fopen(path, "r");
	long v = dflt;
	if (f) { if (fscanf(f, "%ld", &v) != 1) v = dflt; fclose(f); }
	return v;
}

/* ---------------- wire format (ipc/checksum.go) ---------------- */
static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t ld64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static uint64_t sum64(uint64_t seed, const uint8_t *p, size_t len) {
	uint64_t a = seed + P1, b = seed ^ P2, c = seed + P3, d = ~seed, n = len;
	while (len >= 32) {
		a = (a ^ ld64(p)) * P2;
		b = (b ^ ld64(p + 8)) * P2;
		c = (c ^ ld64(p + 16)) * P2;
		d = (d ^ ld64(p + 24)) * P2;
		p += 32; len -= 32;
	}
	uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18) + n;
	while (len >= 8) {
		h = (h ^ ld64(p)) * P2;
		h ^= h >> 31;
		p += 8; len -= 8;
	}
	if (len > 0) {
		uint64_t w = 0;
		for (int i = (int)len - 1; i >= 0; i--) w = w << 8 | p[i];
		h = (h ^ w) * P2;
		h ^= h >> 31;
	}
	h ^= h >> 33; h *= P3; h ^= h >> 29;
	return h;
}

static uint32_t payload_sum(uint32_t seq, const uint8_t *p, size_t len) {
	uint64_t seed = (uint64_t)seq << 32 | (uint32_t)(len + HEADER);
	return (uint32_t)sum64(seed, p, len); /* every byte, as ipc does */
}

static uint8_t *src;
static void make_source(size_t size) {
	src = malloc(size + 64);
	uint64_t x = P3;
	for (size_t i = 0; i + 8 <= size + 64; i += 8) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		memcpy(src + i, &x, 8);
	}
}

/* the checksum is computed from the source, not read back from m (as in Go) */
static inline void fill(uint8_t *m, size_t size, uint32_t seq) {
	const uint8_t *p = src + (seq & 63);
	uint32_t s = payload_sum(seq, p, size - HEADER);
	memcpy(m + HEADER, p, size - HEADER);
	memcpy(m, &seq, 4);
	memcpy(m + 4, &s, 4);
}

struct tally { uint32_t next; int64_t got, lost, corrupt; };
static inline void see(struct tally *t, const uint8_t *m, size_t len, size_t size) {
	t->got++;
	if (len != size || len < HEADER) { t->corrupt++; t->next++; return; }
	uint32_t seq = ld32(m);
	if (ld32(m + 4) != payload_sum(seq, m + HEADER, len - HEADER)) { t->corrupt++; t->next++; return; }
	uint32_t d = seq - t->next;
	if (d != 0) {
		if (d < 1u << 31) t->lost += d;
		else { t->corrupt++; return; }
	}
	t->next = seq + 1;
}

static inline uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* latency histogram: identical buckets to ipc/harness.go */
#define HSUB 64
static int64_t hist[64 * HSUB], hist_n;
static uint64_t hist_max;
static int hidx(uint64_t v) {
	if (v < HSUB) return (int)v;
	int e = 64 - __builtin_clzll(v) - 7;
	return (e + 1) * HSUB + (int)(v >> e) - HSUB;
}
static uint64_t hval(int i) {
	if (i < HSUB) return i;
	int e = i / HSUB - 1;
	uint64_t m = i % HSUB + HSUB;
	return (m << e) + ((1ull << e) / 2);
}
static void hadd(uint64_t v) { hist[hidx(v)]++; hist_n++; if (v > hist_max) hist_max = v; }
static uint64_t hq(double q) {
	if (!hist_n) return 0;
	int64_t rank = (int64_t)(q * (hist_n - 1)) + 1, seen = 0;
	for (int i = 0; i < 64 * HSUB; i++) {
		seen += hist[i];
		if (seen >= rank) { uint64_t v = hval(i); return v < hist_max ? v : hist_max; }
	}
	return hist_max;
}

/* ---------------- ring (layout of ipc/ring.go) ---------------- */
enum { SPIN, YIELD, FUTEX, ADAPTIVE };
static int wait_mode = -1; /* -1: the transport's default */

#define OFF_TAIL 128
#define OFF_HEAD 256
#define OFF_CSLEEP 384
#define OFF_PSLEEP 512
#define RING_HDR 1024
#define WRAP (~0ull)

struct ring {
	uint8_t *data;
	uint64_t cap, mask, *tail, *head;
	uint32_t *csleep, *psleep;
	uint64_t ptail, cached_head, chead, cached_tail;
	uint64_t spin_ns; /* Adaptive: the current spin phase, as ipc's Ring.spinNs */
};

static void ring_init(struct ring *r, uint8_t *mem, uint64_t cap) {
	memset(r, 0, sizeof *r);
	r->data = mem + RING_HDR; r->cap = cap; r->mask = cap - 1;
	r->tail = (uint64_t *)(mem + OFF_TAIL); r->head = (uint64_t *)(mem + OFF_HEAD);
	r->csleep = (uint32_t *)(mem + OFF_CSLEEP); r->psleep = (uint32_t *)(mem + OFF_PSLEEP);
}

static inline uint64_t recsize(size_t n) { return 8 + ((n + 7) & ~7ull); }

/* capacity rule of ipc.defaultRingCapacity: 8 records, at most 4 MiB, at
 * least 2 records and 256 KiB */
static uint64_t ring_capacity(size_t size) {
	uint64_t rec = recsize(size), cap = 256 << 10, c8 = 1;
	while (cap < 2 * rec) cap <<= 1;
	while (c8 < 8 * rec) c8 <<= 1;
	if (c8 > (4 << 20)) c8 = 4 << 20;
	if (cap < c8) cap = c8;
	return cap;
}

/* shared futexes (not FUTEX_PRIVATE): the two ends are two processes */
static void futex_wait(uint32_t *a, uint32_t v) {
	struct timespec ts = {0, 50000000};
	syscall(SYS_futex, a, FUTEX_WAIT, v, &ts, 0, 0);
}
static void futex_wake(uint32_t *a) { syscall(SYS_futex, a, FUTEX_WAKE, 1, 0, 0, 0); }

static inline void publish(uint64_t *idx, uint64_t v, uint32_t *peer_sleep) {
	if (wait_mode == SPIN || wait_mode == YIELD) {
		__atomic_store_n(idx, v, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(idx, v, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(peer_sleep, __ATOMIC_SEQ_CST)) futex_wake((uint32_t *)idx);
}

static inline void ring_commit(struct ring *r) { publish(r->tail, r->ptail, r->csleep); }
static inline void ring_release(struct ring *r) { publish(r->head, r->chead, r->psleep); }

static inline uint8_t *try_claim(struct ring *r, size_t n) {
	uint64_t rec = recsize(n), pos = r->ptail & r->mask, need = rec;
	if (pos + rec > r->cap) need += r->cap - pos;
	if (r->ptail + need - r->cached_head > r->cap) {
		r->cached_head = __atomic_load_n(r->head, __ATOMIC_ACQUIRE);
		if (r->ptail + need - r->cached_head > r->cap) return NULL;
	}
	if (pos + rec > r->cap) {
		*(uint64_t *)(r->data + pos) = WRAP;
		r->ptail += r->cap - pos;
		pos = 0;
	}
	*(uint64_t *)(r->data + pos) = n;
	r->ptail += rec;
	return r->data + pos + 8;
}

static inline uint8_t *try_next(struct ring *r, size_t *len) {
	for (;;) {
		if (r->chead == r->cached_tail) {
			r->cached_tail = __atomic_load_n(r->tail, __ATOMIC_ACQUIRE);
			if (r->chead == r->cached_tail) return NULL;
		}
		uint64_t pos = r->chead & r->mask, h = *(uint64_t *)(r->data + pos);
		if (h == WRAP) { r->chead += r->cap - pos; continue; }
		r->chead += recsize(h);
		*len = h;
		return r->data + pos + 8;
	}
}

/* Wait until cond holds, with the steps of ipc/ring.go (Claim, Next and
 * waitFor): Spin and Adaptive first try 8 PAUSEs (shortSpin) without any
 * set-up; then Spin (pause), Yield (sched_yield), Futex (flag "I sleep",
 * re-check, FUTEX_WAIT on the low word of the peer's index, which the peer
 * wakes after it publishes), Adaptive (spin for r->spin_ns, 250 ns-4 us;
 * yield until 50 us from the start of the wait; then the futex; the spin
 * doubles after a wait of at most 4 us and halves after a longer one).
 * cond may have side effects (a claim): it is evaluated until it holds once. */
#define AD_MAX_SPIN 4000
#define AD_MIN_SPIN 250
#define AD_YIELD 50000
#define SHORT_SPIN 8
#define WAIT_UNTIL(r, cond, sleepflag, peeridx)                                        \
	do {                                                                           \
		int done_ = 0;                                                         \
		if (wait_mode == SPIN || wait_mode == ADAPTIVE)                        \
			for (int k_ = 0; k_ < SHORT_SPIN; k_++) {                      \
				__builtin_ia32_pause();                                \
				if (cond) { done_ = 1; break; }                        \
			}                                                              \
		if (done_) break;                                                      \
		uint64_t st_ = 0, waited_ = 0;                                         \
		if (wait_mode == ADAPTIVE) {                                           \
			st_ = now_ns();                                                \
			if (!(r)->spin_ns) (r)->spin_ns = AD_MAX_SPIN;                 \
		}                                                                      \
		for (int i_ = 0; !(cond); i_++) {                                      \
			int s_ = wait_mode;                                            \
			if (s_ == ADAPTIVE) {                                          \
				if ((i_ & 15) == 15) waited_ = now_ns() - st_;         \
				s_ = waited_ < (r)->spin_ns ? SPIN : waited_ < AD_YIELD ? YIELD : FUTEX; \
			}                                                              \
			if (s_ == SPIN) __builtin_ia32_pause();                        \
			else if (s_ == YIELD) sched_yield();                           \
			else {                                                         \
				__atomic_store_n(sleepflag, 1, __ATOMIC_SEQ_CST);      \
				uint32_t v_ = __atomic_load_n((uint32_t *)(peeridx), __ATOMIC_SEQ_CST); \
				if (cond) { __atomic_store_n(sleepflag, 0, __ATOMIC_SEQ_CST); break; } \
				futex_wait((uint32_t *)(peeridx), v_);                 \
				__atomic_store_n(sleepflag, 0, __ATOMIC_SEQ_CST);      \
			}                                                              \
		}                                                                      \
		if (wait_mode == ADAPTIVE) {                                           \
			if (now_ns() - st_ <= AD_MAX_SPIN)                             \
				(r)->spin_ns = 2 * (r)->spin_ns < AD_MAX_SPIN ? 2 * (r)->spin_ns : AD_MAX_SPIN; \
			else (r)->spin_ns = (r)->spin_ns / 2 > AD_MIN_SPIN ? (r)->spin_ns / 2 : AD_MIN_SPIN; \
		}                                                                      \
	} while (0)

static uint8_t *claim(struct ring *r, size_t n) {
	uint8_t *m = try_claim(r, n);
	if (m) return m;
	ring_commit(r);
	WAIT_UNTIL(r, (m = try_claim(r, n)) != NULL, r->psleep, r->head);
	return m;
}

static uint8_t *next(struct ring *r, size_t *len) {
	uint8_t *m = try_next(r, len);
	if (m) return m;
	ring_release(r);
	WAIT_UNTIL(r, (m = try_next(r, len)) != NULL, r->csleep, r->tail);
	return m;
}

static uint64_t ring_batch(struct ring *r) { uint64_t b = r->cap / 8; return b < (16 << 10) ? b : (16 << 10); }

/* ---------------- c-ring: the plain ring, the machine's limit ----------------
 * Fixed-size slots of the message size (rounded up to 8 bytes), counted in
 * messages; the same header layout (indices and sleep flags on their own
 * cache lines) and the same capacity as shm-ring; indices published every
 * ring_batch bytes. No header, no checksum, no check: lost and corrupt are 0
 * by construction. */
struct cring {
	struct ring r; /* tail/head/sleep words and spin_ns; counts, not bytes */
	uint64_t slot, nslots, pslot, cslot;
};

static void cring_init(struct cring *c, uint8_t *mem, uint64_t cap, size_t size) {
	ring_init(&c->r, mem, cap);
	c->slot = (size + 7) & ~7ull;
	c->nslots = cap / c->slot;
	c->pslot = c->cslot = 0;
}

/* keep a copy the compiler cannot prove unused */
static inline void escape(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

static inline void cring_put(struct cring *c, size_t size, const uint8_t *from) {
	struct ring *r = &c->r;
	if (r->ptail - r->cached_head >= c->nslots) {
		r->cached_head = __atomic_load_n(r->head, __ATOMIC_ACQUIRE);
		if (r->ptail - r->cached_head >= c->nslots) {
			ring_commit(r);
			WAIT_UNTIL(r, r->ptail - (r->cached_head = __atomic_load_n(r->head, __ATOMIC_ACQUIRE)) < c->nslots,
				   r->psleep, r->head);
		}
	}
	memcpy(r->data + c->pslot * c->slot, from, size);
	r->ptail++;
	if (++c->pslot == c->nslots) c->pslot = 0;
}

static inline void cring_get(struct cring *c, size_t size, uint8_t *to) {
	struct ring *r = &c->r;
	if (r->chead == r->cached_tail) {
		r->cached_tail = __atomic_load_n(r->tail, __ATOMIC_ACQUIRE);
		if (r->chead == r->cached_tail) {
			ring_release(r);
			WAIT_UNTIL(r, (r->cached_tail = __atomic_load_n(r->tail, __ATOMIC_ACQUIRE)) != r->chead,
				   r->csleep, r->tail);
		}
	}
	memcpy(to, r->data + c->cslot * c->slot, size);
	escape(to);
	r->chead++;
	if (++c->cslot == c->nslots) c->cslot = 0;
}

static uint64_t cring_batch(struct cring *c) {
	uint64_t b = ring_batch(&c->r) / c->slot;
	return b ? b : 1;
}

/* ---------------- descriptors and queues ---------------- */
enum { K_STREAM, K_PACKET, K_PMQ, K_SYSV };
struct conn {
	int kind, sock;  /* sock: send with MSG_NOSIGNAL */
	int rfd, wfd;    /* descriptors (mqd_t is one on Linux) */
	long out, in;    /* sysv-mq message types */
	uint8_t *rbuf, *sbuf;
	size_t rpos, rend;
};
#define STREAMBUF (64 << 10)
static struct conn cn;

static ssize_t put(const uint8_t *p, size_t n) {
	return cn.sock ? send(cn.wfd, p, n, MSG_NOSIGNAL) : write(cn.wfd, p, n);
}

static void write_all(const uint8_t *p, size_t n) {
	while (n > 0) {
		ssize_t k = put(p, n);
		if (k < 0) { if (errno == EINTR) continue; die("send"); }
		p += k; n -= k;
	}
}

struct msgb { long mtype; uint8_t text[]; };

static void c_send(const uint8_t *m, size_t n) {
	switch (cn.kind) {
	case K_STREAM: {
		uint32_t len = n;
		if (n + 4 <= STREAMBUF) {
			memcpy(cn.sbuf, &len, 4);
			memcpy(cn.sbuf + 4, m, n);
			write_all(cn.sbuf, n + 4);
			return;
		}
		/* header and message in one gathered write (ipc's writev) */
		struct iovec iov[2] = {{&len, 4}, {(void *)m, n}};
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
		while (mh.msg_iovlen > 0) {
			ssize_t k = cn.sock ? sendmsg(cn.wfd, &mh, MSG_NOSIGNAL) : writev(cn.wfd, mh.msg_iov, mh.msg_iovlen);
			if (k < 0) { if (errno == EINTR) continue; die("send"); }
			while (k > 0 && mh.msg_iovlen > 0) {
				size_t d = (size_t)k < mh.msg_iov[0].iov_len ? (size_t)k : mh.msg_iov[0].iov_len;
				mh.msg_iov[0].iov_base = (uint8_t *)mh.msg_iov[0].iov_base + d;
				mh.msg_iov[0].iov_len -= d;
				k -= d;
				if (mh.msg_iov[0].iov_len == 0) { mh.msg_iov++; mh.msg_iovlen--; }
			}
		}
		return;
	}
	case K_PACKET:
		for (;;) {
			ssize_t k = put(m, n);
			if (k == (ssize_t)n) return;
			if (k >= 0) { errno = EMSGSIZE; die("short datagram send"); }
			if (errno != EINTR) die("send");
		}
	case K_PMQ:
		while (mq_send(cn.wfd, (const char *)m, n, 0) != 0)
			if (errno != EINTR) die("mq_send");
		return;
	case K_SYSV: {
		struct msgb *b = (struct msgb *)cn.sbuf;
		b->mtype = cn.out;
		memcpy(b->text, m, n);
		while (msgsnd(msqid, b, n, 0) != 0)
			if (errno != EINTR) die("msgsnd");
		return;
	}
	}
}

static size_t fill_from(int fd, uint8_t *p, size_t n) {
	for (;;) {
		ssize_t k = read(fd, p, n);
		if (k > 0) return k;
		if (k == 0) fail(1, "receive: unexpected end of stream");
		if (errno != EINTR) die("read");
	}
}

static void more(void) {
	if (cn.rpos > 0) {
		memmove(cn.rbuf, cn.rbuf + cn.rpos, cn.rend - cn.rpos);
		cn.rend -= cn.rpos; cn.rpos = 0;
	}
	cn.rend += fill_from(cn.rfd, cn.rbuf + cn.rend, STREAMBUF - cn.rend);
}

/* receive one message into buf (room for size bytes); returns its length */
static size_t c_recv(uint8_t *buf, size_t size) {
	switch (cn.kind) {
	case K_PACKET:
		for (;;) {
			ssize_t k = recv(cn.rfd, buf, size, MSG_TRUNC);
			if (k > (ssize_t)size) fail(1, "a %zd-byte packet does not fit the %zu-byte buffer", k, size);
			if (k >= 0) return k;
			if (errno != EINTR) die("recv");
		}
	case K_PMQ:
		for (;;) {
			ssize_t k = mq_receive(cn.rfd, (char *)buf, size, 0);
			if (k >= 0) return k;
			if (errno != EINTR) die("mq_receive");
		}
	case K_SYSV: {
		struct msgb *b = (struct msgb *)cn.rbuf;
		for (;;) {
			ssize_t k = msgrcv(msqid, b, size, cn.in, 0);
			if (k >= 0) { memcpy(buf, b->text, k); return k; }
			if (errno != EINTR) die("msgrcv");
		}
	}
	}
	while (cn.rend - cn.rpos < 4) more();
	size_t n = ld32(cn.rbuf + cn.rpos), got;
	if (n > size) fail(1, "receive: a %zu-byte message does not fit the %zu-byte buffer", n, size);
	cn.rpos += 4;
	got = cn.rend - cn.rpos < n ? cn.rend - cn.rpos : n;
	memcpy(buf, cn.rbuf + cn.rpos, got);
	cn.rpos += got;
	while (got < n) {
		if (n - got >= STREAMBUF) { got += fill_from(cn.rfd, buf + got, n - got); continue; }
		more();
		size_t k = cn.rend - cn.rpos < n - got ? cn.rend - cn.rpos : n - got;
		memcpy(buf + got, cn.rbuf + cn.rpos, k);
		cn.rpos += k; got += k;
	}
	return n;
}

/* ipc's setPacketBuffers */
static void packet_buffers(int fd, size_t size) {
	int want = 2 * (int)size + 4096;
	if (want < 212992) want = 212992;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want)) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want)) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
}

/* ---------------- experiment ---------------- */
static const char *mode;
static size_t size;
static int pingpong;
static struct ring out_r, in_r; /* parent: out produces, in consumes; child reversed */
static struct cring out_c, in_c;
static int is_ring, is_cring, is_fifo;
static int cmd_w, rep_r, cmd_r, rep_w; /* control pipes */

struct cmd { int64_t count; };
struct rep { int64_t got, lost, corrupt; };

static void ctl_write(int fd, const void *p, size_t n) {
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0) { if (errno == EINTR) continue; die("control pipe"); }
		p = (const uint8_t *)p + k; n -= k;
	}
}

static void child_loop(void) {
	uint8_t *buf = malloc(size);
	struct cmd c;
	for (;;) {
		ssize_t k = read(cmd_r, &c, sizeof c);
		if (k != sizeof c) _exit(0); /* the parent is done: it removes the names */
		struct tally t = {0};
		char ready = 1;
		ctl_write(rep_w, &ready, 1);
		if (is_cring) {
			/* no checks: every message counts as received in order */
			uint64_t batch = cring_batch(&in_c), mark = in_c.r.chead;
			for (int64_t i = 0; i < c.count; i++) {
				cring_get(&in_c, size, buf);
				if (pingpong) {
					ring_release(&in_c.r);
					cring_put(&out_c, size, buf);
					ring_commit(&out_c.r);
				} else if (in_c.r.chead - mark >= batch) {
					ring_release(&in_c.r);
					mark = in_c.r.chead;
				}
			}
			ring_release(&in_c.r);
			t.got = c.count;
		} else if (is_ring) {
			/* child consumes in_r (parent's out) and produces out_r */
			uint64_t batch = ring_batch(&in_r), mark = in_r.chead;
			while ((int64_t)t.next < c.count) {
				size_t len;
				uint8_t *m = try_next(&in_r, &len);
				if (!m) { m = next(&in_r, &len); mark = in_r.chead - recsize(len); }
				/* like ipc (unless --zero-copy): the consumer copies each
				 * message into its own memory and checks the copy */
				memcpy(buf, m, len);
				see(&t, buf, len, size);
				if (pingpong) {
					uint8_t *o = claim(&out_r, len);
					memcpy(o, buf, len);
					ring_commit(&out_r);
					ring_release(&in_r);
					mark = in_r.chead;
				} else if (in_r.chead - mark >= batch) {
					ring_release(&in_r);
					mark = in_r.chead;
				}
			}
			ring_release(&in_r);
		} else {
			while ((int64_t)t.next < c.count) {
				size_t n = c_recv(buf, size);
				see(&t, buf, n, size);
				if (pingpong) c_send(buf, n);
			}
		}
		struct rep r = {t.got, t.lost, t.corrupt};
		ctl_write(rep_w, &r, sizeof r);
	}
}

struct trial { double secs; int64_t got, lost, corrupt; };

static struct trial run_trial(int64_t count) {
	struct cmd c = {count};
	struct tally t = {0};
	char ready;
	ctl_write(cmd_w, &c, sizeof c);
	if (read(rep_r, &ready, 1) != 1) die("waiting for the consumer");
	uint8_t *buf = malloc(size), *rbuf = malloc(size);
	uint64_t t0 = now_ns(), t1;
	if (is_cring && !pingpong) {
		uint64_t batch = cring_batch(&out_c), mark = out_c.r.ptail;
		for (int64_t i = 0; i < count; i++) {
			cring_put(&out_c, size, src + (i & 63));
			if (out_c.r.ptail - mark >= batch) { ring_commit(&out_c.r); mark = out_c.r.ptail; }
		}
		ring_commit(&out_c.r);
	} else if (is_cring) {
		for (int64_t i = 0; i < count; i++) {
			uint64_t s = now_ns();
			cring_put(&out_c, size, src + (i & 63));
			ring_commit(&out_c.r);
			cring_get(&in_c, size, rbuf);
			ring_release(&in_c.r);
			hadd(now_ns() - s);
		}
	} else if (is_ring && !pingpong) {
		uint64_t batch = ring_batch(&out_r), mark = out_r.ptail;
		for (int64_t i = 0; i < count; i++) {
			uint8_t *m = try_claim(&out_r, size);
			if (!m) { m = claim(&out_r, size); mark = out_r.ptail - recsize(size); }
			fill(m, size, (uint32_t)i);
			if (out_r.ptail - mark >= batch) { ring_commit(&out_r); mark = out_r.ptail; }
		}
		ring_commit(&out_r);
	} else if (is_ring) {
		for (int64_t i = 0; i < count; i++) {
			uint64_t s = now_ns();
			uint8_t *m = claim(&out_r, size);
			fill(m, size, (uint32_t)i);
			ring_commit(&out_r);
			size_t len;
			uint8_t *r = next(&in_r, &len);
			memcpy(rbuf, r, len);
			ring_release(&in_r);
			see(&t, rbuf, len, size);
			hadd(now_ns() - s);
		}
	} else {
		for (int64_t i = 0; i < count; i++) {
			uint64_t s = now_ns();
			fill(buf, size, (uint32_t)i);
			c_send(buf, size);
			if (pingpong) {
				size_t n = c_recv(rbuf, size);
				see(&t, rbuf, n, size);
				hadd(now_ns() - s);
			}
		}
	}
	t1 = now_ns();
	struct rep r;
	if (read(rep_r, &r, sizeof r) != sizeof r) die("waiting for the consumer's report");
	uint64_t t2 = now_ns();
	free(buf); free(rbuf);
	struct trial tr = {(pingpong ? t1 - t0 : t2 - t0) / 1e9, r.got, r.lost + t.lost, r.corrupt + t.corrupt};
	return tr;
}

static int cmpd(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return (x > y) - (x < y); }

/* print the CSV line and let the consumer go */
static void report(double *rates, int trials, int64_t lost, int64_t corrupt) {
	qsort(rates, trials, sizeof rates[0], cmpd);
	double med = trials % 2 ? rates[trials / 2] : (rates[trials / 2 - 1] + rates[trials / 2]) / 2;
	printf("%s,%s,%zu,%.1f,%.1f,%.1f,%.1f,%llu,%llu,%lld,%lld\n", transport, mode, size, med, med * size,
	       rates[0], rates[trials - 1], (unsigned long long)(pingpong ? hq(0.5) : 0),
	       (unsigned long long)(pingpong ? hq(0.99) : 0), (long long)lost, (long long)corrupt);
	fflush(stdout);
	ending = 1;
	close(cmd_w);
	waitpid(child_pid, 0, 0);
}

static const char *known[] = {"shm-ring", "c-ring", "pipe", "fifo", "unix-stream", "unix-seqpacket",
			      "unix-dgram", "tcp", "posix-mq", "sysv-mq", 0};

/* a path for a name of this run: $TMPDIR or /tmp, ipclab-probe-PID-TAG */
static char *new_path(int slot, const char *tag) {
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir) dir = "/tmp";
	int n = snprintf(paths[slot], sizeof paths[slot], "%s/ipclab-probe-%d-%s", dir, getpid(), tag);
	if (n < 0 || n >= (int)sizeof paths[slot]) { paths[slot][0] = 0; errno = ENAMETOOLONG; die("socket path"); }
	return paths[slot];
}
static void forget_path(int slot) { unlink(paths[slot]); paths[slot][0] = 0; }

static struct sockaddr_un unix_addr(const char *path) {
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	return sa;
}

/* connected socket pairs through a listener on a path, as ipc does (not
 * socketpair: the same kernel paths as a client and a server) */
static void unix_listen_pair(int type, int *near, int *far) {
	char *path = new_path(0, "sock");
	struct sockaddr_un sa = unix_addr(path);
	int l = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (l < 0) die("socket");
	if (bind(l, (void *)&sa, sizeof sa) || listen(l, 8)) die("listen");
	int c = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (c < 0) die("socket");
	if (type == SOCK_SEQPACKET) packet_buffers(c, size);
	if (connect(c, (void *)&sa, sizeof sa)) die("connect");
	int a = accept4(l, 0, 0, SOCK_CLOEXEC);
	if (a < 0) die("accept");
	if (type == SOCK_SEQPACKET) packet_buffers(a, size);
	close(l);
	forget_path(0);
	*near = a; *far = c;
}

static void open_mq(int slot, const char *tag, int *fd) {
	long depth = read_long("/proc/sys/fs/mqueue/msg_max", 10);
	struct mq_attr attr = {.mq_maxmsg = depth, .mq_msgsize = (long)size};
	snprintf(mqnames[slot], sizeof mqnames[slot], "/ipclab-probe-%d-%s", getpid(), tag);
	mqd_t q = mq_open(mqnames[slot], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
	if (q == (mqd_t)-1) {
		int e = errno;
		mqnames[slot][0] = 0;
		if (e == ENOSYS) fail(3, "mq_open: %s: this kernel has no POSIX message queues", strerror(e));
		if (e == EINVAL || e == EMFILE || e == ENOMEM || e == ENOSPC) {
			struct rlimit rl = {0};
			getrlimit(RLIMIT_MSGQUEUE, &rl);
			fail(3, "queue of %ld messages of %zu bytes: %s (OS limits: /proc/sys/fs/mqueue/msgsize_max = %ld, "
				"/proc/sys/fs/mqueue/msg_max = %ld, queues_max = %ld, RLIMIT_MSGQUEUE = %llu bytes for all queues of the user)",
			     depth, size, strerror(e), read_long("/proc/sys/fs/mqueue/msgsize_max", -1), depth,
			     read_long("/proc/sys/fs/mqueue/queues_max", -1), (unsigned long long)rl.rlim_cur);
		}
		errno = e;
		die("mq_open");
	}
	*fd = (int)q;
}

int main(int argc, char **argv) {
	if (argc == 2 && !strcmp(argv[1], "list")) {
		for (int i = 0; known[i]; i++) puts(known[i]);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "sum")) { /* probe sum SIZE SEQ: the checksum of message SEQ */
		size = strtoul(argv[2], 0, 10);
		uint32_t seq = strtoul(argv[3], 0, 10);
		make_source(size);
		uint8_t *m = malloc(size);
		fill(m, size, seq);
		printf("%u\n", ld32(m + 4));
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "cost")) {
		/* probe cost SIZE N: produce and consume N messages on one thread, in
		 * batches, through a ring: the per-message work without any waiting
		 * (compare: go test -bench RingCost ./ipc) */
		size = strtoul(argv[2], 0, 10);
		long n = atol(argv[3]);
		make_source(size);
		uint64_t rec = recsize(size), cap = 256 << 10;
		while (cap < 2 * rec) cap <<= 1;
		uint8_t *mem = aligned_alloc(4096, RING_HDR + cap);
		memset(mem, 0, RING_HDR + cap);
		struct ring p, c;
		ring_init(&p, mem, cap);
		ring_init(&c, mem, cap);
		wait_mode = SPIN; /* as go test -bench RingCost */
		struct tally t = {0};
		uint64_t batch = ring_batch(&p), t0 = now_ns();
		for (long i = 0; i < n;) {
			uint64_t mark = p.ptail;
			for (; i < n && p.ptail - mark < batch; i++) fill(try_claim(&p, size), size, (uint32_t)i);
			ring_commit(&p);
			size_t len;
			uint8_t *m;
			while ((m = try_next(&c, &len)) != NULL) see(&t, m, len, size);
			ring_release(&c);
		}
		printf("%.2f ns/msg lost %lld corrupt %lld\n", (double)(now_ns() - t0) / n, (long long)t.lost, (long long)t.corrupt);
		return 0;
	}
	if (argc < 6) {
		fprintf(stderr, "usage: probe TRANSPORT MODE SIZE DURATION_S|cCOUNT TRIALS [spin|yield|futex|adaptive [pin]]\n"
				"       probe list | probe sum SIZE SEQ | probe cost SIZE N\n");
		return 2;
	}
	transport = argv[1]; mode = argv[2]; size = strtoul(argv[3], 0, 10);
	/* DURATION_S, or cN: N messages per trial (as ipclab bench --count) */
	double duration = argv[4][0] == 'c' ? 0 : atof(argv[4]);
	int64_t fixed = argv[4][0] == 'c' ? atoll(argv[4] + 1) : 0;
	if (argv[4][0] == 'c' && fixed < 1) fail(2, "bad count %s (cN, N >= 1)", argv[4]);
	if (argv[4][0] != 'c' && !(duration > 0)) fail(2, "bad duration %s (seconds, or cN for N messages)", argv[4]);
	int trials = atoi(argv[5]);
	int ok = 0;
	for (int i = 0; known[i]; i++) ok |= !strcmp(transport, known[i]);
	if (!ok) {
		fprintf(stderr, "probe: unknown transport %s (it knows:", transport);
		for (int i = 0; known[i]; i++) fprintf(stderr, " %s", known[i]);
		fprintf(stderr, ")\n");
		return 2;
	}
	if (strcmp(mode, "stream") && strcmp(mode, "pingpong")) fail(2, "unknown mode %s (stream or pingpong)", mode);
	if (argc > 6) {
		if (!strcmp(argv[6], "spin")) wait_mode = SPIN;
		else if (!strcmp(argv[6], "yield")) wait_mode = YIELD;
		else if (!strcmp(argv[6], "futex")) wait_mode = FUTEX;
		else if (!strcmp(argv[6], "adaptive")) wait_mode = ADAPTIVE;
		else fail(2, "unknown wait %s (spin, yield, futex or adaptive)", argv[6]);
	}
	int pin = argc > 7 && !strcmp(argv[7], "pin");
	pingpong = !strcmp(mode, "pingpong");
	if (size < HEADER) fail(2, "size must be >= %d", HEADER);
	if (trials < 1) trials = 1;
	make_source(size);
	signal(SIGPIPE, SIG_IGN);
	atexit(parent_atexit);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	int cp[2], rp[2];
	if (pipe2(cp, O_CLOEXEC) || pipe2(rp, O_CLOEXEC)) die("pipe");
	cmd_r = cp[0]; cmd_w = cp[1]; rep_r = rp[0]; rep_w = rp[1];
	/* each side's conn: the parent's (near) and the child's (far) */
	struct conn near = {0}, far = {0};
	near.rfd = near.wfd = far.rfd = far.wfd = -1;
	if (!strcmp(transport, "shm-ring") || !strcmp(transport, "c-ring")) {
		is_cring = !strcmp(transport, "c-ring");
		is_ring = !is_cring;
		if (wait_mode < 0) wait_mode = is_cring ? SPIN : ADAPTIVE;
		uint64_t cap = ring_capacity(size);
		size_t half = RING_HDR + cap;
		uint8_t *mem = mmap(0, 2 * half, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (mem == MAP_FAILED) die("mmap");
		if (is_cring) {
			cring_init(&out_c, mem, cap, size);
			cring_init(&in_c, mem + half, cap, size);
		} else {
			ring_init(&out_r, mem, cap);
			ring_init(&in_r, mem + half, cap);
		}
	} else if (!strcmp(transport, "pipe")) {
		int p2c[2], c2p[2];
		if (pipe2(p2c, O_CLOEXEC) || pipe2(c2p, O_CLOEXEC)) die("pipe");
		near.rfd = c2p[0]; near.wfd = p2c[1];
		far.rfd = p2c[0]; far.wfd = c2p[1];
	} else if (!strcmp(transport, "fifo")) {
		/* opened after the fork, each side in the same order (an open
		 * blocks until the other end is opened too) */
		new_path(0, "fifo-a"); new_path(1, "fifo-b");
		for (int i = 0; i < 2; i++)
			if (mkfifo(paths[i], 0600)) { int e = errno; paths[i][0] = 0; errno = e; die("mkfifo"); }
		is_fifo = 1;
	} else if (!strcmp(transport, "unix-stream")) {
		int a, c;
		unix_listen_pair(SOCK_STREAM, &a, &c);
		near.rfd = near.wfd = c; far.rfd = far.wfd = a;
		near.sock = far.sock = 1;
	} else if (!strcmp(transport, "unix-seqpacket")) {
		int a, c;
		unix_listen_pair(SOCK_SEQPACKET, &a, &c);
		near.rfd = near.wfd = c; far.rfd = far.wfd = a;
		near.sock = far.sock = 1;
		near.kind = far.kind = K_PACKET;
	} else if (!strcmp(transport, "unix-dgram")) {
		/* two bound datagram sockets, each connected to the other */
		struct sockaddr_un sa = unix_addr(new_path(0, "dg-a")), sb = unix_addr(new_path(1, "dg-b"));
		int a = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), b = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (a < 0 || b < 0) die("socket");
		packet_buffers(a, size);
		packet_buffers(b, size);
		if (bind(a, (void *)&sa, sizeof sa) || bind(b, (void *)&sb, sizeof sb)) die("bind");
		if (connect(a, (void *)&sb, sizeof sb) || connect(b, (void *)&sa, sizeof sa)) die("connect");
		forget_path(0); forget_path(1); /* connected: the names are no longer needed */
		near.rfd = near.wfd = a; far.rfd = far.wfd = b;
		near.sock = far.sock = 1;
		near.kind = far.kind = K_PACKET;
	} else if (!strcmp(transport, "tcp")) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t sl = sizeof sa;
		int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
		if (l < 0) die("socket");
		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(l, (void *)&sa, sizeof sa) || listen(l, 8) || getsockname(l, (void *)&sa, &sl)) die("listen");
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0) die("socket");
		if (connect(c, (void *)&sa, sizeof sa)) die("connect");
		int a = accept4(l, 0, 0, SOCK_CLOEXEC);
		if (a < 0) die("accept");
		close(l);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		near.rfd = near.wfd = c; far.rfd = far.wfd = a;
		near.sock = far.sock = 1;
	} else if (!strcmp(transport, "posix-mq")) {
		int qa, qb; /* a: parent to child, b: back */
		open_mq(0, "mq-a", &qa);
		open_mq(1, "mq-b", &qb);
		/* both processes inherit the descriptors: the names can go now */
		mq_unlink(mqnames[0]); mqnames[0][0] = 0;
		mq_unlink(mqnames[1]); mqnames[1][0] = 0;
		near.wfd = qa; near.rfd = qb; far.rfd = qa; far.wfd = qb;
		near.kind = far.kind = K_PMQ;
	} else if (!strcmp(transport, "sysv-mq")) {
		long msgmax = read_long("/proc/sys/kernel/msgmax", -1), msgmnb = read_long("/proc/sys/kernel/msgmnb", -1);
		if (msgmax > 0 && (long)size > msgmax)
			fail(3, "%zu-byte messages: the OS limit /proc/sys/kernel/msgmax is %ld bytes", size, msgmax);
		if (msgmnb > 0 && (long)size > msgmnb)
			fail(3, "%zu-byte messages: the OS limit /proc/sys/kernel/msgmnb (bytes per queue) is %ld", size, msgmnb);
		int id = msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600);
		if (id < 0) {
			if (errno == ENOSYS) fail(3, "msgget: %s: this kernel has no System V message queues", strerror(errno));
			die("msgget");
		}
		msqid = id;
		near.out = far.in = 1;
		near.in = far.out = 2;
		near.kind = far.kind = K_SYSV;
	}
	if (near.kind == K_STREAM) {
		near.rbuf = far.rbuf = malloc(STREAMBUF);
		near.sbuf = far.sbuf = malloc(STREAMBUF);
	} else if (near.kind == K_SYSV) {
		near.rbuf = far.rbuf = malloc(sizeof(long) + size);
		near.sbuf = far.sbuf = malloc(sizeof(long) + size);
	}
	signal(SIGCHLD, on_child);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pin) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(pid == 0 ? 1 : 0, &set);
		sched_setaffinity(0, sizeof set, &set);
	}
	if (pid == 0) {
		/* the consumer: if the parent is killed, remove the names it would have */
		is_parent = 0;
		signal(SIGCHLD, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent) { cleanup(); _exit(1); }
		close(cmd_w); close(rep_r);
		if (is_ring) { struct ring t = out_r; out_r = in_r; in_r = t; }
		if (is_cring) { struct cring t = out_c; out_c = in_c; in_c = t; }
		if (near.rfd >= 0 && near.rfd != far.rfd && near.rfd != far.wfd) close(near.rfd);
		if (near.wfd >= 0 && near.wfd != near.rfd && near.wfd != far.rfd && near.wfd != far.wfd) close(near.wfd);
		cn = far;
		if (is_fifo) {
			if ((cn.rfd = open(paths[0], O_RDONLY | O_CLOEXEC)) < 0) die("open FIFO for reading");
			if ((cn.wfd = open(paths[1], O_WRONLY | O_CLOEXEC)) < 0) die("open FIFO for writing");
		}
		child_loop();
		_exit(0);
	}
	child_pid = pid;
	close(cmd_r); close(rep_w);
	if (far.rfd >= 0 && far.rfd != near.rfd && far.rfd != near.wfd) close(far.rfd);
	if (far.wfd >= 0 && far.wfd != far.rfd && far.wfd != near.rfd && far.wfd != near.wfd) close(far.wfd);
	cn = near;
	if (is_fifo) {
		if ((cn.wfd = open(paths[0], O_WRONLY | O_CLOEXEC)) < 0) die("open FIFO for writing");
		if ((cn.rfd = open(paths[1], O_RDONLY | O_CLOEXEC)) < 0) die("open FIFO for reading");
		forget_path(0); forget_path(1); /* both ends are open */
	}

	int64_t count, lost = 0, corrupt = 0;
	struct trial tr;
	if (fixed > 0) { /* a count, as ipclab bench --count: one warm-up run of count/10 */
		tr = run_trial(fixed / 10 > 0 ? fixed / 10 : 1);
		lost = tr.lost; corrupt = tr.corrupt;
		count = fixed;
	} else { /* warm-up and calibration, as ipc/experiment.go */
		double warm = duration / 4;
		if (warm < 0.05) warm = 0.05;
		if (warm > 0.5) warm = 0.5;
		int64_t n = (4 << 20) / size;
		if (n > 1000) n = 1000;
		if (n < 1) n = 1;
		double spent = 0;
		for (;;) {
			tr = run_trial(n);
			spent += tr.secs;
			if (tr.secs >= warm || spent >= 2 * warm) break;
			double g = tr.secs > 0 ? 1.3 * warm / tr.secs : 2;
			if (g < 2) g = 2;
			if (g > 100) g = 100;
			n = (int64_t)(n * g);
		}
		count = (int64_t)(tr.got / tr.secs * duration);
		if (count < 1) count = 1;
	}
	memset(hist, 0, sizeof hist); hist_n = 0; hist_max = 0;
	double rates[64];
	if (trials > 64) trials = 64;
	for (int i = 0; i < trials; i++) {
		tr = run_trial(count);
		rates[i] = count / tr.secs;
		lost += tr.lost; corrupt += tr.corrupt;
	}
	report(rates, trials, lost, corrupt);
	return lost || corrupt ? 1 : 0;
}
