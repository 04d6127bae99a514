/*
 * memtrace malloc interposer: loaded with LD_PRELOAD, records every malloc, calloc, realloc,
 * free, posix_memalign, aligned_alloc, memalign, valloc, pvalloc (and, on request, anonymous
 * mmap/munmap) of a process into per-thread buffers flushed to a binary file.
 *
 * Configuration comes from the environment (set by `memtrace malloc`):
 *   MEMTRACE_MALLOC_OUT    the output path of the first process; other processes write PATH.PID
 *   MEMTRACE_MALLOC_RUN    a run id (decimal), so stale files of an earlier run are truncated
 *   MEMTRACE_MALLOC_FLAGS  bit 0 stacks, bit 1 count only, bit 2 no follow, bit 3 mmap,
 *                          bit 4 aggregate (no events: per-site counters and the live set
 *                          kept here, written as AGG chunks; see "aggregated mode" below)
 *   MEMTRACE_MALLOC_MIN    drop events of smaller blocks (bytes)
 *   MEMTRACE_MALLOC_DIR    a private directory (mode 0700, made by memtrace): node's perf map
 *                          (/tmp/perf-PID.map) and, with MEMTRACE_MALLOC_V8LOG=1, the
 *                          isolate-*-v8.log that node 20 writes beside it are opened there instead
 *                          (with MEMTRACE_MALLOC_PERFMAP=1: maps memtrace asked for);
 *                          opening DIR/mark-LABEL places a mark (memtrace's node preload does)
 *
 * File: "MTMALLOC" u32 version u32 0, then chunks {u32 type, u32 length, payload}; see
 * src/tools/malloc/format.ts for the reader. All integers little endian.
 *
 * Rules followed here: nothing in the recording path allocates through malloc; a per-thread
 * guard makes calls made by the recorder itself (and by dlsym, pthread_getattr_np) pass
 * through unrecorded; buffers are mmap'd, never on the stack or in a large static TLS array.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

enum { OP_MALLOC = 1, OP_CALLOC, OP_REALLOC, OP_FREE, OP_POSIX_MEMALIGN, OP_ALIGNED_ALLOC,
       OP_MEMALIGN, OP_VALLOC, OP_PVALLOC, OP_MMAP, OP_MUNMAP, OP_FREE_NULL, OP_STACKDEF = 15 };
enum { CH_INFO = 1, CH_EVENTS = 2, CH_MAPS = 3, CH_COUNTS = 4, CH_END = 5, CH_STOPPED = 7, CH_MARK = 8, CH_AGG = 9, CH_SERIES = 10 };
enum { F_STACKS = 1, F_COUNT = 2, F_NOFOLLOW = 4, F_MMAP = 8, F_AGG = 16 };
#define NOPS 16
#define NHIST 64
#define BUF_SIZE (256 * 1024)
#define HDR_SIZE 48
#define MAX_FRAMES 64
#define TABLE_BITS 20
#define CACHE_SIZE 1024
#define PREFIX_FRAMES 16
#define FLUSH_TICKS (1ull << 31) /* flush a buffer at least every ~1 s of TSC ticks */

/* ---- real functions and the bootstrap arena used while dlsym runs ---- */
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);
static size_t (*real_usable)(void *);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);
static FILE *(*real_fopen)(const char *, const char *);
static FILE *(*real_fopen64)(const char *, const char *);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);

static char boot[128 * 1024] __attribute__((aligned(64)));
static size_t boot_used;
static TLS int resolving;
static TLS int in_hook;

