/*
 * The Node-API addon of memtrace's runtime (the code it loads into traced programs), built at
 * install by native/build.js. Two parts:
 *
 * connect(path): a blocking connect(2) to memtrace's unix socket, returning the descriptor (or
 * -errno). Node can only connect a socket asynchronously, so a probe that must have its channel
 * before the program's first line had to be an `--import` with top-level await, and under
 * `--import` node 20 runs a CommonJS main through its ESM loader (a .ts main under ts-node
 * fails, an uncaught exception prints differently). With this the probe connects from a
 * `--require` preload, and node runs the main module as it does untraced.
 *
 * start(intervalMs) / wake(): the RSS publisher of `memtrace calls` as a plain thread (no V8 isolate: a Worker costs the
 * traced program 11-20 MiB of RSS). A Node-API addon exporting `start(intervalMs)` and `wake()`: it returns an
 * ArrayBuffer over memory that is never freed (so the thread may outlive the isolate at exit)
 * and starts a detached thread that reads /proc/self/statm every interval while slot ACTIVE is
 * 1, writes the resident pages, and raises slot MOVED when they moved THRESHOLD pages from
 * REFERENCE (the layout of RSS_SLOT in src/runtime/rss-publisher.ts).
 *
 * weakHold(object) / weakAlive(i) / weakDrop(i): weak references that do not keep their target
 * alive to the end of the current job, as a JS WeakRef does (V8 keeps every WeakRef target made
 * in a job until the job ends): heap's Buffer sampler holds a sampled Buffer this way, so a
 * program that makes and drops Buffers in one long synchronous loop frees them as untraced.
 * mainThread(): whether the caller is on the process's main thread (calls' preload asks it).
 * heapPeakStart() / heapPeakStop() / heapStatistics(): the JS heap's high-water mark, read at the
 * start of every GC (a prologue callback of V8's, reached through the C++ symbols node exports to
 * its addons; Node-API has no GC hook): between two polls a synchronous stretch can raise the heap
 * and a GC free it again, and only the GC sees the top. See heap_peak below.
 * epochAtMonotonicZero(): the wall-clock time (epoch ms) at which CLOCK_MONOTONIC, node's
 * process.hrtime(), read zero: calls' runtime times its events with it instead of the
 * `performance` global (perf_hooks costs a program 1.5 MiB of RSS).
 * Node-API is a stable C ABI: the few declarations below stand in for node_api.h, so the addon
 * builds with a C compiler alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status;
typedef napi_value (*napi_callback)(napi_env, napi_callback_info);
typedef void (*napi_finalize)(napi_env, void *, void *);
#define NAPI_AUTO_LENGTH SIZE_MAX /* as node_api_types.h: the name's length by strlen */
extern napi_status napi_get_cb_info(napi_env, napi_callback_info, size_t *, napi_value *, napi_value *, void **);
extern napi_status napi_get_value_int32(napi_env, napi_value, int32_t *);
extern napi_status napi_create_external_arraybuffer(napi_env, void *, size_t, napi_finalize, void *, napi_value *);
extern napi_status napi_create_function(napi_env, const char *, size_t, napi_callback, void *, napi_value *);
extern napi_status napi_set_named_property(napi_env, napi_value, const char *, napi_value);
extern napi_status napi_get_null(napi_env, napi_value *);
extern napi_status napi_get_value_string_utf8(napi_env, napi_value, char *, size_t, size_t *);
extern napi_status napi_create_int32(napi_env, int32_t, napi_value *);
extern napi_status napi_create_double(napi_env, double, napi_value *);
extern napi_status napi_create_array_with_length(napi_env, size_t, napi_value *);
extern napi_status napi_set_element(napi_env, napi_value, uint32_t, napi_value);
typedef struct napi_ref__ *napi_ref;
extern napi_status napi_create_reference(napi_env, napi_value, uint32_t, napi_ref *);
extern napi_status napi_delete_reference(napi_env, napi_ref);
extern napi_status napi_get_reference_value(napi_env, napi_ref, napi_value *);
extern napi_status napi_get_boolean(napi_env, _Bool, napi_value *);
extern napi_status napi_set_instance_data(napi_env, void *, napi_finalize, void *);
extern napi_status napi_get_instance_data(napi_env, void **);
extern napi_status napi_run_script(napi_env, napi_value, napi_value *);

enum { MOVED = 0, PAGES = 1, REFERENCE = 2, THRESHOLD = 3, ACTIVE = 4, READY = 5, STOP = 6, READINGS = 7, SLOTS = 16 };

struct publisher { int32_t *v; long interval_ns; };

