/**
 * /sys as memory-management programs read it (v6.12 layout on arm64 with 4 KiB pages):
 *
 *   devices/system/cpu/{online,possible,present,offline,kernel_max,cpuN/{online,topology/*}}
 *   devices/system/node/{online,possible,has_cpu,has_memory,has_normal_memory,node0/{cpulist,cpumap,meminfo}}
 *   kernel/mm/transparent_hugepage/{enabled,defrag,use_zero_page,hpage_pmd_size,shmem_enabled,
 *       khugepaged/*, hugepages-<size>kB/{enabled,shmem_enabled}}
 *   kernel/mm/hugepages/hugepages-<size>kB/{nr_hugepages,free_hugepages,...} (none reserved)
 *   block/sda/queue/read_ahead_kb
 *
 * The THP files report the profile's knobs: a size is "[always]" when its order is in anon_mthp
 * (enabled) or shmem_mthp (shmem_enabled), "[never]" otherwise. PMD-sized THP is thp_pmd: the
 * top-level "enabled" and hugepages-2048kB/enabled (inherit by default, as in the kernel) are
 * kept as written, and thp_pmd becomes what order 9 resolves to (inherit takes the top level).
 * Writing one, as root, asks the machine to change the knob (ProcHost.setKnob) and reads back
 * what it now is. The model has no "madvise" mode for the mTHP sizes and no "within_size": writing
 * them is EINVAL rather than a silent approximation. read_ahead_kb is ra_kb.
 */
import type { KnobName, ThpPmdMode } from '../mm/knobs.js';
import { sizeName, THP_PMD_MODES } from '../mm/knobs.js';
import { EINVAL } from '../util/errno.js';
import { SYSFS_SB, type DirNode, type FileSystem, type SynthContent } from './fs.js';
import type { ProcHost } from './prochost.js';
import { bitmapHex, meminfoText, snapshot } from './procfs.js';

/** Folio orders with a hugepages-<size>kB directory: 16K (order 2) to 2M (order 9). */
const THP_ORDERS = [2, 3, 4, 5, 6, 7, 8, 9] as const;
const PMD_ORDER = 9;
/** Hugetlb page sizes of arm64 with 4 KiB pages: contiguous PTE, PMD, contiguous PMD, PUD. */
const HUGETLB_SIZES_KB = [64, 2048, 32768, 1048576] as const;

const enc = new TextEncoder();

/**
 * The word a store() compares (sysfs_streq, kstrtoul): the buffer up to a NUL, without one
 * trailing newline. The mm selftests write "never\0" (strlen + 1 bytes).
 */
function word(data: Uint8Array): string {
  const nul = data.indexOf(0);
  return new TextDecoder().decode(nul >= 0 ? data.subarray(0, nul) : data).replace(/\n$/, '');
}

/** "a [b] c": the choices with the current one bracketed. */
function choices(all: readonly string[], current: string): string {
  return all.map((c) => (c === current ? `[${c}]` : c)).join(' ') + '\n';
}