static void *boot_alloc(size_t n, size_t align) {
  if (align < 16) align = 16;
  size_t start, end;
  size_t cur = __atomic_load_n(&boot_used, __ATOMIC_RELAXED);
  do {
    start = (cur + align - 1) & ~(align - 1);
    end = start + n;
    if (end > sizeof boot) return NULL;
  } while (!__atomic_compare_exchange_n(&boot_used, &cur, end, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return boot + start; /* static storage: already zero */
}
static inline int is_boot(const void *p) { return (const char *)p >= boot && (const char *)p < boot + sizeof boot; }

static void resolve(void) {
  resolving = 1;
  real_calloc = dlsym(RTLD_NEXT, "calloc");
  real_malloc = dlsym(RTLD_NEXT, "malloc");
  real_realloc = dlsym(RTLD_NEXT, "realloc");
  real_free = dlsym(RTLD_NEXT, "free");
  real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  real_memalign = dlsym(RTLD_NEXT, "memalign");
  real_valloc = dlsym(RTLD_NEXT, "valloc");
  real_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
  real_usable = dlsym(RTLD_NEXT, "malloc_usable_size");
  real_mmap = dlsym(RTLD_NEXT, "mmap");
  real_munmap = dlsym(RTLD_NEXT, "munmap");
  real_fopen = dlsym(RTLD_NEXT, "fopen");
  real_fopen64 = dlsym(RTLD_NEXT, "fopen64");
  real_open = dlsym(RTLD_NEXT, "open");
  real_open64 = dlsym(RTLD_NEXT, "open64");
  resolving = 0;
}

static size_t str_len(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

/* ---- time ---- */
static inline uint64_t ticks(void) {
#if defined(__x86_64__)
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}
static uint64_t clock_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- state ---- */
/* A site's counters as one thread changed them (aggregated mode): a free is charged to the site
   that allocated the block, by the thread that frees it, so one thread's live figures may be
   negative; their sum over threads is the site's. */
struct site_ctr { uint64_t calls, bytes; int64_t live_bytes, live_count; };
struct tbuf {
  struct tbuf *next;
  int free_slot;       /* 1 when its thread has exited: reusable */
  int lock;
  uint32_t tid;
  uint32_t nevents;
  uint64_t base_ticks, prev_ticks, flush_ticks;
  uint64_t prev_addr;
  uintptr_t stack_hi;
  uint64_t calls[NOPS], bytes[NOPS], hist[NHIST];
  struct site_ctr *sites; /* aggregated mode: this thread's share of each site's counters */
  uint32_t agg_events;    /* aggregated mode: events since this thread last read the clock */
  struct { uint64_t h; uint32_t id; uint32_t pad; } cache[CACHE_SIZE]; /* hot stacks of this thread */
  struct { uint64_t h; uint32_t id; uint32_t pad; } pcache[CACHE_SIZE]; /* by innermost frames + frame address */
  size_t pos;
  uint8_t data[BUF_SIZE];
};
#define DEAD ((struct tbuf *)1)

static struct tbuf *all_bufs;
static TLS struct tbuf *tb;
static pthread_key_t tkey;
static int rec_on;          /* recording events / counting */
static int events_off;      /* writing failed: counters go on, events stop */
static int flags;
static uint64_t min_size;
static uint64_t run_id;
static int out_fd = -1;
static dev_t out_dev;
static ino_t out_ino;
static int write_failed;
static int write_lock;
static uint64_t room = UINT64_MAX; /* bytes the file may still grow by under RLIMIT_FSIZE (less the reserve) */
static int final_write;     /* the closing chunks of a stopped trace: may use the reserve */
static const char *out_path;
static const char *private_dir;
static int redirect_v8log;
static int redirect_perfmap;
static char preload_env[4096];

struct slot { uint64_t h; uint32_t id; uint32_t pad; };
static struct slot *table;
static uint32_t next_stack_id = 1;
#define TABLE_MASK ((1u << TABLE_BITS) - 1)

static void *raw_mmap(size_t n) {
  void *p = (void *)syscall(SYS_mmap, NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return (p == MAP_FAILED || (intptr_t)p < 0) ? NULL : p;
}

/* ---- output ---- */
static void stop_after_failure(int err);

/* Bytes kept free below a file-size limit for the chunks that end a stopped trace:
   STOPPED (8 + 24), COUNTS (8 + 896) and END (8 + 16). */
#define STOP_RESERVE 960

/* 0 when n more bytes would cross the file-size limit (RLIMIT_FSIZE): writing past it would
   raise SIGXFSZ, whose default action kills the program, and the program's signal disposition
   is its own. The limit is read at each write: the program may change it. */
static int fits_limit(size_t n, size_t reserve) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1;
  struct stat st;
  if (fstat(out_fd, &st) != 0) return 0;
  return (uint64_t)st.st_size + n + reserve <= (uint64_t)rl.rlim_cur;
}

/* Near a file-size limit, buffers are flushed before they are full so that the events up to
   the limit are kept (a 256 KiB buffer would not fit in the last 200 KiB). */
static void update_room(void) {
  struct rlimit rl;
  struct stat st;
  if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || fstat(out_fd, &st) != 0) { room = UINT64_MAX; return; }
  uint64_t used = (uint64_t)st.st_size + STOP_RESERVE;
  room = used < (uint64_t)rl.rlim_cur ? (uint64_t)rl.rlim_cur - used : 0;
}

/* The one spin lock (uncontended but for a flush at exit or two threads meeting in a table stripe). */
static inline void spin(int *l) {
  while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) { while (__atomic_load_n(l, __ATOMIC_RELAXED)) __builtin_ia32_pause(); }
}
static inline void unspin(int *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }
static inline void wlock(void) { spin(&write_lock); }
static inline void wunlock(void) { unspin(&write_lock); }

/* Writes n bytes (a whole chunk: the limit check and the write are one step under the write
   lock, so threads flushing at once cannot cross the limit together). */
static int write_all(const void *data, size_t n) {
  if (out_fd < 0 || write_failed) return -1;
  wlock();
  if (write_failed) { wunlock(); return -1; }
  if (!fits_limit(n, final_write ? 0 : STOP_RESERVE)) { if (!final_write) stop_after_failure(EFBIG); wunlock(); return -1; }
  const char *p = data;
  size_t left = n;
  while (left > 0) {
    ssize_t w = write(out_fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      if (left != n) { /* a chunk cut short: drop its beginning so the file ends on a chunk */
        off_t end = lseek(out_fd, 0, SEEK_END);
        if (end > 0) { if (ftruncate(out_fd, end - (off_t)(n - left)) != 0) { /* keep going */ } }
      }
      stop_after_failure(err);
      wunlock();
      return -1;
    }
    p += w;
    left -= (size_t)w;
  }
  update_room();
  wunlock();
  return 0;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* A (ticks, CLOCK_MONOTONIC) pair for the reader's mapping of ticks to time, written at dst. The
   two reads are not one instant: a thread preempted between them paired its ticks with a later
   time, and pairs of two threads then went backwards (the reader took the trace for corrupt).
   So the clock is read between two tick readings, a few times, and the tightest pair is kept,
   at the midpoint of its two tick readings. Returns the ticks written. */
static uint64_t put_clock_pair(uint8_t *dst) {
  uint64_t best_t = 0, best_m = 0, best_gap = UINT64_MAX;
  for (int i = 0; i < 4; i++) {
    uint64_t t1 = ticks();
    uint64_t m = clock_ns(CLOCK_MONOTONIC);
    uint64_t t2 = ticks();
    uint64_t gap = t2 >= t1 ? t2 - t1 : UINT64_MAX - 1;
    if (gap < best_gap) { best_gap = gap; best_t = t1 + gap / 2; best_m = m; }
    if (gap < 4096) break;
  }
  put_u64(dst, best_t);
  put_u64(dst + 8, best_m);
  return best_t;
}

/* A chunk as one write (so that another thread's flush cannot come between its header and its
   payload); as two only when no memory could be mapped for it. */
static int write_chunk(uint32_t type, const void *payload, uint32_t len) {
  uint8_t *buf = raw_mmap(8 + (size_t)len);
  if (buf) {
    put_u32(buf, type);
    put_u32(buf + 4, len);
    if (len) memcpy(buf + 8, payload, len);
    int r = write_all(buf, 8 + (size_t)len);
    syscall(SYS_munmap, buf, 8 + (size_t)len);
    return r;
  }
  uint8_t h[8];
  put_u32(h, type);
  put_u32(h + 4, len);
  if (write_all(h, 8) != 0) return -1;
  return len ? write_all(payload, len) : 0;
}

static void stop_after_failure(int err) {
  write_failed = 1;
  __atomic_store_n(&events_off, 1, __ATOMIC_RELAXED);
  /* Say where the trace stopped: may itself fail on a full disk, the reader then sees the cut. */
  uint8_t s[24];
  put_clock_pair(s);
  put_u32(s + 16, (uint32_t)err);
  put_u32(s + 20, 0);
  uint8_t h[8];
  put_u32(h, CH_STOPPED);
  put_u32(h + 4, sizeof s);
  if (out_fd >= 0 && fits_limit(8 + sizeof s, 0)) {
    uint8_t c[8 + sizeof s];
    memcpy(c, h, 8);
    memcpy(c + 8, s, sizeof s);
    if (write(out_fd, c, sizeof c) < 0) { /* nothing more to do */ }
  }
}

/* The fd still the file we opened? (a program that closes every fd and reopens others must
   never get trace bytes in its own files) */
static int out_fd_ok(void) {
  struct stat st;
  if (out_fd < 0 || fstat(out_fd, &st) != 0) return 0;
  return st.st_dev == out_dev && st.st_ino == out_ino;
}

/* A Fletcher-style sum of the events (u32 words, mod 2^32; never 0, which means "none"), so
   the reader refuses a trace whose bytes were changed: ~0.3 ns per event. */
static uint64_t events_sum(const uint8_t *p, size_t n) {
  uint32_t a = 1, b = 0, w;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) { memcpy(&w, p + i, 4); a += w; b += a; }
  w = 0;
  memcpy(&w, p + i, n - i);
  a += w; b += a;
  return ((uint64_t)b << 32 | a) | 1ull << 63;
}

/* Writes the buffer as one EVENTS chunk; caller holds the lock. */
static void flush_locked(struct tbuf *b) {
  if (b->pos <= HDR_SIZE) return;
  if (!out_fd_ok()) { if (!write_failed) stop_after_failure(EBADF); b->pos = HDR_SIZE; b->nevents = 0; return; }
  uint8_t *h = b->data;
  put_u32(h, CH_EVENTS);
  put_u32(h + 4, (uint32_t)(b->pos - 8));
  put_u32(h + 8, b->tid);
  put_u32(h + 12, b->nevents);
  put_u64(h + 16, b->base_ticks);
  uint64_t ft = put_clock_pair(h + 24);
  put_u64(h + 40, events_sum(b->data + HDR_SIZE, b->pos - HDR_SIZE));
  write_all(b->data, b->pos);
  b->pos = HDR_SIZE;
  b->nevents = 0;
  b->base_ticks = b->prev_ticks;
  b->prev_addr = 0;
  b->flush_ticks = ft;
}

static inline void lock(struct tbuf *b) { spin(&b->lock); }
static inline void unlock(struct tbuf *b) { unspin(&b->lock); }

static void thread_done(void *arg) {
  struct tbuf *b = arg;
  if (!b || b == DEAD) return;
  in_hook++;
  lock(b);
  flush_locked(b);
  unlock(b);
  tb = DEAD; /* what this thread frees after here (glibc's own thread teardown) is not recorded */
  __atomic_store_n(&b->free_slot, 1, __ATOMIC_RELEASE);
  in_hook--;
}

static struct tbuf *claim(void) {
  struct tbuf *b;
  in_hook++;
  for (b = __atomic_load_n(&all_bufs, __ATOMIC_ACQUIRE); b; b = b->next) {
    if (__atomic_load_n(&b->free_slot, __ATOMIC_RELAXED) && __atomic_exchange_n(&b->free_slot, 0, __ATOMIC_ACQUIRE)) break;
  }
  if (!b) {
    b = raw_mmap(sizeof *b);
    if (!b) { in_hook--; tb = DEAD; return NULL; }
    struct tbuf *head = __atomic_load_n(&all_bufs, __ATOMIC_RELAXED);
    do { b->next = head; } while (!__atomic_compare_exchange_n(&all_bufs, &head, b, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
  }
  b->tid = (uint32_t)syscall(SYS_gettid);
  b->pos = HDR_SIZE;
  b->nevents = 0;
  b->prev_addr = 0;
  b->base_ticks = b->prev_ticks = b->flush_ticks = ticks();
  b->stack_hi = 0;
  memset(b->pcache, 0, sizeof b->pcache);
  memset(b->cache, 0, sizeof b->cache);
  if (flags & F_STACKS) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void *addr; size_t size;
      if (pthread_attr_getstack(&attr, &addr, &size) == 0) b->stack_hi = (uintptr_t)addr + size;
      pthread_attr_destroy(&attr);
    }
  }
  tb = b;
  pthread_setspecific(tkey, b);
  in_hook--;
  return b;
}

/* ---- encoding ---- */
static inline uint8_t *put_var(uint8_t *p, uint64_t v) {
  while (v >= 0x80) { *p++ = (uint8_t)(v | 0x80); v >>= 7; }
  *p++ = (uint8_t)v;
  return p;
}
static inline uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

/* Walks frame pointers from fp, at most max frames, filling ips; *end gets the next frame. */
static int walk(void **fp, uintptr_t lo, uintptr_t hi, uintptr_t *ips, int max, void ***end) {
  int n = 0;
  if (!hi) hi = lo + (1u << 20);
  while (n < max) {
    uintptr_t f = (uintptr_t)fp;
    if (f < lo || f + 16 > hi || (f & 7)) { fp = NULL; break; }
    uintptr_t ret = (uintptr_t)fp[1];
    if (ret < 4096) { fp = NULL; break; }
    ips[n++] = ret;
    void **next = (void **)fp[0];
    if ((uintptr_t)next <= f) { fp = NULL; break; }
    fp = next;
  }
  *end = fp;
  return n;
}

static uint32_t stack_lookup(struct tbuf *b, uint64_t h, const uintptr_t *ips, int n);
static uint32_t stack_id_of(struct tbuf *b, const uintptr_t *ips, int n);

static inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ull; h ^= h >> 33;
  return h | 1;
}

