/*
 * pipe_pingpong: a value passed back and forth between two tasks, every hop waited for with
 * ppoll, through the three kinds of channel the harnesses use:
 *
 *   pipes       two processes (fork), a pipe each way, 8-byte messages
 *   eventfd     two threads of one process, an eventfd each way (a write adds, a read takes all)
 *   socketpair  two processes over one AF_UNIX SOCK_STREAM pair (both directions on one pair)
 *
 * One round: the starter sends v, the echoer waits (ppoll POLLIN), reads v, sends v * 3 + 1
 * modulo 2^32, the starter waits, reads it and goes on with it. Each test prints the rounds and
 * the final value, which both sides compute: the echoer reports its own by its exit status
 * (processes) or a variable (threads), and the parent checks they agree. A last ppoll with a
 * zero timeout on an empty channel must report nothing ready, and one on a closed pipe POLLHUP.
 */
#define _GNU_SOURCE
#include "common.h"
#include "lab.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[rounds]\n  rounds  hops there and back per channel (default 200)";

static unsigned long rounds = 200;

static uint64_t step(uint64_t v)
{
	return (v * 3 + 1) & 0xffffffffu;
}

/* Blocks in ppoll until fd is readable (no timeout); dies on error or hang-up. */
static void wait_readable(int fd, const char *what)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		int r = ppoll(&p, 1, NULL, NULL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r != 1)
			die("ppoll(%s) returned %d: %s", what, r, r < 0 ? errno_name(errno) : "nothing ready");
		if (p.revents & POLLIN)
			return;
		die("ppoll(%s): revents 0x%x without POLLIN", what, p.revents);
	}
}

static uint64_t get(int fd, const char *what)
{
	uint64_t v;
	ssize_t n;

	wait_readable(fd, what);
	n = read(fd, &v, sizeof(v));
	if (n != (ssize_t)sizeof(v))
		die("read(%s) returned %ld: %s", what, (long)n, n < 0 ? errno_name(errno) : "short read");
	return v;
}

static void put(int fd, uint64_t v, const char *what)
{
	write_all(fd, &v, sizeof(v), what);
}

/* The starter's side of the rounds; returns the last value received. */
static uint64_t start_rounds(int in, int out_fd, uint64_t v, const char *what)
{
	for (unsigned long i = 0; i < rounds; i++) {
		put(out_fd, v, what);
		v = get(in, what);
	}
	return v;
}

/* The echoer's side; returns the last value it sent. */
static uint64_t echo_rounds(int in, int out_fd, const char *what)
{
	uint64_t v = 0;

	for (unsigned long i = 0; i < rounds; i++) {
		v = step(get(in, what));
		put(out_fd, v, what);
	}
	return v;
}

static uint64_t expected_after(uint64_t v)
{
	for (unsigned long i = 0; i < rounds; i++)
		v = step(v);
	return v;
}

/* "none", or the poll bits set, by name. */
static const char *revents_name(int revents)
{
	static char buf[64];

	if (revents == 0)
		return "none";
	buf[0] = '\0';
	if (revents & POLLIN)
		strcat(buf, "|POLLIN");
	if (revents & POLLOUT)
		strcat(buf, "|POLLOUT");
	if (revents & POLLHUP)
		strcat(buf, "|POLLHUP");
	if (revents & POLLERR)
		strcat(buf, "|POLLERR");
	if (revents & ~(POLLIN | POLLOUT | POLLHUP | POLLERR))
		strcat(buf, "|other");
	return buf + 1;
}

static int ppoll_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec zero = { 0, 0 };
	int r = ppoll(&p, 1, &zero, NULL);

	if (r < 0)
		die("ppoll(zero timeout) failed: %s", errno_name(errno));
	return r == 0 ? 0 : p.revents;
}

/* The child's exit status carries the low byte of its last value, for the parent to compare. */
static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid failed: %s", errno_name(errno));
	if (!WIFEXITED(status))
		die("child did not exit (wait status 0x%x)", status);
	return WEXITSTATUS(status);
}

