// contract.ts: the work behind the contract endpoints (docs/contract.md) in TypeScript: parameter
// parsing, the /cpu loop and the /hash chain (node:crypto, OpenSSL).

import { createHash } from 'node:crypto';

export const LIMITS = { io: 10000, cpu: 100000000, hash: 1000000 } as const;

/** A non-negative decimal integer no greater than `max`, or null. */
export function parseN(value: unknown, max: number): number | null {
  if (typeof value !== 'string' || !/^[0-9]{1,10}$/.test(value)) return null;
  const n = Number(value);
  return n <= max ? n : null;
}

/** The contract's loop in JavaScript itself: x = (x * 31 + i) mod 2^32 for i in 0..n-1. */
export function cpuLoop(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x = (Math.imul(x, 31) + i) >>> 0;
  return x;
}

/** n chained SHA-256 digests of a 1 KiB buffer, as lowercase hex. */
export function sha256Chain(n: number): string {
  if (n === 0) return '0'.repeat(64);
  const b = Buffer.alloc(1024);
  for (let i = 0; i < 1024; i++) b[i] = i % 251;
  let d = Buffer.alloc(32);
  for (let k = 0; k < n; k++) {
    d = createHash('sha256').update(b).digest();
    d.copy(b, 0);
  }
  return d.toString('hex');
}
