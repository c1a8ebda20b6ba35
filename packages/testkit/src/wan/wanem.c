/*
 * wanem: a userspace WAN link emulator between two network namespaces.
 *
 * It opens one TUN device inside each namespace (setns, then /dev/net/tun,
 * so each device is born in its namespace) and forwards every IP packet read
 * from one device to the other through a model of a WAN path, separately
 * for each direction:
 *
 *   random loss  ->  drop-tail bottleneck queue served at `rate`  ->  delay + jitter
 *
 * Loss is drawn per packet (before the queue, as on a lossy link). The
 * bottleneck serialises packets at the configured rate; a packet that finds
 * `queue` packets waiting (the one on the wire included) is dropped. Each
 * packet then waits `delay` (one way) plus a uniform jitter in
 * [-jitter, +jitter]; delivery times never go backwards, so jitter does not
 * reorder packets (as with netem's rate option). The kernel has no netem
 * here; this does the same job from userspace.
 *
 * Usage: wanem --ns-a PATH --dev-a NAME --ns-b PATH --dev-b NAME
 *              [--delay-ms D] [--jitter-ms J] [--loss P] [--rate-mbit R]
 *              [--queue N] [--mtu M] [--slots S] [--seed X]
 * PATH is a namespace file (/run/netns/NAME). D, J are one-way, R = 0 means
 * unlimited, P is a fraction (0.005 = 0.5%). Prints "ready" once both devices
 * exist; on SIGTERM/SIGINT (or SIGUSR1, without exiting) prints one JSON line
 * of per-direction counters. Exit code 2 on bad arguments, 1 on setup errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  uint64_t tx_end;     /* when the bottleneck finished serialising it (ns) */
  uint64_t deliver_at; /* when it leaves the delay line (ns) */
  uint32_t len;
} meta_t;

typedef struct {
  const char *name;
  int in_fd, out_fd;
  meta_t *meta;
  uint8_t *data;
  uint32_t slots, head, tail, count, bq_head; /* bq_head: first packet still at the bottleneck */
  uint64_t last_tx_end, last_deliver;
  uint64_t rx, tx, tx_bytes, lost, queue_drops, full_drops, write_errors, max_queue;
} dir_t;

static volatile sig_atomic_t stop_flag = 0, dump_flag = 0;
static uint64_t delay_ns = 0, jitter_ns = 0, rate_bps = 0;
static double loss = 0;
static uint32_t queue_limit = 1000, mtu = 1500, slot_size = 0;
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static void on_stop(int sig) { (void)sig; stop_flag = 1; }
static void on_dump(int sig) { (void)sig; dump_flag = 1; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, seedable, good enough for loss and jitter draws. */
static double rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void die(const char *what) {
  fprintf(stderr, "wanem: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int open_tun_in(const char *ns_path, const char *dev, int home_ns) {
  int ns = open(ns_path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) die(ns_path);
  if (setns(ns, CLONE_NEWNET) < 0) die("setns");
  close(ns);
  /* The device is created in the namespace of the process that opens /dev/net/tun. */
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) die("/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  if (setns(home_ns, CLONE_NEWNET) < 0) die("setns back");
  return fd;
}

static void dir_init(dir_t *d, const char *name, int in_fd, int out_fd, uint32_t slots) {
  memset(d, 0, sizeof *d);
  d->name = name;
  d->in_fd = in_fd;
  d->out_fd = out_fd;
  d->slots = slots;
  d->meta = calloc(slots, sizeof(meta_t));
  d->data = calloc(slots, slot_size); /* untouched pages cost nothing */
  if (!d->meta || !d->data) die("calloc");
}

static uint32_t bottleneck_occupancy(dir_t *d, uint64_t now) {
  while (d->bq_head != d->tail && d->meta[d->bq_head].tx_end <= now) d->bq_head = (d->bq_head + 1) % d->slots;
  /* Only called with room in the ring, so tail == bq_head means an empty bottleneck. */
  return (d->tail + d->slots - d->bq_head) % d->slots;
}

/* Reads what the device has, up to a batch, and schedules each packet. */
static void ingest(dir_t *d) {
  for (int batch = 0; batch < 64; batch++) {
    if (d->count == d->slots) return;
    uint8_t *buf = d->data + (size_t)d->tail * slot_size;
    ssize_t n = read(d->in_fd, buf, slot_size);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EINTR) die("read");
      return;
    }
    d->rx++;
    uint64_t now = now_ns();
    if (loss > 0 && rnd() < loss) {
      d->lost++;
      continue;
    }
    uint32_t occ = bottleneck_occupancy(d, now);
    if (rate_bps > 0 && occ >= queue_limit) {
      d->queue_drops++;
      continue;
    }
    if (occ + 1 > d->max_queue) d->max_queue = occ + 1;
    uint64_t start = d->last_tx_end > now ? d->last_tx_end : now;
    uint64_t tx_end = rate_bps > 0 ? start + ((uint64_t)n * 8ull * 1000000000ull) / rate_bps : now;
    int64_t jit = jitter_ns > 0 ? (int64_t)((rnd() * 2.0 - 1.0) * (double)jitter_ns) : 0;
    int64_t at = (int64_t)tx_end + (int64_t)delay_ns + jit;
    if (at < (int64_t)tx_end) at = (int64_t)tx_end;
    uint64_t deliver = (uint64_t)at < d->last_deliver ? d->last_deliver : (uint64_t)at;
    d->last_tx_end = tx_end;
    d->last_deliver = deliver;
    meta_t *m = &d->meta[d->tail];
    m->tx_end = tx_end;
    m->deliver_at = deliver;
    m->len = (uint32_t)n;
    d->tail = (d->tail + 1) % d->slots;
    d->count++;
  }
}

