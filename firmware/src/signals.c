/*
 * signals: signal delivery as a program sees it, one line per check, printing only what every
 * correct Linux prints (signal names, si_code names, counts, offsets; never pids or addresses).
 *
 * Checks, in order: SA_SIGINFO from kill and sigqueue; SA_RESTART (a read on an empty pipe
 * interrupted by a timer's SIGALRM whose handler writes the byte the read then returns) and its
 * absence (EINTR); SA_ONSTACK on a sigaltstack; a blocked signal left pending and taken by
 * sigsuspend; rt_sigtimedwait with a pending signal and with none (EAGAIN); tgkill to the
 * process's own thread and to a second thread; SIGSEGV handlers reading si_addr and si_code and
 * leaving by siglongjmp (PROT_NONE, read-only and unmapped pages); SIGCHLD with the child's exit
 * status; default actions in children (SIGTERM terminates, SIGSTOP/SIGCONT stop and continue,
 * an ignored signal does nothing, SIGSEGV without a handler terminates).
 *
 * An unexpected outcome ends the program with exit 1 and a message on stderr.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "(no arguments)";

/* What the last handler saw; handlers only store, main prints. */
static volatile sig_atomic_t handled, handled_signo, handled_code, handled_int, handled_on_alt;
static volatile pid_t handled_pid, handled_tid;
static volatile uintptr_t handled_addr;
static sigjmp_buf segv_jump;
static int alarm_pipe[2];
static char *alt_stack;
static size_t alt_size;

static void check(int ok, const char *what)
{
	if (!ok)
		die("check failed: %s", what);
}

static pid_t gettid_raw(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static const char *signame(int sig)
{
	switch (sig) {
	case SIGUSR1: return "SIGUSR1";
	case SIGUSR2: return "SIGUSR2";
	case SIGALRM: return "SIGALRM";
	case SIGSEGV: return "SIGSEGV";
	case SIGCHLD: return "SIGCHLD";
	case SIGTERM: return "SIGTERM";
	case SIGKILL: return "SIGKILL";
	case SIGSTOP: return "SIGSTOP";
	case SIGCONT: return "SIGCONT";
	default: return "other";
	}
}

static const char *codename(int sig, int code)
{
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_TKILL: return "SI_TKILL";
	case SI_KERNEL: return "SI_KERNEL";
	default: break;
	}
	if (sig == SIGSEGV)
		return code == SEGV_MAPERR ? "SEGV_MAPERR" : code == SEGV_ACCERR ? "SEGV_ACCERR" : "other";
	if (sig == SIGCHLD)
		return code == CLD_EXITED ? "CLD_EXITED" : code == CLD_KILLED ? "CLD_KILLED" : "other";
	return "other";
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	must(sigaction(sig, &sa, NULL), "sigaction");
}

static void on_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	handled++;
	handled_signo = sig;
	handled_code = si->si_code;
	handled_pid = si->si_pid;
	handled_int = si->si_value.sival_int;
	handled_tid = gettid_raw();
}

static void reset_seen(void)
{
	handled = handled_signo = handled_code = handled_int = handled_on_alt = 0;
	handled_pid = handled_tid = 0;
	handled_addr = 0;
}

static void check_siginfo(void)
{
	union sigval v = { .sival_int = 1234 };

	install(SIGUSR1, on_info, 0);
	reset_seen();
	must(kill(getpid(), SIGUSR1), "kill(self, SIGUSR1)");
	check(handled == 1 && handled_pid == getpid(), "kill: one call, si_pid is our pid");
	out("siginfo kill: %s %s pid=self\n", signame(handled_signo), codename(handled_signo, handled_code));
	reset_seen();
	must(sigqueue(getpid(), SIGUSR1, v), "sigqueue");
	check(handled == 1 && handled_pid == getpid(), "sigqueue: one call, si_pid is our pid");
	out("siginfo sigqueue: %s %s value=%d\n", signame(handled_signo), codename(handled_signo, handled_code),
	    (int)handled_int);
}

/* The alarm handler writes the byte the interrupted read waits for. */
static void on_alarm(int sig, siginfo_t *si, void *uc)
{
	char b = 'A';

	(void)sig;
	(void)si;
	(void)uc;
	handled++;
	if (write(alarm_pipe[1], &b, 1) != 1)
		_exit(EXIT_BROKEN);
}

static void one_shot_timer(long usec)
{
	struct itimerval t;

	memset(&t, 0, sizeof(t));
	t.it_value.tv_usec = usec;
	must(setitimer(ITIMER_REAL, &t, NULL), "setitimer");
}

