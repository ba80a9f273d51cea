/*
 * threads: what pthreads ask of the kernel, one line per check, with nothing that depends on
 * scheduling (counts and sums only; every thread's result is collected before printing).
 *
 *   join      N threads, each returning a value computed from its argument, joined in order
 *   mutex     N threads incrementing one counter under a mutex (futex wait/wake when contended)
 *   condvar   a bounded queue: producers and consumers on two condition variables
 *   barrier   N threads through a pthread barrier several times
 *   exit      a thread that calls pthread_exit while the others keep working, and a detached one
 *   clone     a raw clone(2) thread: CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|
 *             CLONE_SYSVSEM|CLONE_PARENT_SETTID|CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID on a stack
 *             of our own; the parent waits on the cleared tid with FUTEX_WAIT, as pthread_join does
 *   tls       __thread variables are per thread (CLONE_SETTLS through pthread_create)
 *   main exit the main thread leaves with pthread_exit while one thread still works; that thread
 *             prints the last line and the process exits 0 when it returns
 */
#define _GNU_SOURCE
#include "common.h"
#include "lab.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char usage[] = "[threads]\n  threads  threads per check, 2..16 (default 4)";

#define MAX_THREADS 16
static unsigned long nthreads = 4;

static void check(int ok, const char *what)
{
	if (!ok)
		die("check failed: %s", what);
}

static void must_pt(int e, const char *what)
{
	if (e != 0)
		die("%s failed: %s", what, errno_name(e));
}

