/*
 * tlbi-count.c: a QEMU TCG plugin for `contpte-lab validate`.
 *
 * Counts the TLBI instructions the emulated CPU executes, by encoding (op1, CRm, op2), between
 * two marker instructions a guest program executes: `hint #0x7e` starts a region (counts are
 * zeroed) and `hint #0x7f` ends it (one line of counts is appended to the output file). Both are
 * unallocated hints, so the CPU treats them as NOPs and Linux never executes them.
 *
 * Output, one line per region: `region <n> <op1>.<crm>.<op2>=<count> ...` (nonzero counts only).
 * The host (src/validate/tlbi.ts) names the operations.
 *
 * QEMU's installed packages ship no plugin header, so the few entry points used are declared
 * here from the documented plugin API (include/qemu/qemu-plugin.h, API version 2 and later).
 * Build: gcc -shared -fPIC -O2 -o tlbi-count.so tlbi-count.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
struct qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb)(unsigned int vcpu_index, void *userdata);
typedef void (*atexit_cb)(qemu_plugin_id_t id, void *userdata);

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb cb);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
extern size_t qemu_plugin_insn_data(const struct qemu_plugin_insn *insn, void *dest, size_t len);
extern void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, udata_cb cb, enum qemu_plugin_cb_flags flags, void *userdata);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, atexit_cb cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 2;

/* SYS (op0 = 1, L = 0) with CRn = 8 is TLBI; op1, CRm and op2 pick the operation. */
#define SYS_MASK 0xFFF80000u
#define SYS_BITS 0xD5080000u
#define HINT_START 0xD5032FDFu /* hint #0x7e */
#define HINT_END 0xD5032FFFu   /* hint #0x7f */
#define NKEYS 1024             /* op1 (3 bits), CRm (4), op2 (3) */

static uint64_t counts[NKEYS];
static volatile int active;
static unsigned regions;
static FILE *out;

static void on_tlbi(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	if (active)
		__atomic_add_fetch(&counts[(uintptr_t)udata], 1, __ATOMIC_RELAXED);
}

static void on_start(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	(void)udata;
	for (int i = 0; i < NKEYS; i++)
		__atomic_store_n(&counts[i], 0, __ATOMIC_RELAXED);
	active = 1;
}

static void on_end(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	(void)udata;
	active = 0;
	fprintf(out, "region %u", regions++);
	for (int i = 0; i < NKEYS; i++) {
		uint64_t n = __atomic_load_n(&counts[i], __ATOMIC_RELAXED);
		if (n)
			fprintf(out, " %d.%d.%d=%llu", i >> 7, (i >> 3) & 15, i & 7, (unsigned long long)n);
	}
	fputc('\n', out);
	fflush(out);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	size_t n = qemu_plugin_tb_n_insns(tb);
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint32_t w = 0;
		if (qemu_plugin_insn_data(insn, &w, sizeof(w)) != sizeof(w))
			continue;
		if ((w & SYS_MASK) == SYS_BITS && ((w >> 12) & 15) == 8) {
			uintptr_t key = (((w >> 16) & 7) << 7) | (((w >> 8) & 15) << 3) | ((w >> 5) & 7);
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_tlbi, QEMU_PLUGIN_CB_NO_REGS, (void *)key);
		} else if (w == HINT_START) {
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS, NULL);
		} else if (w == HINT_END) {
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
		}
	}
}

static void on_plugin_exit(qemu_plugin_id_t id, void *udata)
{
	(void)id;
	(void)udata;
	fflush(out);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info_t *info, int argc, char **argv)
{
	(void)info;
	const char *path = NULL;
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], "out=", 4) == 0)
			path = argv[i] + 4;
	if (path == NULL) {
		fprintf(stderr, "tlbi-count: missing out=FILE\n");
		return -1;
	}
	out = fopen(path, "w");
	if (out == NULL) {
		perror(path);
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
	return 0;
}
