/**
 * Constants of the Unicorn 2.0.1 C API, named exactly as in `include/unicorn/unicorn.h` and
 * `include/unicorn/arm64.h` of unicorn-engine/unicorn tag 2.0.1.post1 (the version Debian ships as
 * `libunicorn2` 2.0.1.post1). The values are the C enum values of that header; the register list
 * was produced from the enum's order and checked against anchors in test/engine/unicorn.test.ts.
 * Only what this project uses or is likely to use is here.
 */

// uc_arch
export const UC_ARCH_ARM = 1;
export const UC_ARCH_ARM64 = 2;

// uc_mode
export const UC_MODE_LITTLE_ENDIAN = 0;
export const UC_MODE_ARM = 0;
export const UC_MODE_BIG_ENDIAN = 1 << 30;

// uc_cpu_arm64 (set with uc_ctl(UC_CTL_CPU_MODEL) before the first other call)
export const UC_CPU_ARM64_A57 = 0;
export const UC_CPU_ARM64_A53 = 1;
export const UC_CPU_ARM64_A72 = 2;
export const UC_CPU_ARM64_MAX = 3;

// uc_err
export const UC_ERR_OK = 0;
export const UC_ERR_NOMEM = 1;
export const UC_ERR_ARCH = 2;
export const UC_ERR_HANDLE = 3;
export const UC_ERR_MODE = 4;
export const UC_ERR_VERSION = 5;
export const UC_ERR_READ_UNMAPPED = 6;
export const UC_ERR_WRITE_UNMAPPED = 7;
export const UC_ERR_FETCH_UNMAPPED = 8;
export const UC_ERR_HOOK = 9;
export const UC_ERR_INSN_INVALID = 10;
export const UC_ERR_MAP = 11;
export const UC_ERR_WRITE_PROT = 12;
export const UC_ERR_READ_PROT = 13;
export const UC_ERR_FETCH_PROT = 14;
export const UC_ERR_ARG = 15;
export const UC_ERR_READ_UNALIGNED = 16;
export const UC_ERR_WRITE_UNALIGNED = 17;
export const UC_ERR_FETCH_UNALIGNED = 18;
export const UC_ERR_HOOK_EXIST = 19;
export const UC_ERR_RESOURCE = 20;
export const UC_ERR_EXCEPTION = 21;

// uc_mem_type (the `type` argument of memory hooks)
export const UC_MEM_READ = 16;
export const UC_MEM_WRITE = 17;
export const UC_MEM_FETCH = 18;
export const UC_MEM_READ_UNMAPPED = 19;
export const UC_MEM_WRITE_UNMAPPED = 20;
export const UC_MEM_FETCH_UNMAPPED = 21;
export const UC_MEM_WRITE_PROT = 22;
export const UC_MEM_READ_PROT = 23;
export const UC_MEM_FETCH_PROT = 24;
export const UC_MEM_READ_AFTER = 25;

// uc_hook_type
export const UC_HOOK_INTR = 1 << 0;
export const UC_HOOK_INSN = 1 << 1;
export const UC_HOOK_CODE = 1 << 2;
export const UC_HOOK_BLOCK = 1 << 3;
export const UC_HOOK_MEM_READ_UNMAPPED = 1 << 4;
export const UC_HOOK_MEM_WRITE_UNMAPPED = 1 << 5;
export const UC_HOOK_MEM_FETCH_UNMAPPED = 1 << 6;
export const UC_HOOK_MEM_READ_PROT = 1 << 7;
export const UC_HOOK_MEM_WRITE_PROT = 1 << 8;
export const UC_HOOK_MEM_FETCH_PROT = 1 << 9;
export const UC_HOOK_MEM_READ = 1 << 10;
export const UC_HOOK_MEM_WRITE = 1 << 11;
export const UC_HOOK_MEM_FETCH = 1 << 12;
export const UC_HOOK_MEM_READ_AFTER = 1 << 13;
export const UC_HOOK_INSN_INVALID = 1 << 14;
export const UC_HOOK_EDGE_GENERATED = 1 << 15;
export const UC_HOOK_TCG_OPCODE = 1 << 16;
/** Unicorn 2.1.x only: QEMU's TLB fills, answered by the hook under UC_TLB_VIRTUAL. */
export const UC_HOOK_TLB_FILL = 1 << 17;
export const UC_HOOK_MEM_UNMAPPED = UC_HOOK_MEM_READ_UNMAPPED + UC_HOOK_MEM_WRITE_UNMAPPED + UC_HOOK_MEM_FETCH_UNMAPPED;
export const UC_HOOK_MEM_PROT = UC_HOOK_MEM_READ_PROT + UC_HOOK_MEM_WRITE_PROT + UC_HOOK_MEM_FETCH_PROT;
export const UC_HOOK_MEM_INVALID = UC_HOOK_MEM_UNMAPPED + UC_HOOK_MEM_PROT;

