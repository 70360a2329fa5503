/*
 * probe.c — the C baseline for `ipclab bench --compare`.
 *
 * It does what the Go harness in ../ipc does, with the same wire format
 * (8-byte header: 32-bit sequence number and 32-bit sum64 checksum, payload
 * copied from a pseudo-random block at an offset that changes per message),
 * the same ring layout and publishing policy, the same stream framing
 * (4-byte length prefix, one write per message, buffered reads), the same
 * calibration (warm-up, then as many messages as fit the duration) and the
 * same timing (stream: first send until the consumer reports its count;
 * pingpong: clock per round trip). Producer = parent, consumer = a forked
 * child, as plain C would do it: blocking descriptors, fork, a shared
 * anonymous mapping.
 *
 *   probe TRANSPORT MODE SIZE DURATION_S TRIALS [WAIT [pin]]
 *     pin: producer on CPU 0, consumer on CPU 1 (as ipclab bench --pin)
 *   probe sum SIZE SEQ     (prints the checksum of message SEQ; tests compare it with Go's)
 *   probe cost SIZE N      (one thread: produce and consume N messages, ns per message)
 *     TRANSPORT: shm-ring pipe unix-stream tcp
 *     MODE:      stream pingpong
 *     WAIT:      spin yield futex adaptive (shm-ring; default adaptive)
 *
 * Output, one CSV line: transport,mode,size,msgs_per_s,bytes_per_s,
 * min_msgs_per_s,max_msgs_per_s,rtt_p50_ns,rtt_p99_ns,lost,corrupt
 *
 * Build: gcc -O2 -o probe probe.c   (see Makefile)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HEADER 8
#define P1 0x9E3779B97F4A7C15ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull

static void die(const char *what) { perror(what); exit(1); }

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
static int wait_mode = ADAPTIVE;

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
};

static void ring_init(struct ring *r, uint8_t *mem, uint64_t cap) {
	memset(r, 0, sizeof *r);
	r->data = mem + RING_HDR; r->cap = cap; r->mask = cap - 1;
	r->tail = (uint64_t *)(mem + OFF_TAIL); r->head = (uint64_t *)(mem + OFF_HEAD);
	r->csleep = (uint32_t *)(mem + OFF_CSLEEP); r->psleep = (uint32_t *)(mem + OFF_PSLEEP);
}

static inline uint64_t recsize(size_t n) { return 8 + ((n + 7) & ~7ull); }

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

/* wait until ready; same strategy steps as ipc/ring.go waitFor */
#define WAIT_UNTIL(cond, sleepflag, peeridx)                                     \
	for (int i_ = 0; !(cond); i_++) {                                          \
		int s_ = wait_mode;                                                \
		if (s_ == ADAPTIVE) s_ = i_ < 4000 ? SPIN : i_ < 4100 ? YIELD : FUTEX; \
		if (s_ == SPIN) __builtin_ia32_pause();                            \
		else if (s_ == YIELD) sched_yield();                               \
		else {                                                             \
			__atomic_store_n(sleepflag, 1, __ATOMIC_SEQ_CST);          \
			uint32_t v_ = __atomic_load_n((uint32_t *)(peeridx), __ATOMIC_SEQ_CST); \
			if (cond) { __atomic_store_n(sleepflag, 0, __ATOMIC_SEQ_CST); break; } \
			futex_wait((uint32_t *)(peeridx), v_);                     \
			__atomic_store_n(sleepflag, 0, __ATOMIC_SEQ_CST);          \
		}                                                                  \
	}

static uint8_t *claim(struct ring *r, size_t n) {
	uint8_t *m = try_claim(r, n);
	if (m) return m;
	ring_commit(r);
	WAIT_UNTIL((m = try_claim(r, n)) != NULL, r->psleep, r->head);
	return m;
}

static uint8_t *next(struct ring *r, size_t *len) {
	uint8_t *m = try_next(r, len);
	if (m) return m;
	ring_release(r);
	WAIT_UNTIL((m = try_next(r, len)) != NULL, r->csleep, r->tail);
	return m;
}

static uint64_t ring_batch(struct ring *r) { uint64_t b = r->cap / 8; return b < (16 << 10) ? b : (16 << 10); }

/* ---------------- framed byte streams ---------------- */
struct stream { int rfd, wfd; uint8_t *rbuf, *sbuf; size_t rpos, rend; };
#define STREAMBUF (64 << 10)

static void write_all(int fd, const uint8_t *p, size_t n) {
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0) { if (errno == EINTR) continue; die("write"); }
		p += k; n -= k;
	}
}

static void s_send(struct stream *s, const uint8_t *m, size_t n) {
	uint32_t len = n;
	if (n + 4 <= STREAMBUF) {
		memcpy(s->sbuf, &len, 4);
		memcpy(s->sbuf + 4, m, n);
		write_all(s->wfd, s->sbuf, n + 4);
		return;
	}
	write_all(s->wfd, (uint8_t *)&len, 4);
	write_all(s->wfd, m, n);
}