export function mountSysfs(fs: FileSystem, host: ProcHost): void {
  const sys = dir(fs, fs.root, 'sys', 0o555);
  const ro = (parent: DirNode, name: string, gen: () => string): void => {
    fs.newSynth(SYSFS_SB, 0o444, { open: () => snapshot(enc.encode(gen())) }, parent, name);
  };
  const rw = (parent: DirNode, name: string, gen: () => string, store: (w: string) => number): void => {
    const content: SynthContent = {
      open: () => snapshot(enc.encode(gen())),
      write: (data) => {
        const r = store(word(data));
        return r < 0 ? r : data.length;
      },
    };
    fs.newSynth(SYSFS_SB, 0o644, content, parent, name);
  };
  /** A stored setting the model does not act on: reads back what was written. */
  const setting = (parent: DirNode, name: string, key: string, initial: string, valid: (w: string) => boolean): void => {
    rw(parent, name, () => (host.sysctl.get(key) ?? initial) + '\n', (w) => {
      if (!valid(w)) return -EINVAL;
      host.sysctl.set(key, w);
      return 0;
    });
  };
  const isUint = (w: string): boolean => /^[0-9]+$/.test(w);

  // ---- CPUs and nodes ----
  const n = host.cpus;
  const all = n === 1 ? '0' : `0-${n - 1}`;
  const system = dir(fs, dir(fs, sys, 'devices', 0o755), 'system', 0o755);
  const cpu = dir(fs, system, 'cpu', 0o755);
  ro(cpu, 'online', () => all + '\n');
  ro(cpu, 'possible', () => all + '\n');
  ro(cpu, 'present', () => all + '\n');
  ro(cpu, 'offline', () => '\n');
  ro(cpu, 'kernel_max', () => '511\n');
  for (let c = 0; c < n; c++) {
    const d = dir(fs, cpu, `cpu${c}`, 0o755);
    ro(d, 'online', () => '1\n');
    const topo = dir(fs, d, 'topology', 0o755);
    ro(topo, 'core_id', () => `${c}\n`);
    ro(topo, 'cluster_id', () => '0\n');
    ro(topo, 'physical_package_id', () => '0\n');
    ro(topo, 'thread_siblings_list', () => `${c}\n`);
    ro(topo, 'core_cpus_list', () => `${c}\n`);
    ro(topo, 'core_siblings_list', () => all + '\n');
    ro(topo, 'package_cpus_list', () => all + '\n');
    ro(topo, 'cluster_cpus_list', () => all + '\n');
    ro(topo, 'die_id', () => '0\n');
    ro(topo, 'die_cpus_list', () => all + '\n');
    // The same sets as bitmaps (cpumap_print_to_pagebuf: %*pb over nr_cpu_ids bits), as hwloc reads them.
    const one = cpumask(n, [c]);
    const every = cpumask(n, Array.from({ length: n }, (_, i) => i));
    ro(topo, 'thread_siblings', () => one + '\n');
    ro(topo, 'core_cpus', () => one + '\n');
    ro(topo, 'core_siblings', () => every + '\n');
    ro(topo, 'package_cpus', () => every + '\n');
    ro(topo, 'cluster_cpus', () => every + '\n');
    ro(topo, 'die_cpus', () => every + '\n');
  }
  const node = dir(fs, system, 'node', 0o755);
  for (const f of ['online', 'possible', 'has_cpu', 'has_memory', 'has_normal_memory']) ro(node, f, () => '0\n');
  const node0 = dir(fs, node, 'node0', 0o755);
  ro(node0, 'cpulist', () => all + '\n');
  ro(node0, 'cpumap', () => bitmapHex((1n << BigInt(n)) - 1n, n) + '\n');
  ro(node0, 'meminfo', () =>
    meminfoText(host)
      .split('\n')
      .filter((l) => /^(MemTotal|MemFree|AnonPages|Mapped|PageTables|Shmem):/.test(l))
      .map((l) => `Node 0 ${l}`)
      .join('\n') + '\n',
  );

  // ---- transparent hugepages ----
  const mmDir = dir(fs, dir(fs, sys, 'kernel', 0o755), 'mm', 0o755);
  const thp = dir(fs, mmDir, 'transparent_hugepage', 0o755);
  const policy = (): { anon: readonly number[]; shmem: readonly number[]; pmd: ThpPmdMode } => {
    const k = host.kernel;
    return k === null ? { anon: [], shmem: [], pmd: 'never' } : { anon: k.policy.anon_mthp, shmem: k.policy.shmem_mthp, pmd: k.policy.thp_pmd };
  };
  const thpModes: readonly string[] = THP_PMD_MODES;
  /** hugepages-2048kB/enabled as written (inherit until someone writes it). */
  const pmdSetting = (): string => host.sysctl.get('thp/pmd/enabled') ?? 'inherit';
  /** The top-level mode: as written, else what thp_pmd says while order 9 inherits it. */
  const topMode = (): ThpPmdMode => {
    const w = host.sysctl.get('thp/enabled');
    if (w !== undefined) return w as ThpPmdMode;
    return pmdSetting() === 'inherit' ? policy().pmd : 'never';
  };
  /** thp_pmd follows the two files (hugepage_global_enabled and huge_anon_orders_*, v6.12). */
  const applyPmd = (top: ThpPmdMode, pmd: string): number => {
    host.sysctl.set('thp/enabled', top);
    host.sysctl.set('thp/pmd/enabled', pmd);
    return host.setKnob('thp_pmd', pmd === 'inherit' ? top : pmd);
  };
  const setOrders = (knob: KnobName, orders: readonly number[], order: number, on: boolean): number => {
    const next = new Set(orders);
    if (on) next.add(order);
    else next.delete(order);
    const list = [...next].sort((a, b) => a - b);
    return host.setKnob(knob, list.length === 0 ? 'none' : list.map(sizeName).join(','));
  };
  rw(thp, 'enabled', () => choices(['always', 'madvise', 'never'], topMode()), (w) => {
    if (!thpModes.includes(w)) return -EINVAL;
    return applyPmd(w as ThpPmdMode, pmdSetting());
  });
  const defragModes = ['always', 'defer', 'defer+madvise', 'madvise', 'never'];
  rw(thp, 'defrag', () => choices(defragModes, host.sysctl.get('thp/defrag') ?? 'madvise'), (w) => {
    if (!defragModes.includes(w)) return -EINVAL;
    host.sysctl.set('thp/defrag', w);
    return 0;
  });
  const shmemModes = ['always', 'within_size', 'advise', 'never', 'deny', 'force'];
  rw(thp, 'shmem_enabled', () => choices(shmemModes, host.sysctl.get('thp/shmem_enabled') ?? 'never'), (w) => {
    // Only the modes the model follows: none of them changes a per-size knob.
    if (w !== 'never' && w !== 'deny') return -EINVAL;
    host.sysctl.set('thp/shmem_enabled', w);
    return 0;
  });
  rw(thp, 'use_zero_page', () => ((host.kernel?.policy.thp_zero_page ?? true) ? '1\n' : '0\n'), (w) => {
    if (w !== '0' && w !== '1') return -EINVAL;
    return host.setKnob('thp_zero_page', w === '1' ? 'on' : 'off');
  });
  ro(thp, 'hpage_pmd_size', () => '2097152\n');
  const khugepaged = dir(fs, thp, 'khugepaged', 0o755);
  const khDefaults: readonly [string, string][] = [
    ['defrag', '1'], ['max_ptes_none', '511'], ['max_ptes_swap', '64'], ['max_ptes_shared', '256'], ['pages_to_scan', '4096'],
    ['scan_sleep_millisecs', '10000'], ['alloc_sleep_millisecs', '60000'],
  ];
  for (const [name, v] of khDefaults) setting(khugepaged, name, `thp/khugepaged/${name}`, v, isUint);
  ro(khugepaged, 'pages_collapsed', () => '0\n');
  ro(khugepaged, 'full_scans', () => '0\n');

  const anonModes = ['always', 'inherit', 'madvise', 'never'];
  const shmemSizeModes = ['always', 'inherit', 'within_size', 'advise', 'never'];
  for (const order of THP_ORDERS) {
    const d = dir(fs, thp, `hugepages-${4 << order}kB`, 0o755);
    if (order === PMD_ORDER) {
      rw(d, 'enabled', () => choices(anonModes, pmdSetting()), (w) => {
        if (!anonModes.includes(w)) return -EINVAL;
        return applyPmd(topMode(), w);
      });
      rw(d, 'shmem_enabled', () => choices(shmemSizeModes, host.sysctl.get('thp/pmd/shmem_enabled') ?? 'inherit'), (w) => {
        if (w !== 'inherit' && w !== 'never') return -EINVAL;
        host.sysctl.set('thp/pmd/shmem_enabled', w);
        return 0;
      });
      continue;
    }
    rw(d, 'enabled', () => choices(anonModes, policy().anon.includes(order) ? 'always' : 'never'), (w) => {
      if (w === 'madvise' || !anonModes.includes(w)) return -EINVAL;
      // inherit follows the top-level setting; madvise there is not modelled for mTHP sizes.
      if (w === 'inherit' && topMode() === 'madvise') return -EINVAL;
      const on = w === 'always' || (w === 'inherit' && topMode() === 'always');
      return setOrders('anon_mthp', policy().anon, order, on);
    });
    rw(d, 'shmem_enabled', () => choices(shmemSizeModes, policy().shmem.includes(order) ? 'always' : 'never'), (w) => {
      if (w !== 'always' && w !== 'never' && w !== 'inherit') return -EINVAL;
      return setOrders('shmem_mthp', policy().shmem, order, w === 'always');
    });
  }

  // ---- hugetlb: sizes exist, no pages are reserved ----
  const hugepages = dir(fs, mmDir, 'hugepages', 0o755);
  for (const kb of HUGETLB_SIZES_KB) {
    const d = dir(fs, hugepages, `hugepages-${kb}kB`, 0o755);
    for (const f of ['free_hugepages', 'resv_hugepages', 'surplus_hugepages']) ro(d, f, () => '0\n');
    setting(d, 'nr_hugepages', `hugetlb/${kb}/nr_hugepages`, '0', (w) => w === '0');
    setting(d, 'nr_overcommit_hugepages', `hugetlb/${kb}/nr_overcommit_hugepages`, '0', (w) => w === '0');
  }

  // ---- the root file system's block device: readahead ----
  const queue = dir(fs, dir(fs, dir(fs, sys, 'block', 0o755), 'sda', 0o755), 'queue', 0o755);
  rw(queue, 'read_ahead_kb', () => `${host.kernel?.policy.ra_kb ?? 128}\n`, (w) => (/^[0-9]+$/.test(w) ? host.setKnob('ra_kb', w) : -EINVAL));
}

function dir(fs: FileSystem, parent: DirNode, name: string, perm: number): DirNode {
  const existing = parent.entries.get(name);
  if (existing !== undefined && existing.kind === 'dir') return existing;
  return fs.newPseudoDir(parent, SYSFS_SB, perm, 0, 0, name);
}

/** A CPU set as the kernel's %*pb prints it: hex, nr_cpu_ids bits, 32-bit groups joined by commas. */
export function cpumask(nrCpus: number, cpus: readonly number[]): string {
  let mask = 0n;
  for (const c of cpus) mask |= 1n << BigInt(c);
  const digits = Math.ceil(nrCpus / 4);
  const hex = mask.toString(16).padStart(digits, '0');
  const groups: string[] = [];
  for (let end = hex.length; end > 0; end -= 8) groups.unshift(hex.slice(Math.max(0, end - 8), end));
  return groups.join(',');
}