/*
 * The stack id of this event. The innermost PREFIX_FRAMES return addresses and the frame
 * address where they end are looked up first in a per-thread cache: a hit reuses the id
 * without walking the rest of the stack (a caller deeper than that prefix, entered at exactly
 * the same frame address, would be taken for the cached one).
 */
static uint32_t stack_id(struct tbuf *b, void **fp) {
  uintptr_t ips[MAX_FRAMES];
  uintptr_t lo = (uintptr_t)fp;
  void **end;
  int n = walk(fp, lo, b->stack_hi, ips, PREFIX_FRAMES, &end);
  if (n == 0 || !table) return 0;
  uint64_t ph = 0;
  uint32_t pc = 0;
  if (n == PREFIX_FRAMES && end) {
    ph = (uintptr_t)end;
    for (int i = 0; i < n; i++) ph = ((ph << 13) | (ph >> 51)) ^ ips[i];
    ph = mix64(ph);
    pc = (uint32_t)(ph >> 20) & (CACHE_SIZE - 1);
    if (b->pcache[pc].h == ph) return b->pcache[pc].id;
    void **e2;
    n += walk(end, lo, b->stack_hi, ips + n, MAX_FRAMES - n, &e2);
  }
  uint32_t id = stack_id_of(b, ips, n);
  if (ph && id) { b->pcache[pc].h = ph; b->pcache[pc].id = id; }
  return id;
}

static uint32_t stack_id_of(struct tbuf *b, const uintptr_t *ips, int n) {
  /* a cheap rotate-xor over the frames (no multiply in the loop), mixed once at the end */
  uint64_t h = (uint64_t)n;
  for (int i = 0; i < n; i++) h = ((h << 13) | (h >> 51)) ^ ips[i];
  h = mix64(h);
  uint32_t c = (uint32_t)(h ^ (h >> 40)) & (CACHE_SIZE - 1);
  if (b->cache[c].h == h) return b->cache[c].id;
  uint32_t id = stack_lookup(b, h, ips, n);
  if (id) { b->cache[c].h = h; b->cache[c].id = id; }
  return id;
}

