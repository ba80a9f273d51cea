/*
 * ipc: one task talking to itself through the objects tasks use to talk to each other: a pipe
 * (data, capacity, F_GETPIPE_SZ/F_SETPIPE_SZ, O_NONBLOCK, EOF, EPIPE), an eventfd (counter and
 * semaphore modes), AF_UNIX socket pairs (stream and datagram, MSG_TRUNC, shutdown), poll and
 * select over them, dup3's close-on-exec, and a directory listed with readdir (getdents64).
 * Nothing blocks: every wait it could make is checked to be ready first, so any correct Linux
 * (qemu-aarch64 included) prints the same lines.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static const char *errname(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EPIPE: return "EPIPE";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case EMSGSIZE: return "EMSGSIZE";
	default: return "other";
	}
}

/* The result of a call as a word: the value, or the errno's name. */
static const char *res(long r)
{
	static char buf[8][32];
	static int slot;
	char *b = buf[slot++ % 8];
	if (r < 0)
		snprintf(b, 32, "%s", errname(errno));
	else
		snprintf(b, 32, "%ld", r);
	return b;
}

static void pipes(void)
{
	int p[2];
	char buf[8192];
	if (pipe2(p, O_NONBLOCK) != 0)
		die("pipe2: %s", strerror(errno));
	out("pipe: write %s, read %s\n", res(write(p[1], "ping", 4)), res(read(p[0], buf, sizeof buf)));
	out("pipe: empty read %s\n", res(read(p[0], buf, 1)));
	out("pipe: F_GETPIPE_SZ %s\n", res(fcntl(p[0], F_GETPIPE_SZ)));
	/* Fill with 100-byte writes: they merge into pages, so all 64 KiB fit. */
	long total = 0;
	memset(buf, 'x', sizeof buf);
	for (;;) {
		long n = write(p[1], buf, 100);
		if (n < 0)
			break;
		total += n;
	}
	out("pipe: filled with 100-byte writes: %ld bytes, then %s\n", total, errname(errno));
	struct pollfd pf[2] = { { .fd = p[0], .events = POLLIN }, { .fd = p[1], .events = POLLOUT } };
	out("pipe: poll full %s, revents %#x %#x\n", res(poll(pf, 2, 0)), pf[0].revents, pf[1].revents);
	out("pipe: shrink while full %s\n", res(fcntl(p[0], F_SETPIPE_SZ, 4096)));
	long drained = 0;
	for (;;) {
		long n = read(p[0], buf, sizeof buf);
		if (n <= 0)
			break;
		drained += n;
	}
	out("pipe: drained %ld\n", drained);
	out("pipe: F_SETPIPE_SZ 5000 -> %s\n", res(fcntl(p[0], F_SETPIPE_SZ, 5000)));
	out("pipe: 4096 then 1: %s %s\n", res(write(p[1], buf, 4096)), res(write(p[1], buf, 1)));
	out("pipe: poll %s, revents %#x %#x\n", res(poll(pf, 2, 0)), pf[0].revents, pf[1].revents);
	close(p[1]);
	out("pipe: after the writer closed: read %s, read %s\n", res(read(p[0], buf, sizeof buf)), res(read(p[0], buf, 1)));
	pf[0].events = POLLIN;
	out("pipe: poll %s, revents %#x\n", res(poll(pf, 1, 0)), pf[0].revents);
	close(p[0]);

	/* No reader: EPIPE, and SIGPIPE, which is ignored here. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(p, O_CLOEXEC) != 0)
		die("pipe2: %s", strerror(errno));
	close(p[0]);
	out("pipe: write with no reader %s\n", res(write(p[1], "x", 1)));
	out("pipe: O_CLOEXEC %s\n", res(fcntl(p[1], F_GETFD)));
	int d = dup3(p[1], 20, 0);
	out("dup3: %s, FD_CLOEXEC %s; same fd %s\n", res(d), res(fcntl(20, F_GETFD)), res(dup3(20, 20, 0)));
	close(20);
	close(p[1]);
}

static void eventfds(void)
{
	uint64_t v;
	int fd = eventfd(5, EFD_NONBLOCK);
	v = 3;
	out("eventfd: write %s", res(write(fd, &v, 8)));
	long r = read(fd, &v, 8);
	out(", read %s -> %llu", res(r), (unsigned long long)v);
	out(", read again %s, short read %s\n", res(read(fd, &v, 8)), res(read(fd, &v, 4)));
	close(fd);
	fd = eventfd(2, EFD_NONBLOCK | EFD_SEMAPHORE);
	read(fd, &v, 8);
	out("eventfd semaphore: %llu", (unsigned long long)v);
	read(fd, &v, 8);
	out(" %llu, then %s\n", (unsigned long long)v, res(read(fd, &v, 8)));
	close(fd);
}

static void sockets(void)
{
	int sv[2];
	char buf[64];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		die("socketpair: %s", strerror(errno));
	out("stream: send %s %s, recv %s", res(send(sv[0], "hello ", 6, 0)), res(send(sv[0], "world", 5, 0)), res(recv(sv[1], buf, sizeof buf, 0)));
	out(" '%.*s'\n", 11, buf);
	out("stream: peek %s, then %s\n", res(send(sv[1], "ab", 2, 0)) , res(recv(sv[0], buf, 1, MSG_PEEK)));
	recv(sv[0], buf, sizeof buf, 0);
	shutdown(sv[0], SHUT_WR);
	out("stream: after SHUT_WR the peer reads %s, the writer gets %s\n", res(recv(sv[1], buf, sizeof buf, 0)), res(send(sv[0], "x", 1, MSG_NOSIGNAL)));
	close(sv[0]);
	close(sv[1]);

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) != 0)
		die("socketpair: %s", strerror(errno));
	send(sv[0], "one two three", 13, 0);
	send(sv[0], "four", 4, 0);
	struct iovec iov = { .iov_base = buf, .iov_len = 3 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	long n = recvmsg(sv[1], &m, 0);
	out("dgram: recvmsg %s '%.3s' MSG_TRUNC %s", res(n), buf, (m.msg_flags & MSG_TRUNC) ? "yes" : "no");
	out(", recv(MSG_TRUNC) %s, then %s\n", res(recv(sv[1], buf, 2, MSG_TRUNC)), res(recv(sv[1], buf, 2, 0)));
	struct pollfd pf = { .fd = sv[1], .events = POLLIN | POLLOUT };
	out("dgram: poll %s revents %#x\n", res(poll(&pf, 1, 0)), pf.revents);
	close(sv[0]);
	close(sv[1]);
}

static void selects(void)
{
	int p[2];
	if (pipe(p) != 0)
		die("pipe: %s", strerror(errno));
	fd_set r, w;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &w);
	struct timeval tv = { 0, 0 };
	int n = select(p[1] + 1, &r, &w, NULL, &tv);
	out("select: %d, read ready %d, write ready %d\n", n, FD_ISSET(p[0], &r) != 0, FD_ISSET(p[1], &w) != 0);
	write(p[1], "z", 1);
	FD_SET(p[0], &r);
	n = select(p[0] + 1, &r, NULL, NULL, &tv);
	out("select after a write: %d, read ready %d\n", n, FD_ISSET(p[0], &r) != 0);
	close(p[0]);
	close(p[1]);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void directory(void)
{
	char dir[64];
	snprintf(dir, sizeof dir, "/tmp/ipc-dir-%d", (int)getpid());
	if (mkdir(dir, 0700) != 0)
		die("mkdir %s: %s", dir, strerror(errno));
	const char *names[] = { "b", "a", "c" };
	char path[128];
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		int fd = open(path, O_CREAT | O_WRONLY, 0600);
		close(fd);
	}
	DIR *d = opendir(dir);
	if (d == NULL)
		die("opendir: %s", strerror(errno));
	char *seen[8];
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && count < 8)
		seen[count++] = strdup(e->d_name);
	closedir(d);
	qsort(seen, count, sizeof seen[0], cmp);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	/* One line, written last: the result line is the program's last write. */
	char line[256] = "readdir:";
	for (int i = 0; i < count; i++) {
		strncat(line, " ", sizeof line - strlen(line) - 1);
		strncat(line, seen[i], sizeof line - strlen(line) - 1);
	}
	out("%s\n", line);
}

int main(int argc, char **argv)
{
	(void)argv;
	program_init("ipc", "");
	if (argc != 1)
		usage_error("takes no arguments");
	pipes();
	eventfds();
	sockets();
	selects();
	directory();
	return 0;
}
