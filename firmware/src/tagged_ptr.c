/*
 * tagged_ptr: pointers with a non-zero top byte, as arm64 Linux allows them (TCR_EL1.TBI0 = 1:
 * the MMU ignores bits 63:56 of an EL0 data address). Stores and loads go through tagged
 * pointers to pages never touched before, so the first access of each page faults with a tagged
 * address; what was written through one tag reads back through another and untagged. System
 * calls follow the tagged address ABI (the kernel's Documentation/arch/arm64/tagged-address-abi.rst)
 * as a program that did not enable it sees it: a tagged buffer handed to write(2) is refused with
 * EFAULT, while mprotect, madvise and mincore take a tagged start. A tagged access to an unmapped page raises SIGSEGV; si_addr carries the
 * address without its tag (SA_EXPOSE_TAGBITS is not asked for).
 *
 * `tagged_ptr space` also makes the address-space calls through tagged pointers. Linux untags
 * their start whether or not the ABI is enabled; qemu-user (7.2) does so only once it is, so this
 * mode's reference is Linux (test/machine/tagged.test.ts).
 *
 * `tagged_ptr fault` ends by storing through a tagged pointer to an unmapped page with no
 * handler: the process dies of SIGSEGV, and the tool's report names the tagged address.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common.h"

#ifndef PR_GET_TAGGED_ADDR_CTRL
#define PR_GET_TAGGED_ADDR_CTRL 56
#endif

#define PAGES 32
#define TAG_SHIFT 56

static void *with_tag(const void *p, unsigned tag)
{
	uintptr_t a = (uintptr_t)p & ((1UL << TAG_SHIFT) - 1);
	return (void *)(a | (uintptr_t)tag << TAG_SHIFT);
}

static sigjmp_buf recover;
static volatile uintptr_t fault_addr;

static void on_segv(int sig, siginfo_t *info, void *ctx)
{
	(void)sig;
	(void)ctx;
	fault_addr = (uintptr_t)info->si_addr;
	siglongjmp(recover, 1);
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "run", "space", "fault", NULL };
	program_init("tagged_ptr", "[run|space|fault]");
	int mode = argc > 1 ? parse_choice(argv[1], "mode", modes) : 0;
	if (argc > 2)
		usage_error("too many arguments");

	long ps = (long)page_size();
	unsigned char *base = map_or_die(NULL, PAGES * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "region");

	/* Every page is first touched by a store through a tagged pointer (its fault is tagged). */
	for (int i = 0; i < PAGES; i++) {
		volatile unsigned char *p = with_tag(base + i * ps, 0x5a);
		p[0] = (unsigned char)(i % 251 + 1);
		volatile uint64_t *q = with_tag(base + i * ps + 8, 0x01 + i);
		*q = 0x1122334455667788ULL + (uint64_t)i;
	}
	unsigned long sum = 0, sum_other_tag = 0, words_ok = 0;
	for (int i = 0; i < PAGES; i++) {
		sum += base[i * ps];
		sum_other_tag += *(volatile unsigned char *)with_tag(base + i * ps, 0xff);
		uint64_t w = *(volatile uint64_t *)(base + i * ps + 8);
		words_ok += w == 0x1122334455667788ULL + (uint64_t)i;
	}
	/* A pair store and load (STP/LDP) through a tagged pointer. */
	volatile uint64_t *pair = with_tag(base + 16, 0x7f);
	__asm__ volatile("stp %1, %2, [%0]" ::"r"(pair), "r"(0xaUL), "r"(0xbUL) : "memory");
	uint64_t a, b;
	__asm__ volatile("ldp %0, %1, [%2]" : "=r"(a), "=r"(b) : "r"(with_tag(base + 16, 0x80)) : "memory");
	out("stores pages=%d sum=%lu sum_other_tag=%lu words_ok=%lu pair=%lx,%lx\n", PAGES, sum, sum_other_tag, words_ok,
	    (unsigned long)a, (unsigned long)b);

	/*
	 * The tagged address ABI is off at start (PR_GET_TAGGED_ADDR_CTRL says 0), so a tagged buffer
	 * handed to write(2) is not a user address: EFAULT.
	 */
	int fds[2];
	if (pipe(fds) != 0)
		die("pipe: %s", errno_name(errno));
	long ctrl = prctl(PR_GET_TAGGED_ADDR_CTRL, 0, 0, 0, 0);
	errno = 0;
	long w1 = write(fds[1], with_tag(base, 0x5a), 8);
	int e1 = errno;
	out("abi ctrl=%ld write_tagged=%ld %s\n", ctrl, w1, w1 < 0 ? errno_name(e1) : "-");

	/*
	 * `space`: address-space calls take a tagged start as the untagged one (the kernel untags it
	 * whether or not the ABI is on): page 2 made read-only and writable again through two tags,
	 * page 4 dropped by madvise(MADV_DONTNEED) through a third (it reads back as zero), and
	 * mincore over pages 0-3 through a fourth.
	 */
	if (mode == 1) {
		int mp = mprotect(with_tag(base + 2 * ps, 0x5a), ps, PROT_READ);
		int mp_errno = mp == 0 ? 0 : errno;
		int mp2 = mprotect(with_tag(base + 2 * ps, 0x33), ps, PROT_READ | PROT_WRITE);
		int md = madvise(with_tag(base + 4 * ps, 0x77), ps, MADV_DONTNEED);
		unsigned char vec[4] = { 0, 0, 0, 0 };
		int mc = mincore(with_tag(base, 0x12), 4 * ps, vec);
		out("space mprotect=%d %s mprotect_back=%d madvise=%d page4=%u mincore=%d resident=%u%u%u%u\n", mp,
		    mp == 0 ? "-" : errno_name(mp_errno), mp2, md, base[4 * ps], mc, vec[0] & 1, vec[1] & 1, vec[2] & 1,
		    vec[3] & 1);
	}

	/* A tagged access to an unmapped page: SIGSEGV, si_addr without the tag. */
	unmap_or_die(base + 3 * ps, ps, "page 3");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSEGV, &sa, NULL) != 0)
		die("sigaction: %s", errno_name(errno));
	unsigned char *hole = base + 3 * ps + 0x10;
	if (sigsetjmp(recover, 1) == 0) {
		*(volatile unsigned char *)with_tag(hole, 0x5a) = 1;
		die("a store to an unmapped page did not fault");
	}
	out("segv si_addr_is=%s\n", fault_addr == (uintptr_t)hole ? "untagged" : fault_addr == (uintptr_t)with_tag(hole, 0x5a) ? "tagged" : "other");

	if (mode == 2) {
		signal(SIGSEGV, SIG_DFL);
		*(volatile unsigned char *)with_tag(hole, 0xa5) = 2;
		die("a store to an unmapped page did not fault");
	}
	return 0;
}