static uint32_t stack_lookup(struct tbuf *b, uint64_t h, const uintptr_t *ips, int n) {
  uint32_t i = (uint32_t)(h ^ (h >> 32)) & TABLE_MASK;
  for (int probe = 0; probe < 256; probe++, i = (i + 1) & TABLE_MASK) {
    struct slot *s = &table[i];
    uint64_t cur = __atomic_load_n(&s->h, __ATOMIC_ACQUIRE);
    if (cur == 0) {
      uint64_t zero = 0;
      if (__atomic_compare_exchange_n(&s->h, &zero, h, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        uint32_t id = __atomic_fetch_add(&next_stack_id, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&s->id, id, __ATOMIC_RELEASE);
        /* define it in this thread's buffer (the reader resolves ids after reading every chunk) */
        uint8_t *p = b->data + b->pos;
        *p++ = OP_STACKDEF;
        p = put_var(p, id);
        p = put_var(p, (uint64_t)n);
        uintptr_t prev = 0;
        for (int k = 0; k < n; k++) { p = put_var(p, zigzag((int64_t)(ips[k] - prev))); prev = ips[k]; }
        b->pos = (size_t)(p - b->data);
        return id;
      }
      cur = zero;
    }
    if (cur == h) {
      uint32_t id;
      while ((id = __atomic_load_n(&s->id, __ATOMIC_ACQUIRE)) == 0) __builtin_ia32_pause();
      return id;
    }
  }
  return 0; /* table full: an unknown stack */
}

/* ---- aggregated mode (--aggregate) ----
 * No events are written: the interposer keeps what the reader would have folded from them,
 * so a service can be traced for hours in a file of kilobytes (memray's --aggregate, for
 * native memory). Kept here: each site's calls, bytes and live bytes/blocks (a site is a stack
 * id, or one site without --stacks; times two: before the main module ran or after), the live
 * blocks (address → size and site) in a table striped by address so that threads rarely meet,
 * the process's live bytes and their highest point (exact: one atomic add an event), each
 * site's live bytes at that high point (copied when the live bytes pass the last copy by 1/32
 * and 4 KiB, so within ~3% of the peak), at the exit mark, and a series of live bytes (each point the
 * highest of its period, 10 ms at first, a thousandth of the elapsed time later: ~1000 points
 * per tenfold of run time). Written (only the sites whose figures changed) ~1 s after the start,
 * then at periods doubled each time up to ~16 s (a killed program loses at most that), and at exit:
 *   AGG     ticks mono u64, live bytes, live blocks, peak bytes i64, peak ticks u64,
 *           final, rows, exit taken (the live columns are at the exit mark), 0 u32 × 4,
 *           live bytes when the sites' peak figures were copied i64 (0: never),
 *           then rows {site u32, 0 u32, calls, bytes u64, live bytes, live blocks, bytes and
 *           blocks at the peak i64}; a later row of a site replaces an earlier one
 *   SERIES  n u32, 0 u32, then n × {ticks u64, highest live bytes of the period, live bytes i64}
 * Stacks are still defined in the threads' buffers (EVENTS chunks without events). */
#define NSTRIPES 256
#define SITE_SLOTS (2u << TABLE_BITS) /* stack id × 2 + before-main */
#define SERIES_CAP 4096
#define AGG_ROW 56
#define AGG_HDR 72
struct lentry { uint64_t addr, meta; }; /* meta: size << 22 | site */
struct stripe { int lock; uint32_t mask; uint64_t count; struct lentry *e; char pad[40]; };
static struct stripe *stripes;
static int64_t g_live, g_peak, g_period_max;
static uint64_t g_peak_ticks;
static int main_seen;           /* the main module has started (node): sites after it */
static int agg_lock, snap_lock, series_lock;
static uint64_t next_agg_ticks, next_point_ticks, agg_t0, agg_m0;
static int64_t snap_next, peak_copy_bytes;
static int exit_taken;
/* per site, summed over threads: the live figures at the peak copy and at the exit mark, and
   what the last AGG chunk wrote (to write only the sites that changed) */
static int64_t (*peak_live)[2], (*exit_live)[2];
static struct site_ctr *written;
static int64_t (*written_peak)[2];
static uint64_t agg_period;      /* ticks between AGG chunks: ~1 s, doubled after each up to ~16 s */
static uint64_t (*series)[3];
static uint32_t series_n;

static inline uint64_t addr_hash(uint64_t a) { return (a >> 4) * 0x9E3779B97F4A7C15ull; }

static int agg_setup(void) {
  stripes = raw_mmap(sizeof(struct stripe) * NSTRIPES);
  peak_live = raw_mmap(sizeof *peak_live * SITE_SLOTS);
  exit_live = raw_mmap(sizeof *exit_live * SITE_SLOTS);
  written = raw_mmap(sizeof *written * SITE_SLOTS);
  written_peak = raw_mmap(sizeof *written_peak * SITE_SLOTS);
  series = raw_mmap(sizeof *series * SERIES_CAP);
  return stripes && peak_live && exit_live && written && written_peak && series;
}

/* Grows a stripe's table to twice its size (caller holds its lock); 0 when no memory. */
static int stripe_grow(struct stripe *st) {
  uint32_t cap = st->e ? (st->mask + 1) * 2 : 1024;
  struct lentry *e = raw_mmap(sizeof *e * cap);
  if (!e) return 0;
  if (st->e) {
    for (uint32_t i = 0; i <= st->mask; i++) {
      if (!st->e[i].addr) continue;
      uint32_t k = (uint32_t)(addr_hash(st->e[i].addr) >> 20) & (cap - 1);
      while (e[k].addr) k = (k + 1) & (cap - 1);
      e[k] = st->e[i];
    }
    syscall(SYS_munmap, st->e, sizeof *st->e * (st->mask + 1));
  }
  st->e = e;
  st->mask = cap - 1;
  return 1;
}

/* Adds a live block; returns the meta of a block that was still at that address (its free was
   not seen), else 0. */
static uint64_t live_put(uint64_t addr, uint64_t meta) {
  struct stripe *st = &stripes[addr_hash(addr) >> 56];
  spin(&st->lock);
  if ((!st->e || (st->count + 1) * 2 > (uint64_t)st->mask + 1) && !stripe_grow(st)) { unspin(&st->lock); return 0; }
  uint32_t k = (uint32_t)(addr_hash(addr) >> 20) & st->mask;
  while (st->e[k].addr && st->e[k].addr != addr) k = (k + 1) & st->mask;
  uint64_t old = st->e[k].addr ? st->e[k].meta : 0;
  if (!st->e[k].addr) st->count++;
  st->e[k].addr = addr;
  st->e[k].meta = meta;
  unspin(&st->lock);
  return old;
}

/* Removes a live block; its meta, or 0 when it was not tracked (allocated before tracing). */
static uint64_t live_take(uint64_t addr) {
  struct stripe *st = &stripes[addr_hash(addr) >> 56];
  spin(&st->lock);
  if (!st->e) { unspin(&st->lock); return 0; }
  uint32_t k = (uint32_t)(addr_hash(addr) >> 20) & st->mask;
  while (st->e[k].addr && st->e[k].addr != addr) k = (k + 1) & st->mask;
  if (!st->e[k].addr) { unspin(&st->lock); return 0; }
  uint64_t meta = st->e[k].meta;
  /* deletion by backward shift: later entries of the run move into the hole when their home
     slot is not between the hole and them */
  uint32_t hole = k;
  for (uint32_t j = (k + 1) & st->mask; st->e[j].addr; j = (j + 1) & st->mask) {
    uint32_t home = (uint32_t)(addr_hash(st->e[j].addr) >> 20) & st->mask;
    if (((j - home) & st->mask) >= ((j - hole) & st->mask)) { st->e[hole] = st->e[j]; hole = j; }
  }
  st->e[hole].addr = 0;
  st->e[hole].meta = 0;
  st->count--;
  unspin(&st->lock);
  return meta;
}

/* The number of site slots any thread may have touched. */
static inline uint32_t site_bound(void) {
  uint32_t n = 2 * __atomic_load_n(&next_stack_id, __ATOMIC_RELAXED) + 2;
  return n < SITE_SLOTS ? n : SITE_SLOTS;
}

/* A site's counters summed over threads. */
static struct site_ctr site_sum(uint32_t i) {
  struct site_ctr c = {0, 0, 0, 0};
  for (struct tbuf *b = __atomic_load_n(&all_bufs, __ATOMIC_ACQUIRE); b; b = b->next) {
    if (!b->sites) continue;
    c.calls += b->sites[i].calls; c.bytes += b->sites[i].bytes;
    c.live_bytes += b->sites[i].live_bytes; c.live_count += b->sites[i].live_count;
  }
  return c;
}

/* Copies each site's live figures into `to` (the peak's, or the exit mark's). */
static void copy_live(int64_t (*to)[2]) {
  uint32_t n = site_bound();
  for (uint32_t i = 0; i < n; i++) { struct site_ctr c = site_sum(i); to[i][0] = c.live_bytes; to[i][1] = c.live_count; }
}

static void write_series_locked(void) {
  if (!series_n) return;
  uint32_t len = 8 + series_n * 24;
  uint8_t *buf = raw_mmap(len);
  if (!buf) return;
  put_u32(buf, series_n);
  put_u32(buf + 4, 0);
  memcpy(buf + 8, series, (size_t)series_n * 24);
  write_chunk(CH_SERIES, buf, len);
  syscall(SYS_munmap, buf, len);
  series_n = 0;
}

/* A point of the live-bytes series, when its period has passed. */
static void series_point(uint64_t now) {
  if (now < __atomic_load_n(&next_point_ticks, __ATOMIC_RELAXED) || __atomic_exchange_n(&series_lock, 1, __ATOMIC_ACQUIRE)) return;
  if (now >= next_point_ticks) {
    int64_t live = __atomic_load_n(&g_live, __ATOMIC_RELAXED);
    int64_t hi = __atomic_exchange_n(&g_period_max, live, __ATOMIC_RELAXED);
    if (series_n == SERIES_CAP) write_series_locked();
    series[series_n][0] = now; series[series_n][1] = (uint64_t)(hi > live ? hi : live); series[series_n][2] = (uint64_t)live;
    series_n++;
    uint64_t mono = clock_ns(CLOCK_MONOTONIC), el = mono > agg_m0 ? mono - agg_m0 : 1;
    uint64_t period_ns = el / 1000 > 10000000 ? el / 1000 : 10000000;
    double per_ns = now > agg_t0 ? (double)(now - agg_t0) / (double)el : 1.0;
    __atomic_store_n(&next_point_ticks, now + (uint64_t)(period_ns * per_ns), __ATOMIC_RELAXED);
  }
  __atomic_store_n(&series_lock, 0, __ATOMIC_RELEASE);
}

/* Writes the sites that changed since the last AGG chunk (every site with `final`), after the
   threads' buffers (the stacks they define) and the series. Caller holds agg_lock. */
static void write_agg_locked(int final, uint64_t now) {
  for (struct tbuf *b = __atomic_load_n(&all_bufs, __ATOMIC_ACQUIRE); b; b = b->next) { lock(b); flush_locked(b); unlock(b); }
  spin(&series_lock);
  write_series_locked();
  unspin(&series_lock);
  /* one pass: a row for each site whose counters or share of the peak changed (every site with
     `final`), into a mapping sized for all of them (untouched pages cost nothing) */
  uint32_t n = site_bound(), k = 0;
  size_t cap = AGG_HDR + (size_t)n * AGG_ROW;
  uint8_t *buf = raw_mmap(cap);
  if (!buf) return;
  put_clock_pair(buf);
  int64_t live = 0, count = 0;
  uint8_t *p = buf + AGG_HDR;
  int use_exit = __atomic_load_n(&exit_taken, __ATOMIC_ACQUIRE);
  for (uint32_t i = 0; i < n; i++) {
    struct site_ctr c = site_sum(i);
    live += c.live_bytes; count += c.live_count;
    if (!c.calls) continue;
    if (!final && memcmp(&c, &written[i], sizeof c) == 0 && peak_live[i][0] == written_peak[i][0] && peak_live[i][1] == written_peak[i][1]) continue;
    written[i] = c;
    written_peak[i][0] = peak_live[i][0]; written_peak[i][1] = peak_live[i][1];
    put_u32(p, i); put_u32(p + 4, 0);
    put_u64(p + 8, c.calls); put_u64(p + 16, c.bytes);
    put_u64(p + 24, (uint64_t)(use_exit ? exit_live[i][0] : c.live_bytes));
    put_u64(p + 32, (uint64_t)(use_exit ? exit_live[i][1] : c.live_count));
    put_u64(p + 40, (uint64_t)peak_live[i][0]); put_u64(p + 48, (uint64_t)peak_live[i][1]);
    p += AGG_ROW;
    k++;
  }
  put_u64(buf + 16, (uint64_t)live); put_u64(buf + 24, (uint64_t)count);
  put_u64(buf + 32, (uint64_t)__atomic_load_n(&g_peak, __ATOMIC_RELAXED)); put_u64(buf + 40, g_peak_ticks);
  put_u32(buf + 48, (uint32_t)final); put_u32(buf + 52, k);
  put_u32(buf + 56, (uint32_t)use_exit); put_u32(buf + 60, 0);
  put_u64(buf + 64, (uint64_t)peak_copy_bytes);
  /* the checksum of the whole chunk with its own field 0: a changed counter is told from a real one */
  uint32_t len = (uint32_t)(AGG_HDR + (size_t)k * AGG_ROW);
  put_u32(buf + 60, (uint32_t)(events_sum(buf, len) >> 32));
  write_chunk(CH_AGG, buf, len);
  syscall(SYS_munmap, buf, cap);
  if (agg_period < 16 * FLUSH_TICKS) agg_period *= 2;
  next_agg_ticks = now + agg_period;
}

/* A new high point of live bytes: kept exactly; each site's share copied when it passed the
   last copy by 1/32 (and 4 KiB). */
static void note_peak(int64_t live, uint64_t now) {
  int64_t p = __atomic_load_n(&g_peak, __ATOMIC_RELAXED);
  while (live > p) {
    if (__atomic_compare_exchange_n(&g_peak, &p, live, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
      g_peak_ticks = now;
      if (live >= __atomic_load_n(&snap_next, __ATOMIC_RELAXED) && !__atomic_exchange_n(&snap_lock, 1, __ATOMIC_ACQUIRE)) {
        copy_live(peak_live);
        int64_t step = live / 32 > 4096 ? live / 32 : 4096;
        __atomic_store_n(&snap_next, live + step, __ATOMIC_RELAXED);
        peak_copy_bytes = live;
        __atomic_store_n(&snap_lock, 0, __ATOMIC_RELEASE);
      }
      return;
    }
  }
}

/* Called at the exit mark: the live columns are what lived then (node frees its heap after). */
static void agg_exit_mark(void) {
  if (!(flags & F_AGG) || !stripes) return;
  spin(&snap_lock);
  copy_live(exit_live);
  __atomic_store_n(&exit_taken, 1, __ATOMIC_RELEASE);
  unspin(&snap_lock);
}

static struct site_ctr *thread_sites(struct tbuf *b) {
  if (UNLIKELY(!b->sites)) b->sites = raw_mmap(sizeof *b->sites * SITE_SLOTS);
  return b->sites;
}

/* One event folded in place (caller holds in_hook). */
static void aggregate(struct tbuf *b, int op, uint64_t size, const void *addr, const void *old, void **fp) {
  struct site_ctr *sites = thread_sites(b);
  if (!sites || !stripes) return;
  int64_t delta = 0;
  int grew = 0;
  uint64_t gone = 0;
  if (op == OP_FREE || op == OP_MUNMAP) gone = addr ? live_take((uint64_t)(uintptr_t)addr) : 0;
  else if (op == OP_REALLOC && old) gone = live_take((uint64_t)(uintptr_t)old);
  if (gone) {
    struct site_ctr *c = &sites[gone & ((1u << 22) - 1)];
    c->live_bytes -= (int64_t)(gone >> 22); c->live_count--;
    delta -= (int64_t)(gone >> 22);
  }
  if (op != OP_FREE && op != OP_MUNMAP && addr) {
    uint32_t sid = 0;
    if (flags & F_STACKS) { /* frees need no stack: the block's site is in the table */
      lock(b);
      if (b->pos + 1200 > BUF_SIZE || b->pos + 1200 > room) flush_locked(b);
      sid = stack_id(b, fp);
      unlock(b);
    }
    uint32_t site = sid * 2 + (__atomic_load_n(&main_seen, __ATOMIC_RELAXED) ? 0 : 1);
    if (site >= SITE_SLOTS) site = 1;
    uint64_t sz = size < (1ull << 42) ? size : (1ull << 42) - 1;
    struct site_ctr *c = &sites[site];
    c->calls++; c->bytes += size; c->live_bytes += (int64_t)sz; c->live_count++;
    delta += (int64_t)sz;
    uint64_t before = live_put((uint64_t)(uintptr_t)addr, sz << 22 | site);
    if (before) { /* a block whose free was not seen: it is gone now */
      struct site_ctr *o = &sites[before & ((1u << 22) - 1)];
      o->live_bytes -= (int64_t)(before >> 22); o->live_count--;
      delta -= (int64_t)(before >> 22);
    }
    grew = 1;
  }
  if (!delta && !grew) return;
  int64_t live = __atomic_add_fetch(&g_live, delta, __ATOMIC_RELAXED);
  if (live > __atomic_load_n(&g_period_max, __ATOMIC_RELAXED)) __atomic_store_n(&g_period_max, live, __ATOMIC_RELAXED);
  int peak = live > __atomic_load_n(&g_peak, __ATOMIC_RELAXED);
  if (!peak && ++b->agg_events < 64) return;
  b->agg_events = 0;
  uint64_t now = ticks();
  if (peak) note_peak(live, now);
  series_point(now);
  if (now >= __atomic_load_n(&next_agg_ticks, __ATOMIC_RELAXED) && !__atomic_load_n(&events_off, __ATOMIC_RELAXED)
      && !__atomic_exchange_n(&agg_lock, 1, __ATOMIC_ACQUIRE)) {
    if (now >= next_agg_ticks) write_agg_locked(0, now);
    __atomic_store_n(&agg_lock, 0, __ATOMIC_RELEASE);
  }
}

/* The aggregate's state starts afresh (a forked child: its parent's blocks are not its own to count). */
static void agg_reset(void) {
  if (stripes) {
    for (int i = 0; i < NSTRIPES; i++) if (stripes[i].e) syscall(SYS_munmap, stripes[i].e, sizeof(struct lentry) * (stripes[i].mask + 1));
    syscall(SYS_munmap, stripes, sizeof(struct stripe) * NSTRIPES);
    syscall(SYS_munmap, peak_live, sizeof *peak_live * SITE_SLOTS);
    syscall(SYS_munmap, exit_live, sizeof *exit_live * SITE_SLOTS);
    syscall(SYS_munmap, written, sizeof *written * SITE_SLOTS);
    syscall(SYS_munmap, written_peak, sizeof *written_peak * SITE_SLOTS);
    syscall(SYS_munmap, series, sizeof *series * SERIES_CAP);
  }
  for (struct tbuf *b = all_bufs; b; b = b->next) if (b->sites) { syscall(SYS_munmap, b->sites, sizeof *b->sites * SITE_SLOTS); b->sites = NULL; }
  g_live = g_peak = g_period_max = 0; g_peak_ticks = 0;
  agg_lock = snap_lock = series_lock = 0;
  snap_next = 0; peak_copy_bytes = 0; exit_taken = 0; series_n = 0;
  agg_t0 = ticks(); agg_m0 = clock_ns(CLOCK_MONOTONIC);
  agg_period = FLUSH_TICKS; next_agg_ticks = agg_t0 + agg_period; next_point_ticks = 0;
  if (!agg_setup()) stripes = NULL;
}

static inline int log2_bucket(uint64_t n) { return n ? 64 - __builtin_clzll(n) : 0; }

static __attribute__((noinline)) void record(int op, uint64_t size, const void *addr, const void *old, void **fp) {
  struct tbuf *b = tb;
  if (UNLIKELY(!b)) { b = claim(); if (!b) return; }
  else if (UNLIKELY(b == DEAD)) return;
  in_hook++;
  int cop = (op == OP_FREE && !addr) ? OP_FREE_NULL : op;
  b->calls[cop]++;
  if (op != OP_FREE) b->bytes[cop] += size;
  if (op != OP_FREE && op != OP_MUNMAP) b->hist[log2_bucket(size)]++;
  if (flags & F_COUNT) { in_hook--; return; }
  if (min_size) {
    if (op == OP_FREE) {
      if (!addr || size < min_size) { in_hook--; return; }
    } else if (size < min_size && !(op == OP_REALLOC && old)) { in_hook--; return; }
  }
  if (flags & F_AGG) {
    if (!__atomic_load_n(&events_off, __ATOMIC_RELAXED)) aggregate(b, op, size, addr, old, fp);
    in_hook--;
    return;
  }
  lock(b);
  if (UNLIKELY(!__atomic_load_n(&rec_on, __ATOMIC_RELAXED) || __atomic_load_n(&events_off, __ATOMIC_RELAXED))) { unlock(b); in_hook--; return; }
  uint64_t now = ticks();
  if (b->pos + 1200 > BUF_SIZE || b->pos + 1200 > room || now - b->flush_ticks > FLUSH_TICKS) flush_locked(b);
  uint32_t sid = (flags & F_STACKS) ? stack_id(b, fp) : 0;
  uint8_t *p = b->data + b->pos;
  *p++ = (uint8_t)op;
  p = put_var(p, now - b->prev_ticks);
  b->prev_ticks = now;
  if (op != OP_FREE) p = put_var(p, size);
  p = put_var(p, zigzag((int64_t)((uint64_t)(uintptr_t)addr - b->prev_addr)));
  b->prev_addr = (uint64_t)(uintptr_t)addr;
  if (op == OP_REALLOC) p = put_var(p, (uint64_t)(uintptr_t)old);
  if (flags & F_STACKS) p = put_var(p, sid);
  b->pos = (size_t)(p - b->data);
  b->nevents++;
  unlock(b);
  in_hook--;
}

#define RECORDING() (LIKELY(__atomic_load_n(&rec_on, __ATOMIC_RELAXED)) && !in_hook)
#define FP() ((void **)__builtin_frame_address(0))

/* ---- the interposed functions ---- */
EXPORT void *malloc(size_t n) {
  if (UNLIKELY(!real_malloc)) { if (resolving) return boot_alloc(n, 16); resolve(); }
  void *p = real_malloc(n);
  if (RECORDING()) record(OP_MALLOC, n, p, NULL, FP());
  return p;
}

EXPORT void *calloc(size_t n, size_t m) {
  if (UNLIKELY(!real_calloc)) {
    if (resolving) { if (m && n > SIZE_MAX / m) return NULL; return boot_alloc(n * m, 16); }
    resolve();
  }
  void *p = real_calloc(n, m);
  if (RECORDING()) record(OP_CALLOC, (uint64_t)n * m, p, NULL, FP());
  return p;
}

EXPORT void free(void *p) {
  if (UNLIKELY(is_boot(p))) return;
  if (UNLIKELY(!real_free)) { if (resolving) return; resolve(); }
  if (RECORDING()) {
    /* with --min-size, the block's size is read before it is freed */
    size_t usable = (min_size && p && real_usable) ? real_usable(p) : 0;
    real_free(p);
    record(OP_FREE, usable, p, NULL, FP());
  } else {
    real_free(p);
  }
}

EXPORT void *realloc(void *old, size_t n) {
  if (UNLIKELY(!real_realloc)) { if (resolving) return boot_alloc(n, 16); resolve(); }
  if (UNLIKELY(is_boot(old))) {
    void *p = real_malloc(n);
    if (p) { size_t have = (size_t)(boot + sizeof boot - (char *)old); memcpy(p, old, have < n ? have : n); }
    if (RECORDING()) record(OP_MALLOC, n, p, NULL, FP());
    return p;
  }
  void *p = real_realloc(old, n);
  if (RECORDING()) {
    /* realloc(p, 0) freed p (p == NULL returned); a failed realloc left old in place */
    if (p || n == 0) record(OP_REALLOC, n, p, old, FP());
    else record(OP_REALLOC, n, NULL, NULL, FP());
  }
  return p;
}

EXPORT void *reallocarray(void *old, size_t n, size_t m) {
  if (m && n > SIZE_MAX / m) { errno = ENOMEM; return NULL; }
  return realloc(old, n * m);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (UNLIKELY(!real_posix_memalign)) {
    if (resolving) { *out = boot_alloc(n, align); return *out ? 0 : ENOMEM; }
    resolve();
  }
  int r = real_posix_memalign(out, align, n);
  if (RECORDING()) record(OP_POSIX_MEMALIGN, n, r == 0 ? *out : NULL, NULL, FP());
  return r;
}

EXPORT void *aligned_alloc(size_t align, size_t n) {
  if (UNLIKELY(!real_aligned_alloc)) { if (resolving) return boot_alloc(n, align); resolve(); }
  void *p = real_aligned_alloc(align, n);
  if (RECORDING()) record(OP_ALIGNED_ALLOC, n, p, NULL, FP());
  return p;
}

EXPORT void *memalign(size_t align, size_t n) {
  if (UNLIKELY(!real_memalign)) { if (resolving) return boot_alloc(n, align); resolve(); }
  void *p = real_memalign(align, n);
  if (RECORDING()) record(OP_MEMALIGN, n, p, NULL, FP());
  return p;
}

EXPORT void *valloc(size_t n) {
  if (UNLIKELY(!real_valloc)) { if (resolving) return boot_alloc(n, 4096); resolve(); }
  void *p = real_valloc(n);
  if (RECORDING()) record(OP_VALLOC, n, p, NULL, FP());
  return p;
}

EXPORT void *pvalloc(size_t n) {
  if (UNLIKELY(!real_pvalloc)) { if (resolving) return boot_alloc((n + 4095) & ~(size_t)4095, 4096); resolve(); }
  void *p = real_pvalloc(n);
  if (RECORDING()) record(OP_PVALLOC, n, p, NULL, FP());
  return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int fl, int fd, off_t off) {
  void *p;
  if (UNLIKELY(!real_mmap)) p = (void *)syscall(SYS_mmap, addr, len, prot, fl, fd, off);
  else p = real_mmap(addr, len, prot, fl, fd, off);
  if ((flags & F_MMAP) && (fl & MAP_ANONYMOUS) && p != MAP_FAILED && RECORDING()) record(OP_MMAP, len, p, NULL, FP());
  return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int fl, int fd, off_t off) {
  return mmap(addr, len, prot, fl, fd, off);
}

EXPORT int munmap(void *addr, size_t len) {
  int r = real_munmap ? real_munmap(addr, len) : (int)syscall(SYS_munmap, addr, len);
  if ((flags & F_MMAP) && r == 0 && RECORDING()) record(OP_MUNMAP, len, addr, NULL, FP());
  return r;
}

/* ---- node's perf map and v8 log, opened in memtrace's private directory ----
 * node (V8) opens /tmp/perf-PID.map with fopen(path, "w+"): O_TRUNC, no O_NOFOLLOW, at a name
 * anyone can predict, so a symlink planted there would be followed and its target truncated.
 * node 20 also writes isolate-0x…-PID-v8.log in the current directory beside it. With
 * MEMTRACE_MALLOC_DIR set, these names are opened in that directory (made 0700 by memtrace)
 * instead. Returns the path to open: the given one, or `buf` holding the new one. */
static int all_digits(const char *s, const char *end) {
  if (s >= end) return 0;
  for (; s < end; s++) if (*s < '0' || *s > '9') return 0;
  return 1;
}
static const char *private_path(const char *path, char *buf, size_t cap) {
  if (!private_dir || !path) return path;
  const char *base = NULL;
  if (redirect_perfmap && strncmp(path, "/tmp/perf-", 10) == 0) {
    const char *d = path + 10, *e = d;
    while (*e >= '0' && *e <= '9') e++;
    if (all_digits(d, e) && strcmp(e, ".map") == 0) base = path + 5;
  } else if (redirect_v8log && strncmp(path, "isolate-0x", 10) == 0 && !strchr(path, '/')) {
    size_t n = str_len(path);
    if (n > 7 && strcmp(path + n - 7, "-v8.log") == 0) base = path;
  }
  if (!base) return path;
  size_t dl = str_len(private_dir), bl = str_len(base);
  if (dl + 1 + bl + 1 > cap) return path;
  memcpy(buf, private_dir, dl);
  buf[dl] = '/';
  memcpy(buf + dl + 1, base, bl + 1);
  return buf;
}

/* When the private directory is gone, the original name is still never followed or reused:
   created afresh (O_EXCL | O_NOFOLLOW), else the open fails as it would have. */
static FILE *fopen_private(FILE *(*real)(const char *, const char *), const char *path, const char *mode) {
  char buf[512];
  const char *p = private_path(path, buf, sizeof buf);
  FILE *f = real(p, mode);
  if (f || p == path || mode[0] != 'w') return f;
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return NULL;
  f = fdopen(fd, mode);
  if (!f) close(fd);
  return f;
}

EXPORT FILE *fopen(const char *path, const char *mode) {
  if (UNLIKELY(!real_fopen)) resolve();
  return fopen_private(real_fopen, path, mode);
}

EXPORT FILE *fopen64(const char *path, const char *mode) {
  if (UNLIKELY(!real_fopen64)) resolve();
  return fopen_private(real_fopen64, path, mode);
}

/* A mark from the program (memtrace's preload opens DIR/mark-LABEL; nothing is created): one
   MARK chunk {ticks, mono u64, label}, written at once so the reader knows every mark before it
   reads the events. */
static int take_mark(const char *path) {
  if (!private_dir || out_fd < 0) return 0;
  size_t dl = str_len(private_dir);
  if (strncmp(path, private_dir, dl) != 0 || strncmp(path + dl, "/mark-", 6) != 0) return 0;
  const char *label = path + dl + 6;
  size_t n = str_len(label);
  if (strcmp(label, "memtrace%3Amain") == 0) __atomic_store_n(&main_seen, 1, __ATOMIC_RELAXED);
  else if (strcmp(label, "memtrace%3Aexit") == 0) { in_hook++; agg_exit_mark(); in_hook--; }
  if (n > 400) n = 400;
  uint8_t c[16 + 400];
  put_clock_pair(c);
  memcpy(c + 16, label, n);
  in_hook++;
  write_chunk(CH_MARK, c, (uint32_t)(16 + n));
  in_hook--;
  errno = ENOENT;
  return 1;
}

/* open(2) too: CPython's perf trampoline (-X perf, 3.12+) opens /tmp/perf-PID.map with open(). */
EXPORT int open(const char *path, int fl, ...) {
  mode_t mode = 0;
  if (fl & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, fl); mode = va_arg(ap, mode_t); va_end(ap); }
  if (UNLIKELY(!real_open)) { if (resolving) return (int)syscall(SYS_openat, AT_FDCWD, path, fl, mode); resolve(); }
  if (UNLIKELY(private_dir != NULL) && take_mark(path)) return -1;
  char buf[512];
  return real_open(private_path(path, buf, sizeof buf), fl, mode);
}

EXPORT int open64(const char *path, int fl, ...) {
  mode_t mode = 0;
  if (fl & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, fl); mode = va_arg(ap, mode_t); va_end(ap); }
  if (UNLIKELY(!real_open64)) { if (resolving) return (int)syscall(SYS_openat, AT_FDCWD, path, fl, mode); resolve(); }
  if (UNLIKELY(private_dir != NULL) && take_mark(path)) return -1;
  char buf[512];
  return real_open64(private_path(path, buf, sizeof buf), fl, mode);
}

