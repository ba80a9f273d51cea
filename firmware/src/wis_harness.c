/*
 * wis_harness: a will-it-scale-like harness of our own, for the page_fault1/2/3 loops and the
 * syscall-bound loops named after will-it-scale's brk1, mmap1, read1, write1 and context_switch1.
 *
 * What it does, in the shape will-it-scale's runner has (a parent that starts one task per CPU,
 * talks to them through a pipe and a shared counter area, samples the counters with a timer and
 * ends the tasks with signals), written from scratch here:
 *
 *   parent: MAP_SHARED|MAP_ANONYMOUS counter area, three pipes (ready, go, done) and, in threads
 *           mode, a stop pipe; starts N tasks (fork or pthread_create); waits until every task
 *           has written its "ready" byte; writes N "go" bytes; arms ITIMER_REAL; then reads the
 *           done pipe, whose read(2) each SIGALRM interrupts (the handler has no SA_RESTART):
 *           every interruption is one sample of the counters.
 *   task:   its own setup (a sparse /tmp file for page_fault2/3), a "ready" byte, waits for its
 *           "go" byte, then mmap / one store per page / munmap rounds, publishing its op count
 *           after each page in its own cache line of the shared area.
 *   The syscall testcases count one op per call that does the work, and a round is:
 *     brk1             the program break up by a page and back down (2 ops);
 *     mmap1            mmap of -z bytes of private anonymous memory and its munmap (1 op);
 *     read1            a 4 KiB read of the task's own 1 MiB /tmp file, which goes back to the
 *                      start once a read returns end of file (1 op);
 *     write1           a 4 KiB write to the task's own /tmp file, back to the start after 1 MiB
 *                      (1 op);
 *     context_switch1  a byte sent to the task's partner (a process it forked, or a thread it
 *                      started) through one pipe and the byte it sends back through another
 *                      (2 ops); the partner leaves when its pipe reaches end of file.
 *   end:    processes are killed (SIGTERM for even task numbers, SIGKILL for odd ones) and
 *           reaped with waitpid; threads see their stop pipe reach end-of-file and are joined.
 *
 * With -i ITER each task stops after ITER rounds, writes a "done" byte and waits to be ended:
 * the run ends when every task is done, and the op counts are exact. -q then prints only the
 * lines that do not depend on time (no samples, no average), so stdout is the same on every run.
 * Without -i the run lasts -s samples of -P milliseconds, as will-it-scale's -s does.
 */
#define _GNU_SOURCE
#include "common.h"
#include "lab.h"
#include "page_fault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] =
	"[-c testcase] [-m processes|threads] [-t tasks] [-s samples]\n"
	"       [-P period_ms] [-i iterations] [-z size] [-a align] [-q]\n"
	"  -c  the testcase each task runs: page_fault1, page_fault2, page_fault3, brk1, mmap1, read1,\n"
	"      write1 or context_switch1 (default page_fault1)\n"
	"  -m  tasks are forked processes or pthreads of one process (default processes)\n"
	"  -t  number of tasks, 1..256 (default 1)\n"
	"  -s  samples before the run ends, when there is no -i (default 5)\n"
	"  -P  sampling period in milliseconds (default 1000, will-it-scale's second)\n"
	"  -i  rounds per task, then the task stops (default 0: run until the samples are taken)\n"
	"  -z  bytes mapped per round (page_fault*, mmap1), a multiple of the page size (default 128M)\n"
	"  -a  alignment of each task's mapping, a power of two, or 0 to let mmap choose (default 0)\n"
	"  -q  print only the lines that do not depend on time (needs -i)";

#define MAX_TASKS 256UL
/* Each task's counters sit in their own 128-byte line so tasks do not share cache lines. */
#define SLOT_BYTES 128UL

enum mode { MODE_PROCESSES, MODE_THREADS };

enum workload { W_PAGE_FAULT, W_BRK, W_MMAP, W_READ, W_WRITE, W_CONTEXT_SWITCH };

/* read1 and write1: 4 KiB calls on a 1 MiB file. */
#define IO_BYTES 4096UL
#define FILE_BYTES (1UL << 20)

struct slot {
	unsigned long ops;        /* pages stored to so far */
	unsigned long iterations; /* finished rounds */
};

