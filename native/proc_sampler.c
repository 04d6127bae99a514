// memtrace-proc-sampler: paces `memtrace process` at fast intervals with a kernel timer.
//
//   memtrace-proc-sampler fifo PATH                 make the FIFO PATH (mode 0600)
//   memtrace-proc-sampler run PID INTERVAL_US PATH [BATCH_MS]
//                                                   sample PID's statm every INTERVAL_US into PATH
//
// A periodic timerfd wakes it once per tick (one read, no condition variable, no JS engine to
// re-enter), it preads /proc/PID/statm from a kept-open fd and appends a 16-byte record
// { double epoch_ms; uint32 resident_pages; uint32 shared_pages } (host byte order) to a buffer
// written to the FIFO every BATCH_MS (default 50; memtrace gives 50). The sampling thread reads the
// batches every 100 ms: one wake of memtrace's JS thread per 100 samples at 1 kHz. It ends when the process is gone (statm
// unreadable or empty), when the reader has gone (EPIPE) or when the thread that started it ends.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct record { double t; uint32_t resident; uint32_t shared; };

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    p += w; n -= (size_t)w;
  }
  return 0;
}

static double now_ms(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "fifo") == 0) return mkfifo(argv[2], 0600) == 0 ? 0 : 1;
  if ((argc != 5 && argc != 6) || strcmp(argv[1], "run") != 0) {
    fprintf(stderr, "usage: %s fifo PATH | run PID INTERVAL_US PATH [BATCH_MS]\n", argv[0]);
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);
  long pid = strtol(argv[2], NULL, 10);
  long interval_us = strtol(argv[3], NULL, 10);
  long batch_ms = argc == 6 ? strtol(argv[5], NULL, 10) : 50;
  if (pid <= 0 || interval_us <= 0 || batch_ms <= 0) return 2;
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/statm", pid);
  int statm = open(path, O_RDONLY | O_CLOEXEC);
  int out = open(argv[4], O_WRONLY | O_CLOEXEC);
  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (statm < 0 || out < 0 || timer < 0) return 1;
  struct itimerspec spec = {
    .it_interval = { interval_us / 1000000, (interval_us % 1000000) * 1000 },
    .it_value = { 0, 1 },
  };
  if (timerfd_settime(timer, 0, &spec, NULL) < 0) return 1;

  enum { MAX = 512 };
  static struct record batch[MAX];
  int n = 0;
  double last_flush = 0; // the first reading goes out at once: the sampling thread sees the helper is up
  char text[256];
  for (;;) {
    uint64_t expirations;
    if (read(timer, &expirations, sizeof expirations) < 0) { if (errno == EINTR) continue; break; }
    ssize_t len = pread(statm, text, sizeof text - 1, 0);
    if (len <= 0) break; // the process has gone
    text[len] = 0;
    unsigned long size, resident, shared;
    if (sscanf(text, "%lu %lu %lu", &size, &resident, &shared) != 3 || size == 0) break; // gone, or a zombie
    batch[n++] = (struct record){ now_ms(CLOCK_REALTIME), (uint32_t)resident, (uint32_t)shared };
    double mono = now_ms(CLOCK_MONOTONIC);
    if (n == MAX || mono - last_flush >= batch_ms) {
      if (write_all(out, batch, n * sizeof batch[0]) < 0) return 0; // the reader has gone
      n = 0;
      last_flush = mono;
    }
  }
  if (n > 0) write_all(out, batch, n * sizeof batch[0]);
  return 0;
}