/* ---- files, chunks written once ---- */

/* Reads a small /proc file into a fresh mapping; returns its length (0 on failure). */
static size_t read_proc(const char *path, uint8_t **out) {
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = raw_mmap(cap);
  if (!buf) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { munmap(buf, cap); return 0; }
  for (;;) {
    if (n == cap) {
      uint8_t *bigger = raw_mmap(cap * 2);
      if (!bigger) break;
      memcpy(bigger, buf, n);
      syscall(SYS_munmap, buf, cap);
      buf = bigger;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  *out = buf;
  return n;
}

static void write_maps(void) {
  uint8_t *buf = NULL;
  size_t n = read_proc("/proc/self/maps", &buf);
  if (n) write_chunk(CH_MAPS, buf, (uint32_t)n);
  if (buf) syscall(SYS_munmap, buf, (n + 65535) & ~(size_t)65535);
}

static void write_info(void) {
  uint8_t *cmd = NULL;
  size_t cmdlen = read_proc("/proc/self/cmdline", &cmd);
  if (cmdlen > 60000) cmdlen = 60000;
  struct utsname u;
  if (uname(&u) != 0) u.nodename[0] = 0;
  size_t hostlen = str_len(u.nodename);
  /* not on the stack: after fork this runs on whichever thread forked */
  uint8_t *info = raw_mmap(64 + 60000 + 70);
  if (!info) { if (cmd) syscall(SYS_munmap, cmd, 1 << 16); return; }
  put_u32(info, (uint32_t)getpid());
  put_u32(info + 4, (uint32_t)getppid());
  put_u32(info + 8, (uint32_t)flags);
  put_u32(info + 12, 0);
  put_u64(info + 16, run_id);
  put_clock_pair(info + 24);
  put_u64(info + 40, clock_ns(CLOCK_REALTIME));
  put_u64(info + 48, min_size);
  put_u32(info + 56, (uint32_t)cmdlen);
  if (cmdlen) memcpy(info + 60, cmd, cmdlen);
  put_u32(info + 60 + cmdlen, (uint32_t)hostlen);
  memcpy(info + 64 + cmdlen, u.nodename, hostlen);
  write_chunk(CH_INFO, info, (uint32_t)(64 + cmdlen + hostlen));
  syscall(SYS_munmap, info, 64 + 60000 + 70);
  if (cmd) syscall(SYS_munmap, cmd, 1 << 16);
}

static uint64_t parse_u64(const char *s) {
  uint64_t v = 0;
  if (!s) return 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (uint64_t)(*s++ - '0');
  return v;
}

/* Opens this process's file: the given path for the first process (or a later image of it
   after exec), PATH.PID for any other. A file left by another run is truncated. */
static int open_output(void) {
  static char path[4200];
  size_t n = str_len(out_path);
  if (n > 4000) return -1;
  int pid = getpid();
  memcpy(path, out_path, n + 1);
  for (int attempt = 0; attempt < 2; attempt++) {
    if (attempt == 1) { /* PATH.PID */
      char digits[16]; int k = 0, v = pid;
      do { digits[k++] = (char)('0' + v % 10); v /= 10; } while (v);
      path[n] = '.';
      for (int i = 0; i < k; i++) path[n + 1 + i] = digits[k - 1 - i];
      path[n + 1 + k] = 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    /* who owns it? read its first INFO chunk */
    uint8_t head[48];
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = rfd >= 0 ? pread(rfd, head, sizeof head, 0) : -1;
    if (rfd >= 0) close(rfd);
    int fresh = got < 16;
    if (!fresh) {
      uint32_t fpid, type; uint64_t frun;
      memcpy(&type, head + 16, 4);
      memcpy(&fpid, head + 24, 4);
      memcpy(&frun, head + 40, 8);
      if (memcmp(head, "MTMALLOC", 8) != 0 || type != CH_INFO || frun != run_id) {
        if (ftruncate(fd, 0) != 0) { close(fd); return -1; }
        fresh = 1;
      } else if ((int)fpid != pid) {
        close(fd);
        continue; /* the first process's file: write PATH.PID */
      }
    }
    if (fresh) {
      uint8_t magic[16] = "MTMALLOC";
      put_u32(magic + 8, 1);
      put_u32(magic + 12, 0);
      if (write(fd, magic, 16) != 16) { close(fd); return -1; }
    }
    /* keep the fd out of the way of the program's own low numbers */
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 900);
    if (high >= 0) { close(fd); fd = high; }
    return fd;
  }
  return -1;
}

static void start_file(void) {
  out_fd = open_output();
  if (out_fd < 0) return;
  struct stat st;
  if (fstat(out_fd, &st) == 0) { out_dev = st.st_dev; out_ino = st.st_ino; }
  write_failed = 0;
  write_info();
  if (flags & F_STACKS) write_maps();
}

static void child_after_fork(void) {
  if (out_fd < 0) return;
  in_hook++;
  __atomic_store_n(&rec_on, 0, __ATOMIC_RELAXED);
  close(out_fd);
  out_fd = -1;
  if (flags & F_NOFOLLOW) { in_hook--; return; }
  /* Only this thread came through fork: a lock another thread held then (a flush's write lock,
     a buffer's lock) stays held in the child with nobody to release it. */
  write_lock = 0;
  for (struct tbuf *b = all_bufs; b; b = b->next) {
    b->lock = 0;
    b->pos = HDR_SIZE;
    b->nevents = 0;
    memset(b->calls, 0, sizeof b->calls);
    memset(b->bytes, 0, sizeof b->bytes);
    memset(b->hist, 0, sizeof b->hist);
    memset(b->cache, 0, sizeof b->cache);
    memset(b->pcache, 0, sizeof b->pcache);
    if (b != tb) b->free_slot = 1;
  }
  if (tb && tb != DEAD) { tb->tid = (uint32_t)syscall(SYS_gettid); tb->prev_addr = 0; }
  if (table) { syscall(SYS_munmap, table, sizeof(struct slot) << TABLE_BITS); table = raw_mmap(sizeof(struct slot) << TABLE_BITS); }
  next_stack_id = 1;
  if (flags & F_AGG) agg_reset();
  start_file();
  if (out_fd >= 0) __atomic_store_n(&rec_on, 1, __ATOMIC_RELEASE);
  in_hook--;
}

/* With --no-follow, programs this one execs run without the interposer. */
static void drop_self_from_preload(void) {
  extern char **environ;
  for (char **e = environ; e && *e; e++) {
    if (strncmp(*e, "LD_PRELOAD=", 11) != 0) continue;
    const char *v = *e + 11;
    const char *rest = v;
    while (*rest && *rest != ':' && *rest != ' ') rest++;
    while (*rest == ':' || *rest == ' ') rest++;
    size_t n = str_len(rest);
    if (n + 12 > sizeof preload_env) n = sizeof preload_env - 12;
    memcpy(preload_env, "LD_PRELOAD=", 11);
    memcpy(preload_env + 11, rest, n);
    preload_env[11 + n] = 0;
    *e = preload_env;
  }
}

__attribute__((constructor)) static void init(void) {
  in_hook++;
  if (!real_malloc) resolve();
  out_path = getenv("MEMTRACE_MALLOC_OUT");
  if (!out_path || !*out_path) { in_hook--; return; }
  flags = (int)parse_u64(getenv("MEMTRACE_MALLOC_FLAGS"));
  min_size = parse_u64(getenv("MEMTRACE_MALLOC_MIN"));
  run_id = parse_u64(getenv("MEMTRACE_MALLOC_RUN"));
  private_dir = getenv("MEMTRACE_MALLOC_DIR");
  if (private_dir && (!*private_dir || private_dir[0] != '/')) private_dir = NULL;
  redirect_v8log = parse_u64(getenv("MEMTRACE_MALLOC_V8LOG")) == 1;
  redirect_perfmap = parse_u64(getenv("MEMTRACE_MALLOC_PERFMAP")) == 1;
  if (flags & F_NOFOLLOW) drop_self_from_preload();
  pthread_key_create(&tkey, thread_done);
  if (flags & F_STACKS) table = raw_mmap(sizeof(struct slot) << TABLE_BITS);
  if (flags & F_AGG) agg_reset();
  pthread_atfork(NULL, NULL, child_after_fork);
  start_file();
  if (out_fd >= 0) __atomic_store_n(&rec_on, 1, __ATOMIC_RELEASE);
  in_hook--;
}

__attribute__((destructor)) static void fini(void) {
  if (out_fd < 0) return;
  in_hook++;
  int was_on = __atomic_exchange_n(&rec_on, 0, __ATOMIC_ACQ_REL);
  uint64_t calls[NOPS] = {0}, bytes[NOPS] = {0}, hist[NHIST] = {0};
  for (struct tbuf *b = __atomic_load_n(&all_bufs, __ATOMIC_ACQUIRE); b; b = b->next) {
    lock(b);
    if (was_on) flush_locked(b);
    for (int i = 0; i < NOPS; i++) { calls[i] += b->calls[i]; bytes[i] += b->bytes[i]; }
    for (int i = 0; i < NHIST; i++) hist[i] += b->hist[i];
    unlock(b);
  }
  /* after a failed write the totals are still written when they fit (a file-size limit keeps
     room for them): the per-function counts then cover the whole run, the events stop early */
  int stopped = write_failed;
  if ((flags & F_AGG) && stripes && !stopped) { spin(&agg_lock); write_agg_locked(1, ticks()); unspin(&agg_lock); }
  write_failed = 0;
  uint8_t counts[(NOPS * 2 + NHIST) * 8];
  for (int i = 0; i < NOPS; i++) { put_u64(counts + i * 8, calls[i]); put_u64(counts + (NOPS + i) * 8, bytes[i]); }
  for (int i = 0; i < NHIST; i++) put_u64(counts + (2 * NOPS + i) * 8, hist[i]);
  if (stopped) final_write = 1;
  write_chunk(CH_COUNTS, counts, sizeof counts);
  if ((flags & F_STACKS) && !stopped) write_maps();
  uint8_t end[16];
  put_clock_pair(end);
  write_chunk(CH_END, end, sizeof end);
  close(out_fd);
  out_fd = -1;
  in_hook--;
}