// uc_query_type
export const UC_QUERY_MODE = 1;
export const UC_QUERY_PAGE_SIZE = 2;
export const UC_QUERY_ARCH = 3;
export const UC_QUERY_TIMEOUT = 4;

// uc_control_type and the UC_CTL() packing: type | nr << 26 | rw << 30
export const UC_CTL_IO_NONE = 0;
export const UC_CTL_IO_WRITE = 1;
export const UC_CTL_IO_READ = 2;
export const UC_CTL_UC_MODE = 0;
export const UC_CTL_UC_PAGE_SIZE = 1;
export const UC_CTL_UC_ARCH = 2;
export const UC_CTL_UC_TIMEOUT = 3;
export const UC_CTL_UC_USE_EXITS = 4;
export const UC_CTL_UC_EXITS_CNT = 5;
export const UC_CTL_UC_EXITS = 6;
export const UC_CTL_CPU_MODEL = 7;
export const UC_CTL_TB_REQUEST_CACHE = 8;
export const UC_CTL_TB_REMOVE_CACHE = 9;
export const UC_CTL_TB_FLUSH = 10;
/** Unicorn 2.1.x only (2.0.1's uc_ctl refuses both with UC_ERR_ARG). */
export const UC_CTL_TLB_FLUSH = 11;
export const UC_CTL_TLB_TYPE = 12;

// uc_tlb_type (Unicorn 2.1.x)
export const UC_TLB_CPU = 0;
export const UC_TLB_VIRTUAL = 1;

/** The C macro UC_CTL(type, nr, rw), as the signed int the variadic uc_ctl() receives. */
export function UC_CTL(type: number, nr: number, rw: number): number {
  return (type | (nr << 26) | (rw << 30)) | 0;
}

// uc_prot
export const UC_PROT_NONE = 0;
export const UC_PROT_READ = 1;
export const UC_PROT_WRITE = 2;
export const UC_PROT_EXEC = 4;
export const UC_PROT_ALL = 7;

// QEMU's exception numbers as UC_HOOK_INTR receives them on Arm (target/arm/cpu.h, QEMU 5.0 in
// Unicorn 2.0.1). Not part of unicorn.h, but the hook's `intno` is exactly these.
export const EXCP_UDEF = 1;
export const EXCP_SWI = 2;
export const EXCP_PREFETCH_ABORT = 3;
export const EXCP_DATA_ABORT = 4;
export const EXCP_IRQ = 5;
export const EXCP_FIQ = 6;
export const EXCP_BKPT = 7;
export const EXCP_HVC = 11;
export const EXCP_HYP_TRAP = 12;
export const EXCP_SMC = 13;

