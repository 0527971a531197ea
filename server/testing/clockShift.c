/*
 * LD_PRELOAD shim that shifts a process's wall clock by an offset in microseconds, read
 * from the file named by CLOCKSHIFT_FILE (re-read at most every 20 ms, so a test steps the
 * clock of a running process by rewriting the file). Only time, gettimeofday and
 * clock_gettime on the realtime clocks are shifted: monotonic clocks stay true, as they
 * would on a machine whose clock an administrator or NTP stepped.
 *
 * Why not Debian's faketime: libfaketime deadlocks in redis-server at start-up ("Unexpected
 * recursive calls to clock_gettime()", libfaketime issues #130 and #327): Redis links jemalloc,
 * which calls clock_gettime while libfaketime is still resolving symbols with dlsym. This
 * shim resolves nothing: it makes the system calls itself and never allocates. It uses
 * openat, not open, because aarch64 has no open system call.
 *
 * Built by clockShiftedRedis.ts: cc -shared -fPIC -O2 -o clockshift.so clockShift.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long cached_offset_us = 0;
static long long cached_at_ms = -1000000;

static long long read_offset_us(void) {
  const char *path = getenv("CLOCKSHIFT_FILE");
  if (!path) return 0;
  struct timespec mono;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &mono);
  long long now_ms = (long long)mono.tv_sec * 1000 + mono.tv_nsec / 1000000;
  if (now_ms - cached_at_ms < 20) return cached_offset_us;
  cached_at_ms = now_ms;
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cached_offset_us;
  char buf[32];
  long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
  syscall(SYS_close, fd);
  if (n <= 0) return cached_offset_us;
  buf[n] = 0;
  long long v = 0;
  int i = 0, neg = 0;
  if (buf[0] == '-') { neg = 1; i = 1; }
  for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) v = v * 10 + (buf[i] - '0');
  cached_offset_us = neg ? -v : v;
  return cached_offset_us;
}

static void shift(struct timespec *ts) {
  long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + read_offset_us() * 1000LL;
  ts->tv_sec = ns / 1000000000LL;
  ts->tv_nsec = ns % 1000000000LL;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
  int r = (int)syscall(SYS_clock_gettime, id, ts);
  if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) shift(ts);
  return r;
}

int gettimeofday(struct timeval *tv, void *tz) {
  (void)tz;
  struct timespec ts;
  int r = (int)syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
  if (r != 0) return r;
  shift(&ts);
  struct timeval *volatile out = tv; /* glibc declares it nonnull; callers still pass NULL */
  if (out) {
    out->tv_sec = ts.tv_sec;
    out->tv_usec = ts.tv_nsec / 1000;
  }
  return 0;
}

time_t time(time_t *out) {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
  shift(&ts);
  if (out) *out = ts.tv_sec;
  return ts.tv_sec;
}