/* Writes every packet whose time has come; returns ns until the next one (UINT64_MAX if none). */
static uint64_t deliver(dir_t *d, uint64_t now) {
  while (d->count > 0) {
    meta_t *m = &d->meta[d->head];
    if (m->deliver_at > now) return m->deliver_at - now;
    ssize_t w = write(d->out_fd, d->data + (size_t)d->head * slot_size, m->len);
    if (w < 0) d->write_errors++;
    else {
      d->tx++;
      d->tx_bytes += m->len;
    }
    if (d->bq_head == d->head) d->bq_head = (d->bq_head + 1) % d->slots;
    d->head = (d->head + 1) % d->slots;
    d->count--;
  }
  return UINT64_MAX;
}

static void print_dir(const dir_t *d) {
  printf("\"%s\":{\"rx\":%llu,\"tx\":%llu,\"txBytes\":%llu,\"lost\":%llu,\"queueDrops\":%llu,\"writeErrors\":%llu,"
         "\"maxQueue\":%llu}",
         d->name, (unsigned long long)d->rx, (unsigned long long)d->tx, (unsigned long long)d->tx_bytes,
         (unsigned long long)d->lost, (unsigned long long)d->queue_drops, (unsigned long long)d->write_errors,
         (unsigned long long)d->max_queue);
}

static void dump(const dir_t *ab, const dir_t *ba) {
  printf("{");
  print_dir(ab);
  printf(",");
  print_dir(ba);
  printf("}\n");
  fflush(stdout);
}

static void usage(void) {
  fprintf(stderr, "usage: wanem --ns-a PATH --dev-a NAME --ns-b PATH --dev-b NAME [--delay-ms D] [--jitter-ms J]"
                  " [--loss P] [--rate-mbit R] [--queue N] [--mtu M] [--slots S] [--seed X]\n");
  exit(2);
}

static double num(const char *s) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || v < 0) usage();
  return v;
}

int main(int argc, char **argv) {
  const char *ns_a = NULL, *ns_b = NULL, *dev_a = NULL, *dev_b = NULL;
  uint32_t slots = 32768;
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(k, "--ns-a")) ns_a = v;
    else if (!strcmp(k, "--ns-b")) ns_b = v;
    else if (!strcmp(k, "--dev-a")) dev_a = v;
    else if (!strcmp(k, "--dev-b")) dev_b = v;
    else if (!strcmp(k, "--delay-ms")) delay_ns = (uint64_t)(num(v) * 1e6);
    else if (!strcmp(k, "--jitter-ms")) jitter_ns = (uint64_t)(num(v) * 1e6);
    else if (!strcmp(k, "--loss")) loss = num(v);
    else if (!strcmp(k, "--rate-mbit")) rate_bps = (uint64_t)(num(v) * 1e6);
    else if (!strcmp(k, "--queue")) queue_limit = (uint32_t)num(v);
    else if (!strcmp(k, "--mtu")) mtu = (uint32_t)num(v);
    else if (!strcmp(k, "--slots")) slots = (uint32_t)num(v);
    else if (!strcmp(k, "--seed")) rng_state = (uint64_t)num(v) * 0x9E3779B97F4A7C15ull + 1;
    else usage();
  }
  if (!ns_a || !ns_b || !dev_a || !dev_b || loss > 1 || queue_limit < 1 || slots < 16 || mtu < 576 || mtu > 65535)
    usage();
  slot_size = mtu + 64;

  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) die("/proc/self/ns/net");
  int fd_a = open_tun_in(ns_a, dev_a, home);
  int fd_b = open_tun_in(ns_b, dev_b, home);

  dir_t ab, ba;
  dir_init(&ab, "aToB", fd_a, fd_b, slots);
  dir_init(&ba, "bToA", fd_b, fd_a, slots);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_dump;
  sigaction(SIGUSR1, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  printf("ready\n");
  fflush(stdout);

  sigset_t none;
  sigemptyset(&none);
  while (!stop_flag) {
    if (dump_flag) {
      dump_flag = 0;
      dump(&ab, &ba);
    }
    uint64_t now = now_ns();
    uint64_t wait_ab = deliver(&ab, now), wait_ba = deliver(&ba, now);
    uint64_t wait = wait_ab < wait_ba ? wait_ab : wait_ba;
    struct pollfd p[2] = {{fd_a, ab.count < ab.slots ? POLLIN : 0, 0}, {fd_b, ba.count < ba.slots ? POLLIN : 0, 0}};
    struct timespec ts, *tp = NULL;
    if (wait != UINT64_MAX) {
      ts.tv_sec = (time_t)(wait / 1000000000ull);
      ts.tv_nsec = (long)(wait % 1000000000ull);
      tp = &ts;
    }
    int r = ppoll(p, 2, tp, &none);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("ppoll");
    }
    if (p[0].revents & POLLIN) ingest(&ab);
    if (p[1].revents & POLLIN) ingest(&ba);
    if ((p[0].revents | p[1].revents) & (POLLERR | POLLHUP | POLLNVAL)) break;
  }
  dump(&ab, &ba);
  return 0;
}