static size_t fill_from(int fd, uint8_t *p, size_t n) {
	for (;;) {
		ssize_t k = read(fd, p, n);
		if (k > 0) return k;
		if (k == 0) { fprintf(stderr, "probe: unexpected EOF\n"); exit(1); }
		if (errno != EINTR) die("read");
	}
}

static void more(struct stream *s) {
	if (s->rpos > 0) {
		memmove(s->rbuf, s->rbuf + s->rpos, s->rend - s->rpos);
		s->rend -= s->rpos; s->rpos = 0;
	}
	s->rend += fill_from(s->rfd, s->rbuf + s->rend, STREAMBUF - s->rend);
}

static size_t s_recv(struct stream *s, uint8_t *buf) {
	while (s->rend - s->rpos < 4) more(s);
	size_t n = ld32(s->rbuf + s->rpos), got;
	s->rpos += 4;
	got = s->rend - s->rpos < n ? s->rend - s->rpos : n;
	memcpy(buf, s->rbuf + s->rpos, got);
	s->rpos += got;
	while (got < n) {
		if (n - got >= STREAMBUF) { got += fill_from(s->rfd, buf + got, n - got); continue; }
		more(s);
		size_t k = s->rend - s->rpos < n - got ? s->rend - s->rpos : n - got;
		memcpy(buf + got, s->rbuf + s->rpos, k);
		s->rpos += k; got += k;
	}
	return n;
}

/* ---------------- experiment ---------------- */
static const char *transport, *mode;
static size_t size;
static int pingpong;
static struct ring out_r, in_r; /* parent: out produces, in consumes; child reversed */
static struct stream st;
static int is_ring;
static int cmd_w, rep_r, cmd_r, rep_w; /* control pipes */

struct cmd { int64_t count; };
struct rep { int64_t got, lost, corrupt; };

static void child_loop(void) {
	uint8_t *buf = malloc(size);
	struct cmd c;
	for (;;) {
		ssize_t k = read(cmd_r, &c, sizeof c);
		if (k != sizeof c) exit(0);
		struct tally t = {0};
		char ready = 1;
		write_all(rep_w, (uint8_t *)&ready, 1);
		if (is_ring) {
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
				size_t n = s_recv(&st, buf);
				see(&t, buf, n, size);
				if (pingpong) s_send(&st, buf, n);
			}
		}
		struct rep r = {t.got, t.lost, t.corrupt};
		write_all(rep_w, (uint8_t *)&r, sizeof r);
	}
}

struct trial { double secs; int64_t got, lost, corrupt; };

static struct trial run_trial(int64_t count) {
	struct cmd c = {count};
	struct tally t = {0};
	char ready;
	write_all(cmd_w, (uint8_t *)&c, sizeof c);
	if (read(rep_r, &ready, 1) != 1) die("ready");
	uint8_t *buf = malloc(size), *rbuf = malloc(size);
	uint64_t t0 = now_ns(), t1;
	if (is_ring && !pingpong) {
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
			s_send(&st, buf, size);
			if (pingpong) {
				size_t n = s_recv(&st, rbuf);
				see(&t, rbuf, n, size);
				hadd(now_ns() - s);
			}
		}
	}
	t1 = now_ns();
	struct rep r;
	if (read(rep_r, &r, sizeof r) != sizeof r) die("report");
	uint64_t t2 = now_ns();
	free(buf); free(rbuf);
	struct trial tr = {(pingpong ? t1 - t0 : t2 - t0) / 1e9, r.got, r.lost + t.lost, r.corrupt + t.corrupt};
	return tr;
}