static pid_t gettid_raw(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* join: thread i returns i * i + 1. */
static void *square(void *arg)
{
	unsigned long i = (unsigned long)arg;

	return (void *)(i * i + 1);
}

static void check_join(void)
{
	pthread_t t[MAX_THREADS];
	unsigned long sum = 0;

	for (unsigned long i = 0; i < nthreads; i++)
		must_pt(pthread_create(&t[i], NULL, square, (void *)i), "pthread_create");
	for (unsigned long i = 0; i < nthreads; i++) {
		void *r;

		must_pt(pthread_join(t[i], &r), "pthread_join");
		sum += (unsigned long)r;
	}
	out("join threads=%lu sum_of_results=%lu\n", nthreads, sum);
}

#define INCREMENTS 2000
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counter;
static pid_t worker_tids[MAX_THREADS];

static void *increment(void *arg)
{
	unsigned long i = (unsigned long)arg;

	worker_tids[i] = gettid_raw();
	for (int k = 0; k < INCREMENTS; k++) {
		pthread_mutex_lock(&counter_lock);
		counter++;
		pthread_mutex_unlock(&counter_lock);
		if (k % 256 == 0)
			sched_yield(); /* give the others a chance to contend */
	}
	return NULL;
}

static void check_mutex(void)
{
	pthread_t t[MAX_THREADS];
	int distinct = 1;

	counter = 0;
	for (unsigned long i = 0; i < nthreads; i++)
		must_pt(pthread_create(&t[i], NULL, increment, (void *)i), "pthread_create");
	for (unsigned long i = 0; i < nthreads; i++)
		must_pt(pthread_join(t[i], NULL), "pthread_join");
	for (unsigned long i = 0; i < nthreads; i++) {
		if (worker_tids[i] == getpid() || worker_tids[i] <= 0)
			distinct = 0;
		for (unsigned long j = 0; j < i; j++)
			if (worker_tids[i] == worker_tids[j])
				distinct = 0;
	}
	out("mutex threads=%lu counter=%lu expected=%lu distinct_tids=%d\n", nthreads, counter,
	    nthreads * INCREMENTS, distinct);
}

/* condvar: a ring of 4 slots; producers put 1..ITEMS, consumers add what they take. */
#define QUEUE 4
#define ITEMS 500
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_not_empty = PTHREAD_COND_INITIALIZER, q_not_full = PTHREAD_COND_INITIALIZER;
static unsigned long q_items[QUEUE], q_head, q_count, q_taken;

static void *producer(void *arg)
{
	(void)arg;
	for (unsigned long v = 1; v <= ITEMS; v++) {
		pthread_mutex_lock(&q_lock);
		while (q_count == QUEUE)
			pthread_cond_wait(&q_not_full, &q_lock);
		q_items[(q_head + q_count) % QUEUE] = v;
		q_count++;
		pthread_cond_signal(&q_not_empty);
		pthread_mutex_unlock(&q_lock);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	unsigned long sum = 0, total = (unsigned long)arg;

	for (;;) {
		pthread_mutex_lock(&q_lock);
		while (q_count == 0 && q_taken < total)
			pthread_cond_wait(&q_not_empty, &q_lock);
		if (q_count == 0) {
			/* Everything is taken: wake the other consumers so they see it too. */
			pthread_cond_broadcast(&q_not_empty);
			pthread_mutex_unlock(&q_lock);
			return (void *)sum;
		}
		sum += q_items[q_head];
		q_head = (q_head + 1) % QUEUE;
		q_count--;
		q_taken++;
		if (q_taken == total)
			pthread_cond_broadcast(&q_not_empty);
		pthread_cond_signal(&q_not_full);
		pthread_mutex_unlock(&q_lock);
	}
}

static void check_condvar(void)
{
	unsigned long producers = nthreads / 2, consumers = nthreads - nthreads / 2, sum = 0;
	unsigned long total = producers * ITEMS;
	pthread_t p[MAX_THREADS], c[MAX_THREADS];

	for (unsigned long i = 0; i < consumers; i++)
		must_pt(pthread_create(&c[i], NULL, consumer, (void *)total), "pthread_create");
	for (unsigned long i = 0; i < producers; i++)
		must_pt(pthread_create(&p[i], NULL, producer, NULL), "pthread_create");
	for (unsigned long i = 0; i < producers; i++)
		must_pt(pthread_join(p[i], NULL), "pthread_join");
	for (unsigned long i = 0; i < consumers; i++) {
		void *r;

		must_pt(pthread_join(c[i], &r), "pthread_join");
		sum += (unsigned long)r;
	}
	out("condvar producers=%lu consumers=%lu items=%lu sum=%lu\n", producers, consumers, q_taken, sum);
}

#define ROUNDS 20
static pthread_barrier_t barrier;
static unsigned long barrier_slots[MAX_THREADS];
static unsigned long barrier_errors, serial_count;

/* Each round every thread writes its slot, waits, then checks every slot of the round. */
static void *barrier_worker(void *arg)
{
	unsigned long i = (unsigned long)arg;

	for (unsigned long r = 1; r <= ROUNDS; r++) {
		int e;

		barrier_slots[i] = r;
		e = pthread_barrier_wait(&barrier);
		if (e == PTHREAD_BARRIER_SERIAL_THREAD)
			__atomic_add_fetch(&serial_count, 1, __ATOMIC_RELAXED);
		for (unsigned long j = 0; j < nthreads; j++)
			if (__atomic_load_n(&barrier_slots[j], __ATOMIC_RELAXED) < r)
				__atomic_add_fetch(&barrier_errors, 1, __ATOMIC_RELAXED);
		pthread_barrier_wait(&barrier); /* nobody starts round r + 1 before all have checked */
	}
	return NULL;
}

static void check_barrier(void)
{
	pthread_t t[MAX_THREADS];

	must_pt(pthread_barrier_init(&barrier, NULL, (unsigned)nthreads), "pthread_barrier_init");
	for (unsigned long i = 0; i < nthreads; i++)
		must_pt(pthread_create(&t[i], NULL, barrier_worker, (void *)i), "pthread_create");
	for (unsigned long i = 0; i < nthreads; i++)
		must_pt(pthread_join(t[i], NULL), "pthread_join");
	pthread_barrier_destroy(&barrier);
	out("barrier threads=%lu rounds=%d serial=%lu errors=%lu\n", nthreads, ROUNDS, serial_count, barrier_errors);
}

/* exit: thread 0 leaves early with pthread_exit; the others keep counting after it is gone. */
static volatile int early_gone;
static unsigned long after_exit_work[MAX_THREADS];
static pthread_mutex_t detached_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t detached_done = PTHREAD_COND_INITIALIZER;
static int detached_finished;

static void *leaves_early(void *arg)
{
	(void)arg;
	early_gone = 1;
	pthread_exit((void *)77);
	return NULL;
}

static void *keeps_working(void *arg)
{
	unsigned long i = (unsigned long)arg;

	while (!early_gone)
		sched_yield();
	for (int k = 0; k < 1000; k++)
		after_exit_work[i]++;
	return NULL;
}

static void *detached(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&detached_lock);
	detached_finished = 1;
	pthread_cond_signal(&detached_done);
	pthread_mutex_unlock(&detached_lock);
	return NULL;
}

static void check_exit(void)
{
	pthread_t early, t[MAX_THREADS], d;
	pthread_attr_t attr;
	unsigned long work = 0;
	void *r;

	for (unsigned long i = 1; i < nthreads; i++)
		must_pt(pthread_create(&t[i], NULL, keeps_working, (void *)i), "pthread_create");
	must_pt(pthread_create(&early, NULL, leaves_early, NULL), "pthread_create");
	must_pt(pthread_join(early, &r), "pthread_join(early)");
	for (unsigned long i = 1; i < nthreads; i++) {
		must_pt(pthread_join(t[i], NULL), "pthread_join");
		work += after_exit_work[i];
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	must_pt(pthread_create(&d, &attr, detached, NULL), "pthread_create(detached)");
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&detached_lock);
	while (!detached_finished)
		pthread_cond_wait(&detached_done, &detached_lock);
	pthread_mutex_unlock(&detached_lock);
	out("exit early_result=%lu others_work=%lu detached_finished=%d\n", (unsigned long)r, work, detached_finished);
}

/* clone: the child's view, filled in by the child before it exits. */
static volatile pid_t clone_ptid, clone_ctid;
static volatile pid_t child_saw_tid, child_saw_ctid, child_saw_pid;

static int clone_child(void *arg)
{
	(void)arg;
	/*
	 * This thread shares the parent's TLS (no CLONE_SETTLS), so it stays away from glibc state
	 * (errno, locks): only raw syscalls and plain stores, then the clone wrapper's exit(2).
	 */
	child_saw_tid = (pid_t)syscall(SYS_gettid);
	child_saw_pid = (pid_t)syscall(SYS_getpid);
	child_saw_ctid = clone_ctid;
	return 0;
}

static void check_clone(void)
{
	const unsigned long stack_size = 64 * 1024;
	char *stack = map_or_die(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "clone stack");
	int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
		    CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
	pid_t tid;
	int waits = 0;

	/*
	 * The child stores its tid here when it first runs (CLONE_CHILD_SETTID) and the kernel
	 * zeroes it at its exit: start from -1 so "not started yet" is not taken for "gone".
	 */
	clone_ctid = -1;
	tid = clone(clone_child, stack + stack_size, flags, NULL, (pid_t *)&clone_ptid, NULL, (pid_t *)&clone_ctid);
	if (tid < 0)
		die("clone failed: %s", errno_name(errno));
	/* CLONE_CHILD_CLEARTID: the kernel zeroes clone_ctid and wakes it when the thread is gone. */
	for (;;) {
		pid_t v = clone_ctid;

		if (v == 0)
			break;
		if (syscall(SYS_futex, &clone_ctid, (long)FUTEX_WAIT, (long)v, NULL, NULL, 0L) == 0)
			waits++;
	}
	check(clone_ptid == tid, "CLONE_PARENT_SETTID stored the new tid");
	out("clone ptid_is_tid=%d child_tid_is_tid=%d child_saw_ctid_is_tid=%d same_pid=%d tid_is_new=%d ctid_cleared=%d\n",
	    clone_ptid == tid, child_saw_tid == tid, child_saw_ctid == tid, child_saw_pid == getpid(),
	    tid != getpid(), clone_ctid == 0);
	(void)waits; /* 0 or 1 FUTEX_WAIT returns, depending on timing: not printed */
	unmap_or_die(stack, stack_size, "clone stack");
}

static __thread unsigned long tls_value = 5;

static void *tls_worker(void *arg)
{
	unsigned long i = (unsigned long)arg;

	/* Every thread starts from the initial value, whatever the others wrote. */
	unsigned long initial = tls_value;

	tls_value = 100 + i;
	sched_yield();
	return (void *)(initial * 1000 + tls_value);
}

static void check_tls(void)
{
	pthread_t t[MAX_THREADS];
	unsigned long sum = 0;

	tls_value = 9;
	for (unsigned long i = 0; i < nthreads; i++)
		must_pt(pthread_create(&t[i], NULL, tls_worker, (void *)i), "pthread_create");
	for (unsigned long i = 0; i < nthreads; i++) {
		void *r;

		must_pt(pthread_join(t[i], &r), "pthread_join");
		sum += (unsigned long)r;
	}
	out("tls threads=%lu sum=%lu main_value=%lu\n", nthreads, sum, tls_value);
}

/* main exit: the last thread prints after the main thread has gone. */
static pthread_t main_thread;

static void *outlives_main(void *arg)
{
	void *r;
	int e;

	(void)arg;
	/* Joining the main thread waits for its pthread_exit (glibc allows it). */
	e = pthread_join(main_thread, &r);
	out("main_exit joined_main=%s result=%lu\n", e == 0 ? "ok" : errno_name(e), (unsigned long)r);
	lab_mark("done");
	out("threads done\n");
	return NULL; /* the last thread returning ends the process with status 0 */
}

int main(int argc, char **argv)
{
	pthread_t last;

	program_init("threads", usage);
	if (argc > 2)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		nthreads = parse_count(argv[1], "threads");
	if (nthreads < 2 || nthreads > MAX_THREADS)
		usage_error("threads: %lu is not between 2 and %d", nthreads, MAX_THREADS);
	lab_mark("join");
	check_join();
	lab_mark("mutex");
	check_mutex();
	lab_mark("condvar");
	check_condvar();
	lab_mark("barrier");
	check_barrier();
	lab_mark("exit");
	check_exit();
	lab_mark("clone");
	check_clone();
	lab_mark("tls");
	check_tls();
	lab_mark("main-exit");
	main_thread = pthread_self();
	must_pt(pthread_create(&last, NULL, outlives_main, NULL), "pthread_create");
	pthread_exit((void *)3);
}
