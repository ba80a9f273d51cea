/*
 * sysvshm: System V shared memory as a program sees it, one line per check (no ids, keys,
 * addresses or pids: only whether they match).
 *
 * Checks, in order: a private segment and IPC_STAT (size, mode, nattch, creator); two attaches,
 * one SHM_RDONLY (same bytes; a store there raises SIGSEGV); a forked child writing through its
 * inherited attach and detaching, the parent seeing the write and nattch counting the child's
 * VMAs until it exits; shmdt errors; a keyed segment (IPC_CREAT|IPC_EXCL, EEXIST, lookup by
 * key, a larger size EINVAL, an unknown key ENOENT); shmat at a given address (exact, unaligned
 * EINVAL, SHM_RND, overlap EINVAL, SHM_REMAP); an mprotect that splits an attach into three
 * VMAs (nattch 3) and one shmdt removing them all; IPC_SET of the mode; IPC_RMID while attached
 * (SHM_DEST, the key released, the segment gone after the last detach).
 *
 * An unexpected outcome ends the program with exit 1 and a message on stderr.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "(no arguments)";

static sigjmp_buf segv_jump;
static unsigned long psz;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(segv_jump, 1);
}

static void *attach(int id, const void *addr, int flg)
{
	void *p = shmat(id, addr, flg);
	if (p == (void *)-1)
		die("shmat failed: %s", errno_name(errno));
	return p;
}

static struct shmid_ds stat_of(int id)
{
	/* Zeroed: qemu-user fills the 16 bits of mode its target struct has, not glibc's 32. */
	struct shmid_ds ds;
	memset(&ds, 0, sizeof(ds));
	must(shmctl(id, IPC_STAT, &ds), "shmctl IPC_STAT");
	return ds;
}

static int store_faults(volatile char *p)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	must(sigaction(SIGSEGV, &sa, &old), "sigaction");
	int faulted = sigsetjmp(segv_jump, 1);
	if (!faulted)
		*p = 'x';
	must(sigaction(SIGSEGV, &old, NULL), "sigaction");
	return faulted;
}

static void private_segment(void)
{
	size_t size = 3 * psz + 100;
	int id = must(shmget(IPC_PRIVATE, size, 0600), "shmget");
	struct shmid_ds ds = stat_of(id);
	out("private: size=%zu mode=%o nattch=%lu cpid_self=%d key=%d\n", (size_t)ds.shm_segsz, (unsigned)ds.shm_perm.mode,
	    (unsigned long)ds.shm_nattch, ds.shm_cpid == getpid(), (int)ds.shm_perm.__key);

	char *p = attach(id, NULL, 0);
	memset(p, 'a', size);
	p[4 * psz - 1] = 'z'; /* the rest of the last page is there too */
	char *q = attach(id, NULL, SHM_RDONLY);
	ds = stat_of(id);
	out("attach: nattch=%lu same=%d tail=%c lpid_self=%d atime_set=%d\n", (unsigned long)ds.shm_nattch, q[size - 1] == 'a' && q != p,
	    q[4 * psz - 1], ds.shm_lpid == getpid(), ds.shm_atime != 0);
	out("rdonly: store faulted=%d\n", store_faults(q));

	pid_t pid = must(fork(), "fork");
	if (pid == 0) {
		struct shmid_ds c = stat_of(id);
		p[0] = 'C';
		int dt = shmdt(p);
		struct shmid_ds c2 = stat_of(id);
		out("child: nattch=%lu shmdt=%s nattch=%lu\n", (unsigned long)c.shm_nattch, ok_or_errno(dt), (unsigned long)c2.shm_nattch);
		_exit(0);
	}
	int status;
	must(waitpid(pid, &status, 0), "waitpid");
	ds = stat_of(id);
	out("parent: sees=%c nattch=%lu\n", q[0], (unsigned long)ds.shm_nattch);

	int r1 = shmdt(q);
	ds = stat_of(id);
	int r2 = shmdt(q);
	int e2 = errno;
	int r3 = shmdt(p + 1);
	int e3 = errno;
	out("shmdt: %s nattch=%lu again=%s unaligned=%s\n", ok_or_errno(r1), (unsigned long)ds.shm_nattch, r2 == -1 ? errno_name(e2) : "ok",
	    r3 == -1 ? errno_name(e3) : "ok");
	must(shmdt(p), "shmdt");
	must(shmctl(id, IPC_RMID, NULL), "IPC_RMID");
	int r4 = shmctl(id, IPC_STAT, &ds);
	out("rmid unattached: stat=%s\n", ok_or_errno(r4));
}

