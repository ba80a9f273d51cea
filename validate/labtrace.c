/*
 * labtrace.c: the guest half of `contpte-lab validate` on a real arm64 kernel.
 *
 *   labtrace [-u UID] OUT PROGRAM ARGV0 [ARGS...]
 *
 * PROGRAM is executed with ARGV0 as its argv[0] and the tracer's own environment (the host runs
 * it under `env -i`, so the program sees what the model's guest sees), as user and group UID
 * when -u is given.
 * Runs PROGRAM under ptrace and watches for the contpte-lab marker syscall of lab.h (x8 =
 * 0x4C4142), which real Linux answers with -ENOSYS. At lab_reset_stats() it snapshots the kernel
 * counters (kprobe hit counts, /proc/vmstat, the 64 KiB mTHP stats) and then executes `hint
 * #0x7e`, which starts the TLBI plugin's region; at lab_dump_stats(label) it executes `hint
 * #0x7f` (the plugin writes the region's TLBI counts) and snapshots again. Each region is written
 * to OUT as
 *   @begin <label>  <the counters at the reset>  @mid  <the counters at the dump>  @end
 * and the host subtracts. Buffers are allocated and touched before PROGRAM starts, so the
 * snapshots cause as few faults of their own as possible.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/ptrace.h>

#define LAB_NR 0x4C4142UL
#define LAB_OP_RESET 2UL
#define LAB_OP_DUMP 3UL

static const char *const SOURCES[] = {
	"/sys/kernel/tracing/kprobe_profile",
	"/proc/vmstat",
	"/sys/kernel/mm/transparent_hugepage/hugepages-64kB/stats/anon_fault_alloc",
	"/sys/kernel/mm/transparent_hugepage/hugepages-64kB/stats/shmem_alloc",
	"/sys/kernel/mm/transparent_hugepage/hugepages-64kB/stats/anon_fault_fallback",
	"/sys/kernel/mm/transparent_hugepage/hugepages-64kB/stats/split",
};
#define NSOURCES (sizeof(SOURCES) / sizeof(SOURCES[0]))
#define SNAP_SIZE (1 << 20)

static char before[SNAP_SIZE], after[SNAP_SIZE];
static int fds[NSOURCES];
static FILE *out;

/* All sources, each prefixed by `#<path>`; reads restart at offset 0 (pread). */
static size_t snapshot(char *buf)
{
	size_t n = 0;
	for (size_t i = 0; i < NSOURCES; i++) {
		if (fds[i] < 0)
			continue;
		n += (size_t)snprintf(buf + n, SNAP_SIZE - n, "#%s\n", SOURCES[i]);
		ssize_t r;
		off_t off = 0;
		while (n < SNAP_SIZE - 1 && (r = pread(fds[i], buf + n, SNAP_SIZE - 1 - n, off)) > 0) {
			n += (size_t)r;
			off += r;
		}
		if (n > 0 && buf[n - 1] != '\n')
			buf[n++] = '\n';
	}
	return n;
}

static void read_label(pid_t pid, unsigned long addr, char *label, size_t len)
{
	struct iovec local = { label, len - 1 }, remote = { (void *)addr, len - 1 };
	ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	label[r > 0 ? (size_t)r : 0] = 0;
	label[strcspn(label, "\n")] = 0;
	if (label[0] == 0)
		strcpy(label, "?");
}

/* What the vforked child runs, and as whom (-1: the tracer's own ids); not locals, which vfork
 * may clobber. */
static long child_uid = -1;
static char *child_path;
static char **child_argv;

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "-u") == 0) {
		child_uid = strtol(argv[2], NULL, 10);
		argv += 2;
		argc -= 2;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: labtrace [-u UID] OUT PROGRAM ARGV0 [ARGS...]\n");
		return 2;
	}
	out = fopen(argv[1], "a");
	if (out == NULL) {
		perror(argv[1]);
		return 2;
	}
	child_path = argv[2];
	child_argv = argv + 3;
	for (size_t i = 0; i < NSOURCES; i++)
		fds[i] = open(SOURCES[i], O_RDONLY);
	memset(before, 0, sizeof(before));
	memset(after, 0, sizeof(after));
	snapshot(before);
	/*
	 * Fault in and lock everything the tracer has and will have (text, data, stack, heap), so
	 * its own work at the markers takes no page fault inside a region. Locks are not inherited
	 * by the child.
	 */
	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
		perror("labtrace: mlockall");

	/*
	 * vfork, not fork: a fork would leave the tracer's pages write-protected for copy-on-write,
	 * and its first write to each of them would be a page fault inside a region. The child asks
	 * to be traced and execs; the exec stops it with SIGTRAP before the program's first
	 * instruction.
	 */
	pid_t pid = vfork();
	if (pid < 0) {
		perror("vfork");
		return 2;
	}
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		/* Raw calls: the child shares the tracer's memory until it execs. */
		if (child_uid >= 0 && (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setgid, child_uid) != 0 || syscall(SYS_setuid, child_uid) != 0))
			_exit(126);
		execv(child_path, child_argv);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
	char label[256];
	size_t nb = 0;
	int sig = 0;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, 0, sig) < 0)
			break;
		sig = 0;
		if (waitpid(pid, &status, 0) < 0)
			break;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (!WIFSTOPPED(status))
			continue;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			sig = WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status);
			continue;
		}
		struct ptrace_syscall_info info;
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info) <= 0)
			continue;
		if (info.op != PTRACE_SYSCALL_INFO_ENTRY || info.entry.nr != LAB_NR)
			continue;
		if (info.entry.args[0] == LAB_OP_RESET) {
			nb = snapshot(before);
			__asm__ volatile("hint #0x7e" ::: "memory");
		} else if (info.entry.args[0] == LAB_OP_DUMP) {
			__asm__ volatile("hint #0x7f" ::: "memory");
			size_t na = snapshot(after);
			read_label(pid, (unsigned long)info.entry.args[1], label, sizeof(label));
			fprintf(out, "@begin %s\n", label);
			fwrite(before, 1, nb, out);
			fputs("@mid\n", out);
			fwrite(after, 1, na, out);
			fputs("@end\n", out);
			fflush(out);
		}
	}
	if (WIFEXITED(status))
		fprintf(out, "@exit %d\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(out, "@signal %d\n", WTERMSIG(status));
	fclose(out);
	return 0;
}