/* While no trace is on the thread waits on this condition (10 ms at most); wake() ends the wait
   at once, so a trace's first reading comes within an interval of its start. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t woken = PTHREAD_COND_INITIALIZER;

static void park(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 10 * 1000000L;
  if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
  pthread_mutex_lock(&lock);
  pthread_cond_timedwait(&woken, &lock, &ts);
  pthread_mutex_unlock(&lock);
}

static void sleep_ns(long ns) {
  struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
  while (nanosleep(&ts, &ts) != 0) { }
}

static void *loop(void *arg) {
  struct publisher *p = arg;
  int32_t *v = p->v;
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  char b[128];
  __atomic_store_n(&v[READY], 1, __ATOMIC_SEQ_CST);
  while (fd >= 0 && __atomic_load_n(&v[STOP], __ATOMIC_SEQ_CST) != 1) {
    if (__atomic_load_n(&v[ACTIVE], __ATOMIC_SEQ_CST) != 1) { park(); continue; }
    ssize_t n = pread(fd, b, sizeof b, 0);
    ssize_t i = 0;
    while (i < n && b[i] != ' ') i++;
    i++;
    int32_t pages = 0;
    while (i < n && b[i] >= '0' && b[i] <= '9') pages = pages * 10 + (b[i++] - '0');
    __atomic_store_n(&v[PAGES], pages, __ATOMIC_RELAXED);
    int32_t th = __atomic_load_n(&v[THRESHOLD], __ATOMIC_RELAXED);
    int32_t d = pages - __atomic_load_n(&v[REFERENCE], __ATOMIC_RELAXED);
    if (th == 0 || d >= th || d <= -th) __atomic_store_n(&v[MOVED], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&v[READINGS], 1, __ATOMIC_RELAXED);
    sleep_ns(p->interval_ns);
  }
  if (fd >= 0) close(fd);
  return NULL;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t interval_ms = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) napi_get_value_int32(env, argv[0], &interval_ms);
  if (interval_ms < 1) interval_ms = 1;
  struct publisher *p = calloc(1, sizeof *p);
  int32_t *v = calloc(SLOTS, sizeof(int32_t));
  if (!p || !v) { napi_get_null(env, &result); return result; }
  p->v = v;
  p->interval_ns = interval_ms * 1000000L;
  pthread_attr_t attr;
  pthread_t t;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int failed = pthread_create(&t, &attr, loop, p);
  pthread_attr_destroy(&attr);
  if (failed || napi_create_external_arraybuffer(env, v, SLOTS * sizeof(int32_t), NULL, NULL, &result) != 0) napi_get_null(env, &result);
  return result;
}

static napi_value wake(napi_env env, napi_callback_info info) {
  napi_value result;
  pthread_mutex_lock(&lock);
  pthread_cond_broadcast(&woken);
  pthread_mutex_unlock(&lock);
  napi_get_null(env, &result);
  return result;
}

static napi_value connect_unix(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1], result;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  int32_t fd = -EINVAL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1 && napi_get_value_string_utf8(env, argv[0], addr.sun_path, sizeof addr.sun_path, &len) == 0 && len > 0 && len < sizeof addr.sun_path - 1) {
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fd = -errno;
    else {
      int r;
      do r = connect(fd, (struct sockaddr *)&addr, sizeof addr); while (r < 0 && errno == EINTR);
      if (r < 0) { int e = errno; close(fd); fd = -e; }
    }
  }
  napi_create_int32(env, fd, &result);
  return result;
}

/* The weak references of one env (main thread or worker): slots, and a free list through them. */
struct weak_table { napi_ref *refs; int32_t *next_free; int32_t size, free_head; };

static void free_weak_table(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  struct weak_table *t = data;
  /* Node deletes the references of an env that ends; only the table's memory is ours. */
  free(t->refs);
  free(t->next_free);
  free(t);
}

static struct weak_table *weak_table(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) == 0 && data) return data;
  struct weak_table *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->free_head = -1;
  if (napi_set_instance_data(env, t, free_weak_table, NULL) != 0) { free(t); return NULL; }
  return t;
}

static int32_t arg_index(napi_env env, napi_callback_info info, struct weak_table **table) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t i = -1;
  *table = weak_table(env);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 1 || napi_get_value_int32(env, argv[0], &i) != 0) return -1;
  if (!*table || i < 0 || i >= (*table)->size || !(*table)->refs[i]) return -1;
  return i;
}