static void keyed_segment(void)
{
	key_t key = 0x5a000000 + getpid();
	int id = must(shmget(key, 2 * psz, IPC_CREAT | IPC_EXCL | 0640), "shmget key");
	int r = shmget(key, 2 * psz, IPC_CREAT | IPC_EXCL | 0640);
	const char *excl = ok_or_errno(r);
	int again = shmget(key, 0, 0);
	int big = shmget(key, 3 * psz, 0);
	const char *bigr = ok_or_errno(big);
	int none = shmget(key + 1, psz, 0);
	const char *noner = ok_or_errno(none);
	struct shmid_ds ds = stat_of(id);
	out("keyed: excl=%s same=%d larger=%s unknown=%s key_ok=%d mode=%o\n", excl, again == id, bigr, noner, ds.shm_perm.__key == key,
	    (unsigned)ds.shm_perm.mode);

	/* A free 2 MiB-aligned window with room for two attaches. */
	char *w = reserve_aligned_window(8 * psz, 2 * 1024 * 1024);
	char *p = shmat(id, w, 0);
	out("at address: exact=%d", p == w);
	char *u = shmat(id, w + 8 * psz + 1, 0);
	out(" unaligned=%s", u == (void *)-1 ? errno_name(errno) : "ok");
	char *o = shmat(id, w + psz + 1, SHM_RND);
	out(" rnd_overlap=%s", o == (void *)-1 ? errno_name(errno) : "ok");
	char *rn = shmat(id, w + 4 * psz + 5, SHM_RND);
	out(" rnd=%d", rn == w + 4 * psz);
	char *rm = shmat(id, w + psz, SHM_REMAP);
	out(" remap=%d", rm == w + psz);
	ds = stat_of(id);
	out(" nattch=%lu\n", (unsigned long)ds.shm_nattch);
	/* The SHM_REMAP attach replaced the first one's second page: the first is now [w, w+psz). */
	must(shmdt(rm), "shmdt remap");
	must(shmdt(rn), "shmdt rnd");
	must(shmdt(p), "shmdt exact");
	ds = stat_of(id);
	out("detached: nattch=%lu\n", (unsigned long)ds.shm_nattch);

	/* mprotect splits an attach: each VMA counts. */
	p = attach(id, NULL, 0);
	must(mprotect(p + psz, psz, PROT_READ), "mprotect");
	ds = stat_of(id);
	out("split: nattch=%lu", (unsigned long)ds.shm_nattch);
	must(shmdt(p), "shmdt split");
	ds = stat_of(id);
	out(" after shmdt=%lu\n", (unsigned long)ds.shm_nattch);

	ds.shm_perm.mode = 0400;
	must(shmctl(id, IPC_SET, &ds), "IPC_SET");
	ds = stat_of(id);
	out("ipc_set: mode=%o\n", (unsigned)ds.shm_perm.mode);

	p = attach(id, NULL, SHM_RDONLY);
	must(shmctl(id, IPC_RMID, NULL), "IPC_RMID");
	ds = stat_of(id);
	int lookup = shmget(key, 0, 0);
	out("rmid attached: mode=%o key=%d nattch=%lu lookup=%s\n", (unsigned)ds.shm_perm.mode, (int)ds.shm_perm.__key,
	    (unsigned long)ds.shm_nattch, ok_or_errno(lookup));
	must(shmdt(p), "shmdt");
	int gone = shmctl(id, IPC_STAT, &ds);
	out("last detach: stat=%s\n", ok_or_errno(gone));
}

int main(int argc, char **argv)
{
	(void)argv;
	program_init("sysvshm", usage);
	if (argc > 1)
		usage_error("takes no arguments");
	psz = page_size();
	private_segment();
	keyed_segment();
	return 0;
}