// uc_arm64_reg, in header order
export const UC_ARM64_REG_INVALID = 0;
export const UC_ARM64_REG_X29 = 1;
export const UC_ARM64_REG_X30 = 2;
export const UC_ARM64_REG_NZCV = 3;
export const UC_ARM64_REG_SP = 4;
export const UC_ARM64_REG_WSP = 5;
export const UC_ARM64_REG_WZR = 6;
export const UC_ARM64_REG_XZR = 7;
export const UC_ARM64_REG_B0 = 8;
export const UC_ARM64_REG_B1 = 9;
export const UC_ARM64_REG_B2 = 10;
export const UC_ARM64_REG_B3 = 11;
export const UC_ARM64_REG_B4 = 12;
export const UC_ARM64_REG_B5 = 13;
export const UC_ARM64_REG_B6 = 14;
export const UC_ARM64_REG_B7 = 15;
export const UC_ARM64_REG_B8 = 16;
export const UC_ARM64_REG_B9 = 17;
export const UC_ARM64_REG_B10 = 18;
export const UC_ARM64_REG_B11 = 19;
export const UC_ARM64_REG_B12 = 20;
export const UC_ARM64_REG_B13 = 21;
export const UC_ARM64_REG_B14 = 22;
export const UC_ARM64_REG_B15 = 23;
export const UC_ARM64_REG_B16 = 24;
export const UC_ARM64_REG_B17 = 25;
export const UC_ARM64_REG_B18 = 26;
export const UC_ARM64_REG_B19 = 27;
export const UC_ARM64_REG_B20 = 28;
export const UC_ARM64_REG_B21 = 29;
export const UC_ARM64_REG_B22 = 30;
export const UC_ARM64_REG_B23 = 31;
export const UC_ARM64_REG_B24 = 32;
export const UC_ARM64_REG_B25 = 33;
export const UC_ARM64_REG_B26 = 34;
export const UC_ARM64_REG_B27 = 35;
export const UC_ARM64_REG_B28 = 36;
export const UC_ARM64_REG_B29 = 37;
export const UC_ARM64_REG_B30 = 38;
export const UC_ARM64_REG_B31 = 39;
export const UC_ARM64_REG_D0 = 40;
export const UC_ARM64_REG_D1 = 41;
export const UC_ARM64_REG_D2 = 42;
export const UC_ARM64_REG_D3 = 43;
export const UC_ARM64_REG_D4 = 44;
export const UC_ARM64_REG_D5 = 45;
export const UC_ARM64_REG_D6 = 46;
export const UC_ARM64_REG_D7 = 47;
export const UC_ARM64_REG_D8 = 48;
export const UC_ARM64_REG_D9 = 49;
export const UC_ARM64_REG_D10 = 50;
export const UC_ARM64_REG_D11 = 51;
export const UC_ARM64_REG_D12 = 52;
export const UC_ARM64_REG_D13 = 53;
export const UC_ARM64_REG_D14 = 54;
export const UC_ARM64_REG_D15 = 55;
export const UC_ARM64_REG_D16 = 56;
export const UC_ARM64_REG_D17 = 57;
export const UC_ARM64_REG_D18 = 58;
export const UC_ARM64_REG_D19 = 59;
export const UC_ARM64_REG_D20 = 60;
export const UC_ARM64_REG_D21 = 61;
export const UC_ARM64_REG_D22 = 62;
export const UC_ARM64_REG_D23 = 63;
export const UC_ARM64_REG_D24 = 64;
export const UC_ARM64_REG_D25 = 65;
export const UC_ARM64_REG_D26 = 66;
export const UC_ARM64_REG_D27 = 67;
export const UC_ARM64_REG_D28 = 68;
export const UC_ARM64_REG_D29 = 69;
export const UC_ARM64_REG_D30 = 70;
export const UC_ARM64_REG_D31 = 71;
export const UC_ARM64_REG_H0 = 72;
export const UC_ARM64_REG_H1 = 73;
export const UC_ARM64_REG_H2 = 74;
export const UC_ARM64_REG_H3 = 75;
export const UC_ARM64_REG_H4 = 76;
export const UC_ARM64_REG_H5 = 77;
export const UC_ARM64_REG_H6 = 78;
export const UC_ARM64_REG_H7 = 79;
export const UC_ARM64_REG_H8 = 80;
export const UC_ARM64_REG_H9 = 81;
export const UC_ARM64_REG_H10 = 82;
export const UC_ARM64_REG_H11 = 83;
export const UC_ARM64_REG_H12 = 84;
export const UC_ARM64_REG_H13 = 85;
export const UC_ARM64_REG_H14 = 86;
export const UC_ARM64_REG_H15 = 87;
export const UC_ARM64_REG_H16 = 88;
export const UC_ARM64_REG_H17 = 89;
export const UC_ARM64_REG_H18 = 90;
export const UC_ARM64_REG_H19 = 91;
export const UC_ARM64_REG_H20 = 92;
export const UC_ARM64_REG_H21 = 93;
export const UC_ARM64_REG_H22 = 94;
export const UC_ARM64_REG_H23 = 95;
export const UC_ARM64_REG_H24 = 96;
export const UC_ARM64_REG_H25 = 97;
export const UC_ARM64_REG_H26 = 98;
export const UC_ARM64_REG_H27 = 99;
export const UC_ARM64_REG_H28 = 100;
export const UC_ARM64_REG_H29 = 101;
export const UC_ARM64_REG_H30 = 102;
export const UC_ARM64_REG_H31 = 103;
export const UC_ARM64_REG_Q0 = 104;
export const UC_ARM64_REG_Q1 = 105;
export const UC_ARM64_REG_Q2 = 106;
export const UC_ARM64_REG_Q3 = 107;
export const UC_ARM64_REG_Q4 = 108;
export const UC_ARM64_REG_Q5 = 109;
export const UC_ARM64_REG_Q6 = 110;
export const UC_ARM64_REG_Q7 = 111;
export const UC_ARM64_REG_Q8 = 112;
export const UC_ARM64_REG_Q9 = 113;
export const UC_ARM64_REG_Q10 = 114;
export const UC_ARM64_REG_Q11 = 115;
export const UC_ARM64_REG_Q12 = 116;
export const UC_ARM64_REG_Q13 = 117;
export const UC_ARM64_REG_Q14 = 118;
export const UC_ARM64_REG_Q15 = 119;
export const UC_ARM64_REG_Q16 = 120;
export const UC_ARM64_REG_Q17 = 121;
export const UC_ARM64_REG_Q18 = 122;
export const UC_ARM64_REG_Q19 = 123;
export const UC_ARM64_REG_Q20 = 124;
export const UC_ARM64_REG_Q21 = 125;
export const UC_ARM64_REG_Q22 = 126;
export const UC_ARM64_REG_Q23 = 127;
export const UC_ARM64_REG_Q24 = 128;
export const UC_ARM64_REG_Q25 = 129;
export const UC_ARM64_REG_Q26 = 130;
export const UC_ARM64_REG_Q27 = 131;
export const UC_ARM64_REG_Q28 = 132;
export const UC_ARM64_REG_Q29 = 133;
export const UC_ARM64_REG_Q30 = 134;
export const UC_ARM64_REG_Q31 = 135;
export const UC_ARM64_REG_S0 = 136;
export const UC_ARM64_REG_S1 = 137;
export const UC_ARM64_REG_S2 = 138;
export const UC_ARM64_REG_S3 = 139;
export const UC_ARM64_REG_S4 = 140;
export const UC_ARM64_REG_S5 = 141;
export const UC_ARM64_REG_S6 = 142;
export const UC_ARM64_REG_S7 = 143;
export const UC_ARM64_REG_S8 = 144;
export const UC_ARM64_REG_S9 = 145;
export const UC_ARM64_REG_S10 = 146;
export const UC_ARM64_REG_S11 = 147;
export const UC_ARM64_REG_S12 = 148;
export const UC_ARM64_REG_S13 = 149;
export const UC_ARM64_REG_S14 = 150;
export const UC_ARM64_REG_S15 = 151;
export const UC_ARM64_REG_S16 = 152;
export const UC_ARM64_REG_S17 = 153;
export const UC_ARM64_REG_S18 = 154;
export const UC_ARM64_REG_S19 = 155;
export const UC_ARM64_REG_S20 = 156;
export const UC_ARM64_REG_S21 = 157;
export const UC_ARM64_REG_S22 = 158;
export const UC_ARM64_REG_S23 = 159;
export const UC_ARM64_REG_S24 = 160;
export const UC_ARM64_REG_S25 = 161;
export const UC_ARM64_REG_S26 = 162;
export const UC_ARM64_REG_S27 = 163;
export const UC_ARM64_REG_S28 = 164;
export const UC_ARM64_REG_S29 = 165;
export const UC_ARM64_REG_S30 = 166;
export const UC_ARM64_REG_S31 = 167;
export const UC_ARM64_REG_W0 = 168;
export const UC_ARM64_REG_W1 = 169;
export const UC_ARM64_REG_W2 = 170;
export const UC_ARM64_REG_W3 = 171;
export const UC_ARM64_REG_W4 = 172;
export const UC_ARM64_REG_W5 = 173;
export const UC_ARM64_REG_W6 = 174;
export const UC_ARM64_REG_W7 = 175;
export const UC_ARM64_REG_W8 = 176;
export const UC_ARM64_REG_W9 = 177;
export const UC_ARM64_REG_W10 = 178;
export const UC_ARM64_REG_W11 = 179;
export const UC_ARM64_REG_W12 = 180;
export const UC_ARM64_REG_W13 = 181;
export const UC_ARM64_REG_W14 = 182;
export const UC_ARM64_REG_W15 = 183;
export const UC_ARM64_REG_W16 = 184;
export const UC_ARM64_REG_W17 = 185;
export const UC_ARM64_REG_W18 = 186;
export const UC_ARM64_REG_W19 = 187;
export const UC_ARM64_REG_W20 = 188;
export const UC_ARM64_REG_W21 = 189;
export const UC_ARM64_REG_W22 = 190;
export const UC_ARM64_REG_W23 = 191;
export const UC_ARM64_REG_W24 = 192;
export const UC_ARM64_REG_W25 = 193;
export const UC_ARM64_REG_W26 = 194;
export const UC_ARM64_REG_W27 = 195;
export const UC_ARM64_REG_W28 = 196;
export const UC_ARM64_REG_W29 = 197;
export const UC_ARM64_REG_W30 = 198;
export const UC_ARM64_REG_X0 = 199;
export const UC_ARM64_REG_X1 = 200;
export const UC_ARM64_REG_X2 = 201;
export const UC_ARM64_REG_X3 = 202;
export const UC_ARM64_REG_X4 = 203;
export const UC_ARM64_REG_X5 = 204;
export const UC_ARM64_REG_X6 = 205;
export const UC_ARM64_REG_X7 = 206;
export const UC_ARM64_REG_X8 = 207;
export const UC_ARM64_REG_X9 = 208;
export const UC_ARM64_REG_X10 = 209;
export const UC_ARM64_REG_X11 = 210;
export const UC_ARM64_REG_X12 = 211;
export const UC_ARM64_REG_X13 = 212;
export const UC_ARM64_REG_X14 = 213;
export const UC_ARM64_REG_X15 = 214;
export const UC_ARM64_REG_X16 = 215;
export const UC_ARM64_REG_X17 = 216;
export const UC_ARM64_REG_X18 = 217;
export const UC_ARM64_REG_X19 = 218;
export const UC_ARM64_REG_X20 = 219;
export const UC_ARM64_REG_X21 = 220;
export const UC_ARM64_REG_X22 = 221;
export const UC_ARM64_REG_X23 = 222;
export const UC_ARM64_REG_X24 = 223;
export const UC_ARM64_REG_X25 = 224;
export const UC_ARM64_REG_X26 = 225;
export const UC_ARM64_REG_X27 = 226;
export const UC_ARM64_REG_X28 = 227;
export const UC_ARM64_REG_V0 = 228;
export const UC_ARM64_REG_V1 = 229;
export const UC_ARM64_REG_V2 = 230;
export const UC_ARM64_REG_V3 = 231;
export const UC_ARM64_REG_V4 = 232;
export const UC_ARM64_REG_V5 = 233;
export const UC_ARM64_REG_V6 = 234;
export const UC_ARM64_REG_V7 = 235;
export const UC_ARM64_REG_V8 = 236;
export const UC_ARM64_REG_V9 = 237;
export const UC_ARM64_REG_V10 = 238;
export const UC_ARM64_REG_V11 = 239;
export const UC_ARM64_REG_V12 = 240;
export const UC_ARM64_REG_V13 = 241;
export const UC_ARM64_REG_V14 = 242;
export const UC_ARM64_REG_V15 = 243;
export const UC_ARM64_REG_V16 = 244;
export const UC_ARM64_REG_V17 = 245;
export const UC_ARM64_REG_V18 = 246;
export const UC_ARM64_REG_V19 = 247;
export const UC_ARM64_REG_V20 = 248;
export const UC_ARM64_REG_V21 = 249;
export const UC_ARM64_REG_V22 = 250;
export const UC_ARM64_REG_V23 = 251;
export const UC_ARM64_REG_V24 = 252;
export const UC_ARM64_REG_V25 = 253;
export const UC_ARM64_REG_V26 = 254;
export const UC_ARM64_REG_V27 = 255;
export const UC_ARM64_REG_V28 = 256;
export const UC_ARM64_REG_V29 = 257;
export const UC_ARM64_REG_V30 = 258;
export const UC_ARM64_REG_V31 = 259;
export const UC_ARM64_REG_PC = 260;
export const UC_ARM64_REG_CPACR_EL1 = 261;
export const UC_ARM64_REG_TPIDR_EL0 = 262;
export const UC_ARM64_REG_TPIDRRO_EL0 = 263;
export const UC_ARM64_REG_TPIDR_EL1 = 264;
export const UC_ARM64_REG_PSTATE = 265;
export const UC_ARM64_REG_ELR_EL0 = 266;
export const UC_ARM64_REG_ELR_EL1 = 267;
export const UC_ARM64_REG_ELR_EL2 = 268;
export const UC_ARM64_REG_ELR_EL3 = 269;
export const UC_ARM64_REG_SP_EL0 = 270;
export const UC_ARM64_REG_SP_EL1 = 271;
export const UC_ARM64_REG_SP_EL2 = 272;
export const UC_ARM64_REG_SP_EL3 = 273;
export const UC_ARM64_REG_TTBR0_EL1 = 274;
export const UC_ARM64_REG_TTBR1_EL1 = 275;
export const UC_ARM64_REG_ESR_EL0 = 276;
export const UC_ARM64_REG_ESR_EL1 = 277;
export const UC_ARM64_REG_ESR_EL2 = 278;
export const UC_ARM64_REG_ESR_EL3 = 279;
export const UC_ARM64_REG_FAR_EL0 = 280;
export const UC_ARM64_REG_FAR_EL1 = 281;
export const UC_ARM64_REG_FAR_EL2 = 282;
export const UC_ARM64_REG_FAR_EL3 = 283;
export const UC_ARM64_REG_PAR_EL1 = 284;
export const UC_ARM64_REG_MAIR_EL1 = 285;
export const UC_ARM64_REG_VBAR_EL0 = 286;
export const UC_ARM64_REG_VBAR_EL1 = 287;
export const UC_ARM64_REG_VBAR_EL2 = 288;
export const UC_ARM64_REG_VBAR_EL3 = 289;
export const UC_ARM64_REG_CP_REG = 290;
export const UC_ARM64_REG_FPCR = 291;
export const UC_ARM64_REG_FPSR = 292;
export const UC_ARM64_REG_ENDING = 293;
export const UC_ARM64_REG_IP0 = UC_ARM64_REG_X16;
export const UC_ARM64_REG_IP1 = UC_ARM64_REG_X17;
export const UC_ARM64_REG_FP = UC_ARM64_REG_X29;
export const UC_ARM64_REG_LR = UC_ARM64_REG_X30;

/** The register id of Xn (n = 0..30): X29 and X30 sit apart from X0..X28 in the enum. */
export function ucArm64RegX(n: number): number {
  if (n <= 28) return UC_ARM64_REG_X0 + n;
  if (n === 29) return UC_ARM64_REG_X29;
  if (n === 30) return UC_ARM64_REG_X30;
  throw new RangeError(`no register X${n}`);
}

/** The register id of Qn (n = 0..31), the 128-bit SIMD&FP register. */
export function ucArm64RegQ(n: number): number {
  if (n < 0 || n > 31) throw new RangeError(`no register Q${n}`);
  return UC_ARM64_REG_Q0 + n;
}