/* weakHold(object): the slot of a new weak reference to it, or -1. */
static napi_value weak_hold(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t slot = -1;
  struct weak_table *t = weak_table(env);
  if (t && napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == 0 && argc >= 1) {
    if (t->free_head < 0) {
      int32_t size = t->size ? t->size * 2 : 1024;
      napi_ref *refs = realloc(t->refs, sizeof *refs * (size_t)size);
      if (refs) t->refs = refs;
      int32_t *next = refs ? realloc(t->next_free, sizeof *next * (size_t)size) : NULL;
      if (next) {
        t->next_free = next;
        for (int32_t k = size - 1; k >= t->size; k--) { t->refs[k] = NULL; t->next_free[k] = t->free_head; t->free_head = k; }
        t->size = size;
      }
    }
    if (t->free_head >= 0) {
      napi_ref ref;
      if (napi_create_reference(env, argv[0], 0, &ref) == 0) {
        slot = t->free_head;
        t->free_head = t->next_free[slot];
        t->refs[slot] = ref;
      }
    }
  }
  napi_create_int32(env, slot, &result);
  return result;
}

/* weakAlive(slot): whether the object is still there. */
static napi_value weak_alive(napi_env env, napi_callback_info info) {
  struct weak_table *t;
  napi_value value = NULL, result;
  int32_t i = arg_index(env, info, &t);
  if (i >= 0) napi_get_reference_value(env, t->refs[i], &value);
  napi_get_boolean(env, value != NULL, &result);
  return result;
}

/* weakDrop(slot): forgets the reference; the slot is reused. */
static napi_value weak_drop(napi_env env, napi_callback_info info) {
  struct weak_table *t;
  napi_value result;
  int32_t i = arg_index(env, info, &t);
  if (i >= 0) {
    napi_delete_reference(env, t->refs[i]);
    t->refs[i] = NULL;
    t->next_free[i] = t->free_head;
    t->free_head = i;
  }
  napi_get_null(env, &result);
  return result;
}

/* mainThread(): whether the caller runs on the process's main thread (its thread id is the
 * process id), where node runs the main isolate; a Worker runs on another. Asked instead of
 * node:worker_threads' isMainThread, whose module costs a program ~0.5 MiB of RSS (more with
 * the stream stack it loads, in a program that has not loaded it). */
static napi_value main_thread(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, syscall(SYS_gettid) == getpid(), &result);
  return result;
}

/* epochAtMonotonicZero(): CLOCK_REALTIME minus CLOCK_MONOTONIC, in ms, the realtime read between
 * two monotonic reads (their mean is taken as its moment). */
static double ms_of(const struct timespec *t) { return (double)t->tv_sec * 1e3 + (double)t->tv_nsec / 1e6; }

static napi_value epoch_at_monotonic_zero(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec m1, r, m2;
  napi_value result;
  clock_gettime(CLOCK_MONOTONIC, &m1);
  clock_gettime(CLOCK_REALTIME, &r);
  clock_gettime(CLOCK_MONOTONIC, &m2);
  napi_create_double(env, ms_of(&r) - (ms_of(&m1) + ms_of(&m2)) / 2, &result);
  return result;
}

/* heap_peak: v8::Isolate's C++ API, called by its mangled names (Itanium ABI: `this` first, enums
 * as ints), declared weak so that a node without them loads the addon and says null. The layout
 * of v8::HeapStatistics (fourteen size_t-sized fields, used_heap_size_ the 5th and
 * external_memory_ the 8th) is the same in V8 11.3 (Node 20) to 13.6 (Node 24); the JS side
 * checks heapStatistics() against process.memoryUsage() before it trusts the hook. */
typedef struct v8_isolate v8_isolate;
typedef void (*v8_gc_callback)(v8_isolate *, int type, int flags, void *data);
extern v8_isolate *_ZN2v87Isolate10GetCurrentEv(void) __attribute__((weak));
extern void _ZN2v87Isolate21AddGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_(v8_isolate *, v8_gc_callback, void *, int) __attribute__((weak));
extern void _ZN2v87Isolate24RemoveGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_(v8_isolate *, v8_gc_callback, void *) __attribute__((weak));
extern void _ZN2v814HeapStatisticsC1Ev(void *) __attribute__((weak));
extern void _ZN2v87Isolate17GetHeapStatisticsEPNS_14HeapStatisticsE(v8_isolate *, void *) __attribute__((weak));

enum { GC_ALL = 31, HS_USED = 4, HS_EXTERNAL = 7 };
/* The slots JS reads (Float64Array): the highest used + external seen at a GC's start, its
 * used and external bytes, its CLOCK_MONOTONIC ms, resident pages then, and GCs seen. */
enum { PK_TOTAL = 0, PK_USED = 1, PK_EXTERNAL = 2, PK_T = 3, PK_PAGES = 4, PK_GCS = 5, PK_SLOTS = 8 };
static v8_isolate *peak_isolate;
static double *peak_slots;
static int peak_statm = -1;