static int cmpd(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
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
		fprintf(stderr, "usage: probe TRANSPORT MODE SIZE DURATION_S TRIALS [spin|yield|futex|adaptive]\n");
		return 2;
	}
	transport = argv[1]; mode = argv[2]; size = strtoul(argv[3], 0, 10);
	double duration = atof(argv[4]);
	int trials = atoi(argv[5]);
	if (argc > 6) {
		if (!strcmp(argv[6], "spin")) wait_mode = SPIN;
		else if (!strcmp(argv[6], "yield")) wait_mode = YIELD;
		else if (!strcmp(argv[6], "futex")) wait_mode = FUTEX;
	}
	int pin = argc > 7 && !strcmp(argv[7], "pin");
	pingpong = !strcmp(mode, "pingpong");
	if (size < HEADER) { fprintf(stderr, "size must be >= 8\n"); return 2; }
	make_source(size);
	signal(SIGPIPE, SIG_IGN);

	int p2c[2], c2p[2], cp[2], rp[2];
	if (pipe(cp) || pipe(rp)) die("pipe");
	cmd_r = cp[0]; cmd_w = cp[1]; rep_r = rp[0]; rep_w = rp[1];
	int child_fds[2] = {-1, -1}, parent_fds[2] = {-1, -1};
	if (!strcmp(transport, "shm-ring")) {
		is_ring = 1;
		/* capacity rule of ipc.defaultRingCapacity: 8 records, at most
		 * 4 MiB, at least 2 records and 256 KiB */
		uint64_t rec = recsize(size), cap = 256 << 10, c8 = 1;
		while (cap < 2 * rec) cap <<= 1;
		while (c8 < 8 * rec) c8 <<= 1;
		if (c8 > (4 << 20)) c8 = 4 << 20;
		if (cap < c8) cap = c8;
		size_t half = RING_HDR + cap;
		uint8_t *mem = mmap(0, 2 * half, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (mem == MAP_FAILED) die("mmap");
		ring_init(&out_r, mem, cap);
		ring_init(&in_r, mem + half, cap);
	} else if (!strcmp(transport, "pipe")) {
		if (pipe(p2c) || pipe(c2p)) die("pipe");
		parent_fds[0] = c2p[0]; parent_fds[1] = p2c[1];
		child_fds[0] = p2c[0]; child_fds[1] = c2p[1];
	} else if (!strcmp(transport, "unix-stream")) {
		char path[108];
		snprintf(path, sizeof path, "/tmp/ipclab-probe-%d.sock", getpid());
		unlink(path);
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		strcpy(sa.sun_path, path);
		int l = socket(AF_UNIX, SOCK_STREAM, 0);
		if (bind(l, (void *)&sa, sizeof sa) || listen(l, 1)) die("listen");
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (void *)&sa, sizeof sa)) die("connect");
		int a = accept(l, 0, 0);
		close(l); unlink(path);
		parent_fds[0] = parent_fds[1] = c;
		child_fds[0] = child_fds[1] = a;
	} else if (!strcmp(transport, "tcp")) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t sl = sizeof sa;
		int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		if (bind(l, (void *)&sa, sizeof sa) || listen(l, 1) || getsockname(l, (void *)&sa, &sl)) die("listen");
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (void *)&sa, sizeof sa)) die("connect");
		int a = accept(l, 0, 0);
		close(l);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		parent_fds[0] = parent_fds[1] = c;
		child_fds[0] = child_fds[1] = a;
	} else {
		fprintf(stderr, "probe: unknown transport %s\n", transport);
		return 2;
	}
	st.rbuf = malloc(STREAMBUF); st.sbuf = malloc(STREAMBUF);
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pin) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(pid == 0 ? 1 : 0, &set);
		sched_setaffinity(0, sizeof set, &set);
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(cmd_w); close(rep_r);
		if (is_ring) { struct ring t = out_r; out_r = in_r; in_r = t; }
		else {
			if (parent_fds[0] != child_fds[0]) close(parent_fds[0]);
			if (parent_fds[1] != parent_fds[0] && parent_fds[1] != child_fds[1]) close(parent_fds[1]);
			st.rfd = child_fds[0]; st.wfd = child_fds[1];
		}
		child_loop();
		return 0;
	}
	close(cmd_r); close(rep_w);
	if (!is_ring) {
		st.rfd = parent_fds[0]; st.wfd = parent_fds[1];
		if (child_fds[0] != parent_fds[0]) close(child_fds[0]);
		if (child_fds[1] != child_fds[0] && child_fds[1] != parent_fds[1]) close(child_fds[1]);
	}

	/* warm-up and calibration, as ipc/experiment.go */
	double warm = duration / 4;
	if (warm < 0.05) warm = 0.05;
	if (warm > 0.5) warm = 0.5;
	int64_t n = (4 << 20) / size;
	if (n > 1000) n = 1000;
	if (n < 1) n = 1;
	double spent = 0;
	struct trial tr;
	for (;;) {
		tr = run_trial(n);
		spent += tr.secs;
		if (tr.secs >= warm || spent >= 2 * warm) break;
		double g = tr.secs > 0 ? 1.3 * warm / tr.secs : 2;
		if (g < 2) g = 2;
		if (g > 100) g = 100;
		n = (int64_t)(n * g);
	}
	int64_t count = (int64_t)(tr.got / tr.secs * duration);
	if (count < 1) count = 1;
	memset(hist, 0, sizeof hist); hist_n = 0; hist_max = 0;
	double rates[64];
	int64_t lost = 0, corrupt = 0;
	if (trials > 64) trials = 64;
	for (int i = 0; i < trials; i++) {
		tr = run_trial(count);
		rates[i] = count / tr.secs;
		lost += tr.lost; corrupt += tr.corrupt;
	}
	qsort(rates, trials, sizeof rates[0], cmpd);
	double med = trials % 2 ? rates[trials / 2] : (rates[trials / 2 - 1] + rates[trials / 2]) / 2;
	printf("%s,%s,%zu,%.1f,%.1f,%.1f,%.1f,%llu,%llu,%lld,%lld\n", transport, mode, size, med, med * size,
	       rates[0], rates[trials - 1], (unsigned long long)(pingpong ? hq(0.5) : 0),
	       (unsigned long long)(pingpong ? hq(0.99) : 0), (long long)lost, (long long)corrupt);
	close(cmd_w);
	waitpid(pid, 0, 0);
	return lost || corrupt ? 1 : 0;
}