struct config {
	enum workload workload;
	enum page_fault_kind kind;
	const char *testcase;
	enum mode mode;
	unsigned long tasks, samples, period_ms, iterations, size, align;
	int quiet;
};

static struct config cfg;
static char *shared_area;   /* MAP_SHARED|MAP_ANONYMOUS: one slot per task */
static char *thread_window; /* threads mode with -a: one aligned slot per task, reserved here */
static unsigned long thread_stride;
static int ready_pipe[2], go_pipe[2], done_pipe[2], stop_pipe[2];
static volatile sig_atomic_t ticks, child_events;
static pid_t pids[MAX_TASKS];

static struct slot *slot_of(unsigned long task)
{
	return (struct slot *)(shared_area + task * SLOT_BYTES);
}

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

static void on_child(int sig)
{
	(void)sig;
	child_events++;
}

/* A process task that ends before the parent ends it has failed: say which, and stop. */
static void check_early_exits(void)
{
	int status;
	pid_t pid;

	child_events = 0;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (unsigned long t = 0; t < cfg.tasks; t++)
			if (pids[t] == pid)
				die("task %lu ended early (wait status 0x%x)", t, status);
}

static void read_byte(int fd, const char *what)
{
	char b;

	for (;;) {
		ssize_t n = read(fd, &b, 1);

		if (n == 1)
			return;
		if (n < 0 && errno == EINTR) {
			if (child_events != 0)
				check_early_exits();
			continue;
		}
		die("read(%s) returned %ld: %s", what, (long)n, n < 0 ? errno_name(errno) : "end of file");
	}
}

static void write_bytes(int fd, unsigned long count, const char *what)
{
	char buf[MAX_TASKS];

	memset(buf, 'x', sizeof(buf));
	write_all(fd, buf, count, what);
}

/* What one task keeps between rounds. */
struct task_state {
	unsigned long task, ops, pgsize;
	int fd;               /* page_fault2/3, read1, write1: the task's own /tmp file */
	void *window;         /* page_fault*: the aligned place of the mapping, or NULL */
	char *brk_base;       /* brk1: the break the task started from */
	unsigned long offset; /* write1: where the next write goes */
	int to_partner[2], from_partner[2]; /* context_switch1 */
	pid_t partner_pid;
	pthread_t partner_thread;
	char buf[IO_BYTES];
};

static void publish(struct task_state *st, unsigned long n)
{
	st->ops += n;
	__atomic_store_n(&slot_of(st->task)->ops, st->ops, __ATOMIC_RELAXED);
}

/* context_switch1's partner: sends back every byte it gets, until end of file. */
static void partner_loop(int in, int out_fd)
{
	char b;

	for (;;) {
		ssize_t n = read(in, &b, 1);

		if (n == 0)
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1)
			die("partner: read returned %ld: %s", (long)n, errno_name(errno));
		write_all(out_fd, &b, 1, "partner pipe");
	}
}

static void *partner_thread_main(void *arg)
{
	struct task_state *st = arg;

	partner_loop(st->to_partner[0], st->from_partner[1]);
	return NULL;
}

static void task_setup(struct task_state *st)
{
	unsigned long task = st->task;

	switch (cfg.workload) {
	case W_PAGE_FAULT:
		if (cfg.kind != PF_ANON_PRIVATE) {
			/* will-it-scale gives every task its own sparse file of the mapping's size. */
			st->fd = make_unlinked_tmp_file();
			if (ftruncate(st->fd, (off_t)cfg.size) != 0)
				die("task %lu: ftruncate(%lu) failed: %s", task, cfg.size, errno_name(errno));
		}
		if (cfg.align != 0)
			st->window = cfg.mode == MODE_THREADS ? thread_window + task * thread_stride
							      : reserve_aligned_window(cfg.size, cfg.align);
		break;
	case W_BRK:
		st->brk_base = sbrk(0);
		break;
	case W_MMAP:
		break;
	case W_READ:
		st->fd = make_unlinked_tmp_file();
		memset(st->buf, 0, sizeof(st->buf));
		for (unsigned long off = 0; off < FILE_BYTES; off += IO_BYTES)
			write_all(st->fd, st->buf, IO_BYTES, "read1 file");
		if (lseek(st->fd, 0, SEEK_SET) != 0)
			die("task %lu: lseek failed: %s", task, errno_name(errno));
		break;
	case W_WRITE:
		st->fd = make_unlinked_tmp_file();
		memset(st->buf, 0, sizeof(st->buf));
		break;
	case W_CONTEXT_SWITCH:
		if (pipe(st->to_partner) != 0 || pipe(st->from_partner) != 0)
			die("task %lu: pipe failed: %s", task, errno_name(errno));
		if (cfg.mode == MODE_THREADS) {
			int e = pthread_create(&st->partner_thread, NULL, partner_thread_main, st);

			if (e != 0)
				die("task %lu: pthread_create(partner) failed: %s", task, errno_name(e));
			break;
		}
		st->partner_pid = fork();
		if (st->partner_pid < 0)
			die("task %lu: fork(partner) failed: %s", task, errno_name(errno));
		if (st->partner_pid == 0) {
			/* Only the task may hold the write end: its end (or its death) is our end of file. */
			close(st->to_partner[1]);
			partner_loop(st->to_partner[0], st->from_partner[1]);
			_exit(0);
		}
		break;
	}
}