static int heap_api(void) {
  return _ZN2v87Isolate10GetCurrentEv && _ZN2v87Isolate21AddGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_
    && _ZN2v87Isolate24RemoveGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_ && _ZN2v814HeapStatisticsC1Ev
    && _ZN2v87Isolate17GetHeapStatisticsEPNS_14HeapStatisticsE;
}

/* Reads used and external bytes; the buffer is larger than any HeapStatistics so far. */
static void heap_figures(v8_isolate *isolate, double *used, double *external) {
  size_t hs[64];
  memset(hs, 0, sizeof hs);
  _ZN2v814HeapStatisticsC1Ev(hs);
  _ZN2v87Isolate17GetHeapStatisticsEPNS_14HeapStatisticsE(isolate, hs);
  *used = (double)hs[HS_USED];
  *external = (double)hs[HS_EXTERNAL];
}

static void on_gc_start(v8_isolate *isolate, int type, int flags, void *data) {
  (void)type; (void)flags;
  double *v = data, used, external;
  heap_figures(isolate, &used, &external);
  v[PK_GCS] += 1;
  if (used + external <= v[PK_TOTAL]) return;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  v[PK_TOTAL] = used + external; v[PK_USED] = used; v[PK_EXTERNAL] = external;
  v[PK_T] = ms_of(&ts);
  char b[64];
  ssize_t n = peak_statm >= 0 ? pread(peak_statm, b, sizeof b - 1, 0) : -1;
  double pages = 0;
  ssize_t i = 0;
  while (i < n && b[i] != ' ') i++;
  for (i++; i < n && b[i] >= '0' && b[i] <= '9'; i++) pages = pages * 10 + (b[i] - '0');
  v[PK_PAGES] = n > 0 ? pages : -1;
}

static napi_value heap_peak_start(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  if (!heap_api() || peak_isolate || !(peak_isolate = _ZN2v87Isolate10GetCurrentEv())) { napi_get_null(env, &result); return result; }
  peak_slots = calloc(PK_SLOTS, sizeof(double));
  if (!peak_slots || napi_create_external_arraybuffer(env, peak_slots, PK_SLOTS * sizeof(double), NULL, NULL, &result) != 0) {
    peak_isolate = NULL;
    napi_get_null(env, &result);
    return result;
  }
  peak_statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  _ZN2v87Isolate21AddGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_(peak_isolate, on_gc_start, peak_slots, GC_ALL);
  return result;
}

static napi_value heap_peak_stop(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  if (peak_isolate) {
    _ZN2v87Isolate24RemoveGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_(peak_isolate, on_gc_start, peak_slots);
    peak_isolate = NULL;
    if (peak_statm >= 0) { close(peak_statm); peak_statm = -1; }
  }
  napi_get_null(env, &result);
  return result;
}

/* heapStatistics(): [used, external] as the hook reads them (for the JS side's check), or null. */
static napi_value heap_statistics(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, n;
  v8_isolate *isolate = heap_api() ? _ZN2v87Isolate10GetCurrentEv() : NULL;
  if (!isolate || napi_create_array_with_length(env, 2, &result) != 0) { napi_get_null(env, &result); return result; }
  double used, external;
  heap_figures(isolate, &used, &external);
  napi_create_double(env, used, &n); napi_set_element(env, result, 0, n);
  napi_create_double(env, external, &n); napi_set_element(env, result, 1, n);
  return result;
}

/* runScript(source): runs `source` as a classic script of the caller's realm (what
 * vm.runInThisContext does) and returns its value: its top-level `const`s are script-scope names
 * every script and module resolves. node:vm's module costs a program ~0.4 MiB of RSS. */
static napi_value run_script(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 1 || napi_run_script(env, argv[0], &result) != 0) {
    napi_get_null(env, &result); /* a throw of the script's stays pending: the caller gets it */
  }
  return result;
}

static void export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  export_function(env, exports, "start", start);
  export_function(env, exports, "wake", wake);
  export_function(env, exports, "connect", connect_unix);
  export_function(env, exports, "weakHold", weak_hold);
  export_function(env, exports, "weakAlive", weak_alive);
  export_function(env, exports, "weakDrop", weak_drop);
  export_function(env, exports, "mainThread", main_thread);
  export_function(env, exports, "epochAtMonotonicZero", epoch_at_monotonic_zero);
  export_function(env, exports, "heapPeakStart", heap_peak_start);
  export_function(env, exports, "heapPeakStop", heap_peak_stop);
  export_function(env, exports, "heapStatistics", heap_statistics);
  export_function(env, exports, "runScript", run_script);
  return exports;
}
