/* A WAN link between two network namespaces, for tests on a kernel without
 * netem (this one's: no sch_netem): two TAP devices, one in each
 * namespace, and this process between them carrying every Ethernet frame
 * across after a one-way delay, dropping a share of them at random, and at
 * most at a given rate (frames queue behind each other, like a link's
 * serialization; past WANEM_QUEUE_MAX frames in flight one way, the
 * newest is dropped, as netem's limit does).
 *   wanem NS_A IF_A NS_B IF_B DELAY_MS LOSS_PERMILLE RATE_MBIT
 * The TAP devices must exist (ip -n NS tuntap add dev IF mode tap); the
 * namespaces are /run/netns/NS. Runs until killed; prints "wanem up" once
 * both ends are attached. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define WANEM_QUEUE_MAX 4096u /* frames in flight one way */
#define WANEM_FRAME_MAX 2048u

struct frame {
	uint64_t due_us;
	uint16_t len;
	uint8_t b[WANEM_FRAME_MAX];
};

/* One direction: frames read from `in`, written to `out` when due. */
struct way {
	int in, out;
	struct frame *q; /* ring of WANEM_QUEUE_MAX */
	size_t head, n;
	uint64_t free_us; /* the link is busy until then */
	uint64_t sent, dropped;
};

static uint64_t delay_us, rate_bps;
static unsigned loss_pm;

static uint64_t
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A TAP device of namespace ns, attached. */
static int
attach(const char *ns, const char *ifname)
{
	char path[300];
	struct ifreq ifr = { 0 };
	int nsfd, fd;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	if ((nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "wanem: namespace %s: %s\n", ns, strerror(errno));
		exit(1);
	}
	close(nsfd);
	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK)) < 0) {
		fprintf(stderr, "wanem: /dev/net/tun: %s\n", strerror(errno));
		exit(1);
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "wanem: %s in %s: %s\n", ifname, ns, strerror(errno));
		exit(1);
	}
	return fd;
}

static bool
lost(void)
{
	uint32_t r = 0;
	if (!loss_pm)
		return false;
	getrandom(&r, sizeof(r), 0);
	return r % 1000u < loss_pm;
}

/* Read what is there; queue each frame with its departure time. */
static void
take(struct way *w)
{
	for (;;) {
		struct frame *f = &w->q[(w->head + w->n) % WANEM_QUEUE_MAX];
		ssize_t n = read(w->in, f->b, sizeof(f->b));
		if (n <= 0)
			return;
		if (w->n == WANEM_QUEUE_MAX || lost()) {
			w->dropped++;
			continue;
		}
		uint64_t t = now_us(), start = w->free_us > t ? w->free_us : t;
		w->free_us = start + (rate_bps ? (uint64_t)n * 8u * 1000000u / rate_bps : 0);
		f->due_us = w->free_us + delay_us;
		f->len = (uint16_t)n;
		w->n++;
	}
}

/* Write the frames that are due; returns µs until the next, or -1. */
static int64_t
give(struct way *w)
{
	uint64_t t = now_us();
	while (w->n) {
		struct frame *f = &w->q[w->head];
		if (f->due_us > t)
			return (int64_t)(f->due_us - t);
		if (write(w->out, f->b, f->len) < 0 && errno == EAGAIN)
			return 1000;
		w->sent++;
		w->head = (w->head + 1) % WANEM_QUEUE_MAX;
		w->n--;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct way w[2];
	int a, b;

	if (argc != 8) {
		fprintf(stderr,
		        "usage: wanem NS_A IF_A NS_B IF_B DELAY_MS LOSS_PERMILLE RATE_MBIT\n");
		return 2;
	}
	delay_us = strtoull(argv[5], NULL, 10) * 1000u;
	loss_pm = (unsigned)strtoul(argv[6], NULL, 10);
	rate_bps = strtoull(argv[7], NULL, 10) * 1000000u;
	a = attach(argv[1], argv[2]);
	b = attach(argv[3], argv[4]);
	w[0] =
	    (struct way){ .in = a, .out = b, .q = calloc(WANEM_QUEUE_MAX, sizeof(struct frame)) };
	w[1] =
	    (struct way){ .in = b, .out = a, .q = calloc(WANEM_QUEUE_MAX, sizeof(struct frame)) };
	if (!w[0].q || !w[1].q)
		return 1;
	printf("wanem up\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p[2] = { { .fd = a, .events = POLLIN },
			               { .fd = b, .events = POLLIN } };
		int64_t next = -1;
		for (int i = 0; i < 2; i++) {
			int64_t d = give(&w[i]);
			if (d >= 0 && (next < 0 || d < next))
				next = d;
		}
		if (poll(p, 2, next < 0 ? -1 : (int)((next + 999) / 1000)) < 0 && errno != EINTR)
			return 1;
		take(&w[0]);
		take(&w[1]);
	}
}