static void transfer(int fd, int writing, char *b, unsigned long task)
{
	for (;;) {
		ssize_t n = writing ? write(fd, b, 1) : read(fd, b, 1);

		if (n == 1)
			return;
		if (n < 0 && errno == EINTR)
			continue;
		die("task %lu: %s returned %ld: %s", task, writing ? "write" : "read", (long)n,
		    n < 0 ? errno_name(errno) : "end of file");
	}
}

/* One round of the testcase; every op is published as soon as it is done. */
static void task_round(struct task_state *st)
{
	unsigned long task = st->task;

	switch (cfg.workload) {
	case W_PAGE_FAULT: {
		volatile char *c = map_or_die(st->window, cfg.size, PROT_READ | PROT_WRITE, page_fault_map_flags(cfg.kind), st->fd,
					      "test mapping");

		for (unsigned long off = 0; off < cfg.size; off += st->pgsize) {
			c[off] = 0;
			publish(st, 1);
		}
		unmap_or_die((void *)c, cfg.size, "test mapping");
		break;
	}
	case W_BRK:
		if (brk(st->brk_base + st->pgsize) != 0)
			die("task %lu: brk(up a page) failed: %s", task, errno_name(errno));
		if (brk(st->brk_base) != 0)
			die("task %lu: brk(back) failed: %s", task, errno_name(errno));
		publish(st, 2);
		break;
	case W_MMAP:
		unmap_or_die(map_or_die(NULL, cfg.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
					"test mapping"),
			     cfg.size, "test mapping");
		publish(st, 1);
		break;
	case W_READ: {
		ssize_t n = read(st->fd, st->buf, IO_BYTES);

		if (n == 0) {
			if (lseek(st->fd, 0, SEEK_SET) != 0)
				die("task %lu: lseek failed: %s", task, errno_name(errno));
		} else if (n != (ssize_t)IO_BYTES) {
			die("task %lu: read returned %ld: %s", task, (long)n, n < 0 ? errno_name(errno) : "short");
		}
		publish(st, 1);
		break;
	}
	case W_WRITE: {
		ssize_t n = write(st->fd, st->buf, IO_BYTES);

		if (n != (ssize_t)IO_BYTES)
			die("task %lu: write returned %ld: %s", task, (long)n, n < 0 ? errno_name(errno) : "short");
		st->offset += IO_BYTES;
		if (st->offset >= FILE_BYTES) {
			st->offset = 0;
			if (lseek(st->fd, 0, SEEK_SET) != 0)
				die("task %lu: lseek failed: %s", task, errno_name(errno));
		}
		publish(st, 1);
		break;
	}
	case W_CONTEXT_SWITCH: {
		char b = (char)st->ops;

		transfer(st->to_partner[1], 1, &b, task);
		transfer(st->from_partner[0], 0, &b, task);
		if (b != (char)st->ops)
			die("task %lu: the partner sent back 0x%x, not 0x%x", task, b & 0xff, (unsigned)st->ops & 0xff);
		publish(st, 2);
		break;
	}
	}
}

