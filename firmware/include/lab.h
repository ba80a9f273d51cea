/*
 * lab.h: guest markers for contpte-lab (like gem5's m5ops or valgrind's client requests).
 *
 * A guest program includes this header to talk to the tool through the marker syscall of
 * docs/design.md: `svc #0` with x8 = 0x4C4142 ("LAB"), x0 = operation, x1 = argument.
 *
 *   lab_mark("name")        put a named marker in the trace
 *   lab_reset_stats()       zero the counts: what follows is the region of interest
 *   lab_dump_stats("label") record the counts since the last reset under `label`
 *   lab_ops(n)              add n to the number of operations the program did (per-op figures)
 *
 * Under contpte-lab each call returns 0. Real Linux and qemu-aarch64 have no syscall with this
 * number and return -ENOSYS, so the same binary runs anywhere: a program must never let its
 * output depend on these return values.
 */
#ifndef CONTPTE_LAB_H
#define CONTPTE_LAB_H

#if !defined(__aarch64__)
#error "lab.h: the contpte-lab markers are defined for aarch64 guests only"
#endif

/* "LAB" in ASCII; far above every real arm64 syscall number, so Linux answers -ENOSYS. */
#define LAB_SYSCALL_NR 0x4C4142UL

#define LAB_OP_MARK 1UL  /* x1 = address of a NUL-terminated name */
#define LAB_OP_RESET 2UL /* x1 unused */
#define LAB_OP_DUMP 3UL  /* x1 = address of a NUL-terminated label */
#define LAB_OP_OPS 4UL   /* x1 = number of operations to add */

/*
 * One marker call. The "memory" clobber keeps the compiler from moving guest loads and stores
 * across the marker, so a reset or dump brackets exactly the accesses written between them; the
 * Linux syscall ABI preserves every register but x0, which the tool must honour too.
 */
static inline long lab_call(unsigned long op, unsigned long arg)
{
	register unsigned long x8 __asm__("x8") = LAB_SYSCALL_NR;
	register unsigned long x0 __asm__("x0") = op;
	register unsigned long x1 __asm__("x1") = arg;

	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1) : "memory");
	return (long)x0;
}

static inline long lab_mark(const char *name)
{
	return lab_call(LAB_OP_MARK, (unsigned long)name);
}

static inline long lab_reset_stats(void)
{
	return lab_call(LAB_OP_RESET, 0);
}

static inline long lab_dump_stats(const char *label)
{
	return lab_call(LAB_OP_DUMP, (unsigned long)label);
}

static inline long lab_ops(unsigned long n)
{
	return lab_call(LAB_OP_OPS, n);
}

#endif /* CONTPTE_LAB_H */
