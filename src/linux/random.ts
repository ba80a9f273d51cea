/**
 * The guest's entropy: AT_RANDOM and getrandom(2) draw from one seeded generator, so a run is
 * repeatable byte for byte and a different seed gives different, equally good bytes.
 *
 * The stream is SHA-256 in counter mode over the seed (block i = SHA-256(seed || i as 8 bytes
 * little-endian)): simple, well defined, and fast enough for the few hundred bytes programs ask for.
 */
import { createHash } from 'node:crypto';

export const DEFAULT_RANDOM_SEED = 'contpte-lab';

export class GuestRandom {
  private readonly seed: Buffer;
  private block = 0;
  private pool = new Uint8Array(0);
  private used = 0;
  /** Bytes handed out so far. */
  drawn = 0;

  constructor(seed: string | number | bigint = DEFAULT_RANDOM_SEED) {
    this.seed = Buffer.from(String(seed), 'utf8');
  }

  /** The next `n` bytes of the stream. */
  bytes(n: number): Uint8Array {
    if (!(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`GuestRandom: bad length ${n}`);
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      if (this.used === this.pool.length) this.refill();
      const take = Math.min(n - done, this.pool.length - this.used);
      out.set(this.pool.subarray(this.used, this.used + take), done);
      this.used += take;
      done += take;
    }
    this.drawn += n;
    return out;
  }

  private refill(): void {
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64LE(BigInt(this.block++));
    this.pool = new Uint8Array(createHash('sha256').update(this.seed).update(counter).digest());
    this.used = 0;
  }
}