/* The rounds are over: a partner sees end of file and is waited for. */
static void task_teardown(struct task_state *st)
{
	if (cfg.workload != W_CONTEXT_SWITCH)
		return;
	close(st->to_partner[1]);
	if (cfg.mode == MODE_THREADS) {
		int e = pthread_join(st->partner_thread, NULL);

		if (e != 0)
			die("task %lu: pthread_join(partner) failed: %s", st->task, errno_name(e));
		return;
	}
	for (;;) {
		int status;
		pid_t r = waitpid(st->partner_pid, &status, 0);

		if (r == st->partner_pid) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				die("task %lu: the partner ended with status 0x%x", st->task, status);
			return;
		}
		if (!(r < 0 && errno == EINTR))
			die("task %lu: waitpid(partner) failed: %s", st->task, errno_name(errno));
	}
}

/* One task's whole life: setup, the ready/go handshake, rounds until stopped or -i reached. */
static void task_body(unsigned long task)
{
	static struct task_state states[MAX_TASKS];
	struct task_state *st = &states[task];

	st->task = task;
	st->pgsize = page_size();
	st->fd = -1;
	task_setup(st);

	write_bytes(ready_pipe[1], 1, "ready pipe");
	read_byte(go_pipe[0], "go pipe");

	for (unsigned long it = 0; cfg.iterations == 0 || it < cfg.iterations; it++) {
		task_round(st);
		__atomic_store_n(&slot_of(task)->iterations, it + 1, __ATOMIC_RELEASE);
		/* Threads without -i leave when the parent has closed the stop pipe's write end. */
		if (cfg.mode == MODE_THREADS && cfg.iterations == 0 &&
		    __atomic_load_n((unsigned long *)(shared_area + MAX_TASKS * SLOT_BYTES), __ATOMIC_ACQUIRE)) {
			task_teardown(st);
			return;
		}
	}
	task_teardown(st);
	write_bytes(done_pipe[1], 1, "done pipe");
	if (cfg.mode == MODE_THREADS) {
		char b;

		/* End of file once the parent closes the write end: the thread then returns. */
		while (read(stop_pipe[0], &b, 1) < 0 && errno == EINTR)
			;
		return;
	}
	for (;;)
		pause(); /* processes wait for their SIGTERM or SIGKILL */
}

static void *thread_main(void *arg)
{
	task_body((unsigned long)arg);
	return NULL;
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGTERM:
		return "SIGTERM";
	case SIGKILL:
		return "SIGKILL";
	default:
		return "other";
	}
}

static void parse_args(int argc, char **argv)
{
	static const char *const testcases[] = { "page_fault1", "page_fault2", "page_fault3", "brk1", "mmap1",
						 "read1", "write1", "context_switch1", NULL };
	static const char *const modes[] = { "processes", "threads", NULL };
	static const enum page_fault_kind kinds[] = { PF_ANON_PRIVATE, PF_FILE_PRIVATE, PF_FILE_SHARED };
	static const enum workload workloads[] = { W_PAGE_FAULT, W_PAGE_FAULT, W_PAGE_FAULT, W_BRK, W_MMAP,
						   W_READ, W_WRITE, W_CONTEXT_SWITCH };

	cfg = (struct config){ .workload = W_PAGE_FAULT, .kind = PF_ANON_PRIVATE, .testcase = testcases[0], .mode = MODE_PROCESSES,
			       .tasks = 1, .samples = 5, .period_ms = 1000, .size = 128UL << 20 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-q") == 0) {
			cfg.quiet = 1;
			continue;
		}
		if (a[0] != '-' || a[1] == '\0' || a[2] != '\0' || strchr("cmtsPiza", a[1]) == NULL)
			usage_error("unknown argument '%s'", a);
		if (i + 1 >= argc)
			usage_error("%s needs a value", a);
		const char *v = argv[++i];

		switch (a[1]) {
		case 'c': {
			int k = parse_choice(v, "-c", testcases);

			cfg.workload = workloads[k];
			cfg.kind = k < 3 ? kinds[k] : PF_ANON_PRIVATE;
			cfg.testcase = testcases[k];
			break;
		}
		case 'm':
			cfg.mode = parse_choice(v, "-m", modes) == 0 ? MODE_PROCESSES : MODE_THREADS;
			break;
		case 't':
			cfg.tasks = parse_count(v, "-t");
			break;
		case 's':
			cfg.samples = parse_count(v, "-s");
			break;
		case 'P':
			cfg.period_ms = parse_count(v, "-P");
			break;
		case 'i':
			cfg.iterations = parse_count(v, "-i");
			break;
		case 'z':
			cfg.size = parse_size(v, "-z");
			break;
		case 'a':
			cfg.align = parse_size(v, "-a");
			break;
		}
	}
	if (cfg.tasks == 0 || cfg.tasks > MAX_TASKS)
		usage_error("-t: %lu is not between 1 and %lu", cfg.tasks, MAX_TASKS);
	if (cfg.period_ms == 0 || cfg.period_ms > 60000)
		usage_error("-P: %lu is not between 1 and 60000", cfg.period_ms);
	if (cfg.iterations == 0 && cfg.samples == 0)
		usage_error("-s: 0 samples and no -i: the run would never end");
	if (cfg.quiet && cfg.iterations == 0)
		usage_error("-q needs -i: without it the op counts depend on time");
	check_page_multiple(cfg.size, "-z");
	check_alignment(cfg.align, "-a");
}

