/*
 * A stepped wall clock for one process (the chaos campaign's redis-server), used when
 * Debian's libfaketime cannot run it: libfaketime hangs in its initialisation under
 * jemalloc, which Debian's redis-server links (libfaketime issue #130). Only the wall clock
 * moves; monotonic clocks stay true. The offset, in whole seconds with a sign ("-3600"), is
 * read from the file named by COHORT_CLOCK_FILE at most every 10 ms. Raw syscalls only, no
 * allocation, so it is safe during any library's initialisation.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long cached_offset = 0;
static long long next_read_ns = 0;

static long long mono_ns(void) {
  struct timespec m;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &m);
  return (long long)m.tv_sec * 1000000000LL + m.tv_nsec;
}

static long long offset_s(void) {
  long long now = mono_ns();
  if (now < next_read_ns) return cached_offset;
  next_read_ns = now + 10000000LL;
  const char *path = getenv("COHORT_CLOCK_FILE");
  if (!path) return cached_offset = 0;
  int fd = (int)syscall(SYS_open, path, O_RDONLY);
  if (fd < 0) return cached_offset;
  char buf[32];
  long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
  syscall(SYS_close, fd);
  if (n <= 0) return cached_offset;
  buf[n] = 0;
  long long v = 0, sign = 1;
  int i = 0;
  while (buf[i] == ' ') i++;
  if (buf[i] == '-' || buf[i] == '+') sign = buf[i++] == '-' ? -1 : 1;
  while (buf[i] >= '0' && buf[i] <= '9') v = v * 10 + (buf[i++] - '0');
  return cached_offset = sign * v;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
  long r = syscall(SYS_clock_gettime, id, ts);
  if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) ts->tv_sec += offset_s();
  return (int)r;
}

int gettimeofday(struct timeval *tv, void *tz) {
  (void)tz;
  struct timespec ts;
  int r = clock_gettime(CLOCK_REALTIME, &ts);
  if (r == 0 && tv) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  return r;
}

time_t time(time_t *t) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (t) *t = ts.tv_sec;
  return ts.tv_sec;
}
