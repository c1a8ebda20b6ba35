/*
 * NovaCron workload guest: runs as /init (PID 1) in an initramfs under QEMU.
 * Fills a working set with non-zero data, then dirties it at a set rate
 * (MiB/s, one byte per 4 KiB page, pages in a cycling order) and prints
 * "HB <seq>\n" on the first serial port every millisecond, writing the
 * UART's data register directly (port 0x3f8) so no tty layer delays it.
 * Parameters come from the kernel command line, which the kernel passes
 * to init as environment variables: nc_rate_mib (default 16),
 * nc_ws_mib (default 256).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <time.h>
#include <unistd.h>

#define COM1 0x3f8
#define PAGE 4096

static void serial_write(const char *s) {
  for (; *s; s++) {
    while ((inb(COM1 + 5) & 0x20) == 0) { /* wait for THR empty */
    }
    outb((unsigned char)*s, COM1);
  }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long env_long(const char *name, long fallback) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : fallback;
}

int main(void) {
  if (iopl(3) != 0) {
    perror("iopl");
    for (;;) pause();
  }
  long rate_mib = env_long("nc_rate_mib", 16);
  long ws_mib = env_long("nc_ws_mib", 256);
  size_t ws = (size_t)ws_mib << 20;
  size_t pages = ws / PAGE;
  unsigned char *mem = malloc(ws);
  if (!mem) {
    serial_write("NC-ERROR malloc\n");
    for (;;) pause();
  }
  /* Non-zero, varied contents so migration cannot skip the pages as zero. */
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < ws; i += 4) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    memcpy(mem + i, &x, 4);
  }
  char line[64];
  snprintf(line, sizeof line, "NC-READY rate=%ld ws=%ld\n", rate_mib, ws_mib);
  serial_write(line);

  double pages_per_ns = (double)(rate_mib << 20) / PAGE / 1e9;
  uint64_t start = now_ns();
  uint64_t dirtied = 0;
  size_t cursor = 0;
  unsigned long long seq = 0;
  struct timespec tick = {0, 1000000};
  for (;;) {
    uint64_t due = (uint64_t)((double)(now_ns() - start) * pages_per_ns);
    for (; dirtied < due; dirtied++) {
      mem[cursor * PAGE + (dirtied % PAGE)] ^= (unsigned char)(dirtied | 1);
      cursor = (cursor + 7919) % pages; /* a prime stride visits every page */
    }
    snprintf(line, sizeof line, "HB %llu\n", ++seq);
    serial_write(line);
    nanosleep(&tick, NULL);
  }
}
