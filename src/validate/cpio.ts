/**
 * A gzip-compressed cpio archive in the "newc" format, the format the kernel unpacks an
 * initramfs from (Documentation/driver-api/early-userspace/buffer-format.rst): per entry a
 * 110-byte ASCII header of hexadecimal fields, the NUL-terminated name padded to 4 bytes, the
 * data padded to 4 bytes; a `TRAILER!!!` entry ends it. Written here so `validate` does not need
 * the cpio tool.
 */
import { gzipSync } from 'node:zlib';

export type CpioEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly kind: 'file'; readonly path: string; readonly data: Uint8Array; readonly mode?: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** The archive of `entries` (directories before what they hold), gzip-compressed. */
export function cpioNewcGz(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const put = (name: string, mode: number, data: Uint8Array, nlink: number): void => {
    const nameBytes = Buffer.from(name + '\0', 'utf8');
    const fields = [ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
    const header = Buffer.from('070701' + fields.map(hex8).join(''), 'ascii');
    parts.push(header, nameBytes, Buffer.alloc(pad4(header.length + nameBytes.length)), Buffer.from(data), Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    switch (e.kind) {
      case 'dir':
        put(name, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), 2);
        break;
      case 'file':
        put(name, S_IFREG | (e.mode ?? 0o644), e.data, 1);
        break;
      case 'symlink':
        put(name, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'), 1);
        break;
      default: {
        const never: never = e;
        throw new Error(`unknown cpio entry ${String(never)}`);
      }
    }
  }
  put('TRAILER!!!', 0, new Uint8Array(0), 1);
  return gzipSync(Buffer.concat(parts), { level: 1 });
}