static void check_restart(void)
{
	char b = 0;
	ssize_t n;

	must(pipe(alarm_pipe), "pipe");
	install(SIGALRM, on_alarm, SA_RESTART);
	reset_seen();
	one_shot_timer(20000);
	n = read(alarm_pipe[0], &b, 1); /* blocks until the alarm; restarted after the handler */
	check(n == 1 && handled == 1, "SA_RESTART: the read returns the handler's byte");
	out("sa_restart: read=%ld byte=%c handler_calls=%d\n", (long)n, b, (int)handled);

	install(SIGALRM, on_alarm, 0);
	reset_seen();
	one_shot_timer(20000);
	n = read(alarm_pipe[0], &b, 1);
	check(n == -1 && errno == EINTR && handled == 1, "no SA_RESTART: EINTR");
	out("no_restart: read=%ld errno=%s handler_calls=%d\n", (long)n, errno_name(errno), (int)handled);
	n = read(alarm_pipe[0], &b, 1); /* the byte the handler wrote is still there */
	check(n == 1 && b == 'A', "no SA_RESTART: the byte is still in the pipe");
	out("no_restart: next read=%ld byte=%c\n", (long)n, b);
	close(alarm_pipe[0]);
	close(alarm_pipe[1]);
}

static void on_alt(int sig, siginfo_t *si, void *uc)
{
	stack_t now;
	char local;

	(void)si;
	(void)uc;
	handled++;
	handled_signo = sig;
	handled_on_alt = &local >= alt_stack && &local < alt_stack + alt_size;
	if (sigaltstack(NULL, &now) == 0 && (now.ss_flags & SS_ONSTACK))
		handled_int = 1;
}

static void check_altstack(void)
{
	stack_t ss, old;

	alt_size = 64 * 1024;
	alt_stack = map_or_die(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "alternate stack");
	ss.ss_sp = alt_stack;
	ss.ss_size = alt_size;
	ss.ss_flags = 0;
	must(sigaltstack(&ss, &old), "sigaltstack");
	install(SIGUSR2, on_alt, SA_ONSTACK);
	reset_seen();
	must(raise(SIGUSR2), "raise(SIGUSR2)");
	check(handled == 1, "SA_ONSTACK: handler ran");
	out("sa_onstack: %s on_alt_stack=%d ss_onstack=%d old_disabled=%d\n", signame(handled_signo),
	    (int)handled_on_alt, (int)handled_int, (old.ss_flags & SS_DISABLE) != 0);
	/* Without SA_ONSTACK the same handler runs on the normal stack. */
	install(SIGUSR2, on_alt, 0);
	reset_seen();
	must(raise(SIGUSR2), "raise(SIGUSR2)");
	out("no_onstack: on_alt_stack=%d ss_onstack=%d\n", (int)handled_on_alt, (int)handled_int);
	ss.ss_flags = SS_DISABLE;
	must(sigaltstack(&ss, NULL), "sigaltstack(SS_DISABLE)");
}

static void check_masks(void)
{
	sigset_t block, old, pending, empty;
	int r;

	install(SIGUSR2, on_info, 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	must(sigprocmask(SIG_BLOCK, &block, &old), "sigprocmask(SIG_BLOCK)");
	reset_seen();
	must(kill(getpid(), SIGUSR2), "kill(self, SIGUSR2)");
	must(sigpending(&pending), "sigpending");
	out("blocked: handler_calls=%d pending_usr2=%d pending_usr1=%d\n", (int)handled,
	    sigismember(&pending, SIGUSR2), sigismember(&pending, SIGUSR1));
	/* A second kill of a pending standard signal is merged with the first. */
	must(kill(getpid(), SIGUSR2), "kill(self, SIGUSR2)");
	sigemptyset(&empty);
	r = sigsuspend(&empty);
	check(r == -1 && errno == EINTR, "sigsuspend returns EINTR");
	must(sigprocmask(SIG_BLOCK, NULL, &block), "sigprocmask(query)");
	must(sigpending(&pending), "sigpending");
	out("sigsuspend: errno=%s handler_calls=%d still_blocked=%d pending_usr2=%d\n", errno_name(errno),
	    (int)handled, sigismember(&block, SIGUSR2), sigismember(&pending, SIGUSR2));
	must(sigprocmask(SIG_SETMASK, &old, NULL), "sigprocmask(SIG_SETMASK)");
}

static void check_sigtimedwait(void)
{
	sigset_t set, old;
	siginfo_t si;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	union sigval v = { .sival_int = 77 };
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGRTMIN);
	must(sigprocmask(SIG_BLOCK, &set, &old), "sigprocmask(SIG_BLOCK)");
	/* Real-time signals queue: two sends, two receptions, values in order. */
	must(sigqueue(getpid(), SIGRTMIN, v), "sigqueue(SIGRTMIN)");
	v.sival_int = 78;
	must(sigqueue(getpid(), SIGRTMIN, v), "sigqueue(SIGRTMIN)");
	must(kill(getpid(), SIGUSR1), "kill(self, SIGUSR1)");
	reset_seen();
	/* Standard signals come first (lowest number first), then the queued real-time ones. */
	for (int i = 0; i < 3; i++) {
		r = sigtimedwait(&set, &si, &ts);
		check(r > 0 && si.si_signo == r, "sigtimedwait returns a pending signal");
		if (r == SIGUSR1)
			out("sigtimedwait: SIGUSR1 %s\n", codename(r, si.si_code));
		else
			out("sigtimedwait: SIGRTMIN+%d %s value=%d\n", r - SIGRTMIN, codename(r, si.si_code),
			    si.si_value.sival_int);
	}
	r = sigtimedwait(&set, &si, &ts);
	check(r == -1 && errno == EAGAIN, "sigtimedwait with nothing pending times out");
	out("sigtimedwait: nothing pending errno=%s handler_calls=%d\n", errno_name(errno), (int)handled);
	must(sigprocmask(SIG_SETMASK, &old, NULL), "sigprocmask(SIG_SETMASK)");
}