/* Sum of the op counts, and the smallest and largest per-task difference since `last`. */
static unsigned long sample(unsigned long *last, unsigned long *min, unsigned long *max)
{
	unsigned long total = 0;

	*min = ~0UL;
	*max = 0;
	for (unsigned long t = 0; t < cfg.tasks; t++) {
		unsigned long now = __atomic_load_n(&slot_of(t)->ops, __ATOMIC_RELAXED);
		unsigned long d = now - last[t];

		last[t] = now;
		total += d;
		if (d < *min)
			*min = d;
		if (d > *max)
			*max = d;
	}
	return total;
}

static void start_tasks(pthread_t *threads)
{
	if (cfg.mode == MODE_THREADS) {
		sigset_t block, old;

		/* SIGALRM is for the parent's read: threads start with it blocked and keep it so. */
		sigemptyset(&block);
		sigaddset(&block, SIGALRM);
		pthread_sigmask(SIG_BLOCK, &block, &old);
		for (unsigned long t = 0; t < cfg.tasks; t++) {
			int e = pthread_create(&threads[t], NULL, thread_main, (void *)t);

			if (e != 0)
				die("pthread_create(task %lu) failed: %s", t, errno_name(e));
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return;
	}
	for (unsigned long t = 0; t < cfg.tasks; t++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork(task %lu) failed: %s", t, errno_name(errno));
		if (pid == 0) {
			task_body(t);
			_exit(0);
		}
		pids[t] = pid;
	}
}

/* Ends the tasks and prints one line each: how it ended is part of what the harness checks. */
static void end_tasks(pthread_t *threads)
{
	if (cfg.mode == MODE_THREADS) {
		__atomic_store_n((unsigned long *)(shared_area + MAX_TASKS * SLOT_BYTES), 1UL, __ATOMIC_RELEASE);
		close(stop_pipe[1]);
		for (unsigned long t = 0; t < cfg.tasks; t++) {
			int e = pthread_join(threads[t], NULL);

			if (e != 0)
				die("pthread_join(task %lu) failed: %s", t, errno_name(e));
		}
	} else {
		for (unsigned long t = 0; t < cfg.tasks; t++)
			if (kill(pids[t], t % 2 == 0 ? SIGTERM : SIGKILL) != 0)
				die("kill(task %lu) failed: %s", t, errno_name(errno));
	}
	for (unsigned long t = 0; t < cfg.tasks; t++) {
		struct slot *s = slot_of(t);
		char how[48] = "joined";

		if (cfg.mode == MODE_PROCESSES) {
			int status;

			if (waitpid(pids[t], &status, 0) != pids[t])
				die("waitpid(task %lu) failed: %s", t, errno_name(errno));
			if (WIFSIGNALED(status))
				snprintf(how, sizeof(how), "killed %s", signal_name(WTERMSIG(status)));
			else if (WIFEXITED(status))
				snprintf(how, sizeof(how), "exited %d", WEXITSTATUS(status));
			else
				snprintf(how, sizeof(how), "status 0x%x", status);
		}
		if (cfg.iterations != 0)
			out("task %lu ops=%lu iterations=%lu end=%s\n", t, s->ops, s->iterations, how);
		else
			out("task %lu end=%s\n", t, how);
	}
}

int main(int argc, char **argv)
{
	static pthread_t threads[MAX_TASKS];
	static unsigned long last[MAX_TASKS];
	unsigned long done = 0, taken = 0, sum_of_samples = 0, total = 0;
	struct sigaction sa;
	struct itimerval timer;

	program_init("wis_harness", usage);
	parse_args(argc, argv);
	out("wis_harness testcase=%s mode=%s tasks=%lu size=%lu iterations=%lu align=%lu\n", cfg.testcase,
	    cfg.mode == MODE_THREADS ? "threads" : "processes", cfg.tasks, cfg.size, cfg.iterations, cfg.align);

	lab_mark("setup");
	/* One slot per task, then the threads' stop flag. */
	shared_area = map_or_die(NULL, (MAX_TASKS + 1) * SLOT_BYTES, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, "counter area");
	if (pipe2(ready_pipe, O_CLOEXEC) != 0 || pipe2(go_pipe, O_CLOEXEC) != 0 ||
	    pipe2(done_pipe, O_CLOEXEC) != 0 || pipe2(stop_pipe, O_CLOEXEC) != 0)
		die("pipe2 failed: %s", errno_name(errno));
	if (cfg.mode == MODE_THREADS && cfg.align != 0) {
		/*
		 * Threads share one address space, so a window found free and given back (what each
		 * process does) could be taken by a neighbour: the parent keeps one reservation with an
		 * aligned slot per thread, and each thread maps over its own slot with MAP_FIXED.
		 */
		thread_stride = (cfg.size + cfg.align - 1) & ~(cfg.align - 1);
		char *base = map_or_die(NULL, thread_stride * cfg.tasks + cfg.align, PROT_NONE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, "thread windows");
		thread_window = (char *)(((unsigned long)base + cfg.align - 1) & ~(cfg.align - 1));
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: the alarm must interrupt the parent's read */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		die("sigaction(SIGALRM) failed: %s", errno_name(errno));
	sa.sa_handler = on_child; /* a task that fails must not leave the parent waiting */
	if (cfg.mode == MODE_PROCESSES && sigaction(SIGCHLD, &sa, NULL) != 0)
		die("sigaction(SIGCHLD) failed: %s", errno_name(errno));

	lab_mark("start");
	start_tasks(threads);
	for (unsigned long t = 0; t < cfg.tasks; t++)
		read_byte(ready_pipe[0], "ready pipe");

	lab_mark("run");
	lab_reset_stats();
	write_bytes(go_pipe[1], cfg.tasks, "go pipe");
	timer.it_interval.tv_sec = (time_t)(cfg.period_ms / 1000);
	timer.it_interval.tv_usec = (suseconds_t)(cfg.period_ms % 1000 * 1000);
	timer.it_value = timer.it_interval;
	if (setitimer(ITIMER_REAL, &timer, NULL) != 0)
		die("setitimer failed: %s", errno_name(errno));

	for (;;) {
		char b;
		ssize_t n;

		while (taken < (unsigned long)ticks) {
			unsigned long min, max, ops = sample(last, &min, &max);

			taken++;
			sum_of_samples += ops;
			if (!cfg.quiet)
				out("sample %lu ops=%lu min=%lu max=%lu\n", taken, ops, min, max);
		}
		if (child_events != 0)
			check_early_exits();
		if (cfg.iterations == 0 ? taken >= cfg.samples : done == cfg.tasks)
			break;
		n = read(done_pipe[0], &b, 1);
		if (n == 1)
			done++;
		else if (!(n < 0 && errno == EINTR))
			die("read(done pipe) returned %ld: %s", (long)n, n < 0 ? errno_name(errno) : "end of file");
	}
	memset(&timer, 0, sizeof(timer));
	setitimer(ITIMER_REAL, &timer, NULL);
	for (unsigned long t = 0; t < cfg.tasks; t++)
		total += __atomic_load_n(&slot_of(t)->ops, __ATOMIC_ACQUIRE);
	lab_ops(total);
	lab_dump_stats("wis_harness");

	lab_mark("end");
	if (cfg.mode == MODE_PROCESSES) {
		check_early_exits();
		signal(SIGCHLD, SIG_DFL); /* from here on the parent reaps each task itself */
	}
	end_tasks(threads);
	lab_mark("done");
	out("total ops=%lu\n", total);
	if (!cfg.quiet) {
		/* Ops per second over the whole samples taken (none if the run ended within one period). */
		unsigned long per_s = taken == 0 ? 0 : sum_of_samples * 1000 / (taken * cfg.period_ms);

		out("average samples=%lu ops_per_s=%lu\n", taken, per_s);
	}
	return 0;
}