static void pipes(void)
{
	int there[2], back[2];
	uint64_t v;
	pid_t pid;
	int status, idle;

	if (pipe2(there, O_CLOEXEC) != 0 || pipe2(back, O_CLOEXEC) != 0)
		die("pipe2 failed: %s", errno_name(errno));
	pid = fork();
	if (pid < 0)
		die("fork failed: %s", errno_name(errno));
	if (pid == 0) {
		close(there[1]);
		close(back[0]);
		_exit((int)(echo_rounds(there[0], back[1], "pipe") & 0xff));
	}
	close(there[0]);
	close(back[1]);
	lab_mark("pipes");
	v = start_rounds(back[0], there[1], 1, "pipe");
	status = reap(pid);
	idle = ppoll_now(back[0]); /* the child has exited: no writer is left */
	out("pipes rounds=%lu value=%lu child_agrees=%d after_exit=%s\n", rounds, (unsigned long)v,
	    status == (int)(v & 0xff) && v == expected_after(1), revents_name(idle));
	close(back[0]);
	close(there[1]);
}

static int efd_there, efd_back;
static uint64_t thread_last;

static void *echo_thread(void *arg)
{
	(void)arg;
	thread_last = echo_rounds(efd_there, efd_back, "eventfd");
	return NULL;
}

static void eventfds(void)
{
	pthread_t t;
	uint64_t v, one = 5;
	int e, idle;

	efd_there = eventfd(0, EFD_CLOEXEC);
	efd_back = eventfd(0, EFD_CLOEXEC);
	if (efd_there < 0 || efd_back < 0)
		die("eventfd failed: %s", errno_name(errno));
	e = pthread_create(&t, NULL, echo_thread, NULL);
	if (e != 0)
		die("pthread_create failed: %s", errno_name(e));
	lab_mark("eventfd");
	/* An eventfd read returns the sum of the writes and zeroes it: never 0, so start at 2. */
	v = start_rounds(efd_back, efd_there, 2, "eventfd");
	e = pthread_join(t, NULL);
	if (e != 0)
		die("pthread_join failed: %s", errno_name(e));
	idle = ppoll_now(efd_back);
	/* Two writes before one read add up. */
	put(efd_back, one, "eventfd");
	put(efd_back, one, "eventfd");
	one = get(efd_back, "eventfd");
	out("eventfd rounds=%lu value=%lu thread_agrees=%d idle=%s sum_of_two_writes=%lu\n", rounds,
	    (unsigned long)v, thread_last == v && v == expected_after(2), revents_name(idle),
	    (unsigned long)one);
	close(efd_there);
	close(efd_back);
}

static void sockets(void)
{
	int sv[2], status, idle;
	uint64_t v;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair failed: %s", errno_name(errno));
	pid = fork();
	if (pid < 0)
		die("fork failed: %s", errno_name(errno));
	if (pid == 0) {
		close(sv[0]);
		_exit((int)(echo_rounds(sv[1], sv[1], "socket") & 0xff));
	}
	close(sv[1]);
	lab_mark("socketpair");
	v = start_rounds(sv[0], sv[0], 3, "socket");
	status = reap(pid);
	idle = ppoll_now(sv[0]);
	out("socketpair rounds=%lu value=%lu child_agrees=%d after_exit=%s\n", rounds, (unsigned long)v,
	    status == (int)(v & 0xff) && v == expected_after(3), revents_name(idle));
	close(sv[0]);
}

int main(int argc, char **argv)
{
	program_init("pipe_pingpong", usage);
	if (argc > 2)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		rounds = parse_count(argv[1], "rounds");
	if (rounds == 0)
		usage_error("rounds: must be at least 1");
	lab_reset_stats();
	pipes();
	eventfds();
	sockets();
	lab_ops(3 * rounds);
	lab_dump_stats("pipe_pingpong");
	lab_mark("done");
	out("pipe_pingpong done\n");
	return 0;
}