static volatile pid_t other_tid;

static void *other_thread(void *arg)
{
	sigset_t set;

	(void)arg;
	/* The creator blocked SIGUSR1 and the mask is inherited: this thread takes it back. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	other_tid = gettid_raw();
	/* Waits for the signal: the handler runs on this thread and sets `handled`. */
	while (!handled)
		sched_yield();
	return NULL;
}

static void check_tgkill(void)
{
	pthread_t t;
	pid_t target;
	int e;

	install(SIGUSR1, on_info, 0);
	reset_seen();
	must(syscall(SYS_tgkill, (long)getpid(), (long)gettid_raw(), (long)SIGUSR1), "tgkill(self)");
	check(handled == 1 && handled_tid == gettid_raw(), "tgkill: handled on this thread");
	out("tgkill self: %s %s on_target=%d\n", signame(handled_signo), codename(handled_signo, handled_code),
	    handled_tid == gettid_raw());

	reset_seen();
	{
		sigset_t block, old;

		/* Only the target thread may take it: this thread blocks SIGUSR1 meanwhile. */
		sigemptyset(&block);
		sigaddset(&block, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &block, &old);
		other_tid = 0;
		e = pthread_create(&t, NULL, other_thread, NULL);
		if (e != 0)
			die("pthread_create failed: %s", errno_name(e));
		while ((target = other_tid) == 0)
			sched_yield();
		must(syscall(SYS_tgkill, (long)getpid(), (long)target, (long)SIGUSR1), "tgkill(thread)");
		pthread_join(t, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	check(handled == 1, "tgkill(thread): handled once");
	out("tgkill thread: %s %s on_target=%d\n", signame(handled_signo), codename(handled_signo, handled_code),
	    handled_tid == target);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	handled++;
	handled_signo = sig;
	handled_code = si->si_code;
	handled_addr = (uintptr_t)si->si_addr;
	siglongjmp(segv_jump, 1);
}

/* Touches `p` (a read, or a write if `write`) expecting a SIGSEGV; prints what the handler saw. */
static void expect_segv(const char *what, volatile char *p, int write)
{
	reset_seen();
	if (sigsetjmp(segv_jump, 1) == 0) {
		if (write)
			*p = 1;
		else
			(void)*p;
		die("%s: no SIGSEGV", what);
	}
	out("sigsegv %s: %s %s addr_ok=%d handler_calls=%d\n", what, signame(handled_signo),
	    codename(handled_signo, handled_code), handled_addr == (uintptr_t)p, (int)handled);
}

static void check_segv(void)
{
	unsigned long pg = page_size();
	char *p = map_or_die(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "segv pages");

	install(SIGSEGV, on_segv, 0);
	must(mprotect(p, pg, PROT_NONE), "mprotect(PROT_NONE)");
	must(mprotect(p + pg, pg, PROT_READ), "mprotect(PROT_READ)");
	unmap_or_die(p + 2 * pg, pg, "third page");
	expect_segv("prot_none read", p + 123, 0);
	expect_segv("read_only write", p + pg + 456, 1);
	expect_segv("unmapped read", p + 2 * pg + 789, 0);
	/* sigsetjmp saved the mask: after siglongjmp SIGSEGV is unblocked and a 4th fault is caught. */
	expect_segv("prot_none write", p + 8, 1);
	unmap_or_die(p, 2 * pg, "segv pages");
	signal(SIGSEGV, SIG_DFL);
}

static void check_sigchld(void)
{
	sigset_t block, old, empty;
	pid_t pid;
	int status;

	install(SIGCHLD, on_info, 0);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	must(sigprocmask(SIG_BLOCK, &block, &old), "sigprocmask");
	reset_seen();
	pid = must(fork(), "fork");
	if (pid == 0)
		_exit(5);
	sigemptyset(&empty);
	while (!handled)
		sigsuspend(&empty);
	{
		/* siginfo carries the status too: read it before reaping. */
		int code = handled_code, from_child = handled_pid == pid;

		must(waitpid(pid, &status, 0), "waitpid");
		out("sigchld: %s %s from_child=%d exit_status=%d\n", signame(handled_signo),
		    codename(SIGCHLD, code), from_child, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	must(sigprocmask(SIG_SETMASK, &old, NULL), "sigprocmask");
	signal(SIGCHLD, SIG_DFL);
}

static void describe_status(const char *what, int status)
{
	if (WIFEXITED(status))
		out("default %s: exited %d\n", what, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		out("default %s: killed %s\n", what, signame(WTERMSIG(status)));
	else if (WIFSTOPPED(status))
		out("default %s: stopped %s\n", what, signame(WSTOPSIG(status)));
	else if (WIFCONTINUED(status))
		out("default %s: continued\n", what);
	else
		out("default %s: status 0x%x\n", what, status);
}

/* A child that says it is ready on `ready`, then waits on `go` (end of file) and exits 0. */
static pid_t waiting_child(int ignore_usr1, int ready[2], int go[2])
{
	pid_t pid;

	must(pipe(ready), "pipe");
	must(pipe(go), "pipe");
	pid = must(fork(), "fork");
	if (pid == 0) {
		char b = 'r';

		if (ignore_usr1)
			signal(SIGUSR1, SIG_IGN);
		close(go[1]);
		if (write(ready[1], &b, 1) != 1)
			_exit(EXIT_BROKEN);
		while (read(go[0], &b, 1) != 0)
			;
		_exit(0);
	}
	close(go[0]);
	close(ready[1]);
	{
		char b;

		if (read(ready[0], &b, 1) != 1)
			die("child did not get ready");
	}
	return pid;
}

/* An address in the page at 0, which Linux never maps (mmap_min_addr); volatile so it stays. */
static volatile char *volatile null_page = (volatile char *)16;

static void check_defaults(void)
{
	int ready[2], go[2], status;
	pid_t pid;

	/* SIGTERM's default action terminates. */
	pid = waiting_child(0, ready, go);
	must(kill(pid, SIGTERM), "kill(SIGTERM)");
	must(waitpid(pid, &status, 0), "waitpid");
	describe_status("sigterm", status);
	close(ready[0]);
	close(go[1]);

	/* SIGSTOP stops, SIGCONT continues, then the child leaves by itself. */
	pid = waiting_child(0, ready, go);
	must(kill(pid, SIGSTOP), "kill(SIGSTOP)");
	must(waitpid(pid, &status, WUNTRACED), "waitpid(WUNTRACED)");
	describe_status("sigstop", status);
	must(kill(pid, SIGCONT), "kill(SIGCONT)");
	must(waitpid(pid, &status, WCONTINUED), "waitpid(WCONTINUED)");
	describe_status("sigcont", status);
	close(go[1]);
	must(waitpid(pid, &status, 0), "waitpid");
	describe_status("after sigcont", status);
	close(ready[0]);

	/* An ignored signal does nothing: the child exits 0 when told to. */
	pid = waiting_child(1, ready, go);
	must(kill(pid, SIGUSR1), "kill(SIGUSR1)");
	close(go[1]);
	must(waitpid(pid, &status, 0), "waitpid");
	describe_status("ignored sigusr1", status);
	close(ready[0]);

	/* A fault with no handler terminates with SIGSEGV (the core flag depends on limits). */
	pid = must(fork(), "fork");
	if (pid == 0) {
		struct rlimit_like { unsigned long cur, max; } none = { 0, 0 };

		/* No core file from the child, whatever the caller's limit (RLIMIT_CORE is 4). */
		syscall(SYS_prlimit64, 0L, 4L, &none, NULL);
		*null_page = 1;
		_exit(0);
	}
	must(waitpid(pid, &status, 0), "waitpid");
	describe_status("sigsegv", status);

	/* SIGKILL cannot be caught or ignored. */
	pid = must(fork(), "fork");
	if (pid == 0) {
		signal(SIGTERM, SIG_IGN);
		for (;;)
			pause();
	}
	must(kill(pid, SIGKILL), "kill(SIGKILL)");
	must(waitpid(pid, &status, 0), "waitpid");
	describe_status("sigkill", status);
}

int main(int argc, char **argv)
{
	(void)argv;
	program_init("signals", usage);
	if (argc > 1)
		usage_error("takes no arguments (%d given)", argc - 1);
	check_siginfo();
	check_restart();
	check_altstack();
	check_masks();
	check_sigtimedwait();
	check_tgkill();
	check_segv();
	check_sigchld();
	check_defaults();
	out("signals done\n");
	return 0;
}
