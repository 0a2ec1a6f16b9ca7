// contract.ts: the work behind the contract endpoints (docs/contract.md) in TypeScript: parameter
// parsing, the /cpu loop, the /hash chain (node:crypto, OpenSSL), the /vector sum, and the database
// endpoints' framework-free parts (q and limit rules, random ids, the fortunes list, item validation),
// the same logic as the other Node targets' contract.js.

import { createHash } from 'node:crypto';

export const LIMITS = { io: 10000, cpu: 1000000000, hash: 1000000, vector: 10000000 } as const;

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

/**
 * /vector: the sum of squares of x_i = (i mod 1000) / 1000 for i in 0..n-1, as a plain loop over a
 * Float64Array (fill it, then sum), the Node counterpart of NumPy's vectorised dot product.
 */
export function vectorSum(n: number): number {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = (i % 1000) / 1000;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i] * x[i];
  return sum;
}

/** The answer of a database endpoint when the run has no database. */
export const NO_DATABASE = 'no database: DATABASE_URL is not set';

/** A random World id, 1..=10000. */
export function randomId(): number {
  return 1 + Math.floor(Math.random() * 10000);
}

/**
 * Gives each row a new random randomNumber (1..=10000) for /updates. A row whose id came up more than
 * once in the request gets the same new number in each place, so that its concurrent UPDATEs all
 * write one value and the answer matches the table whichever runs last.
 */
export function assignRandomNumbers<T extends { id: number; randomNumber: number }>(rows: T[]): T[] {
  const chosen = new Map<number, number>();
  for (const r of rows) {
    let n = chosen.get(r.id);
    if (n === undefined) chosen.set(r.id, (n = randomId()));
    r.randomNumber = n;
  }
  return rows;
}

/** q of /queries and /updates (TechEmpower's rule): missing, not an integer or < 1 → 1; > 500 → 500. */
export function queryCount(value: unknown): number {
  const q = typeof value === 'string' && /^-?[0-9]+$/.test(value) ? Number(value) : 1;
  return q < 1 ? 1 : q > 500 ? 500 : q;
}

/** limit of GET /items: missing or not an integer → 10, else clamped to 1..100. */
export function itemsLimit(value: unknown): number {
  const n = typeof value === 'string' && /^-?[0-9]+$/.test(value) ? Number(value) : 10;
  return n < 1 ? 1 : n > 100 ? 100 : n;
}

/** An item id from the path (a positive decimal integer, at most 15 digits), or null. */
export function parseId(value: unknown): number | null {
  return typeof value === 'string' && /^[0-9]{1,15}$/.test(value) && Number(value) > 0 ? Number(value) : null;
}

const INT4_MAX = 2147483647;

export interface ItemInput {
  name: string;
  price_cents: number;
}

/**
 * The body of POST/PUT /items: { value } or { error } naming the field that is wrong (name: a string of
 * at most 200 characters; price_cents: an integer 0..2^31-1, the column's int).
 */
export function parseItem(body: unknown): { value: ItemInput; error?: undefined } | { error: string } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { error: 'the body must be a JSON object {"name": string, "price_cents": integer}' };
  }
  const { name, price_cents: price } = body as Record<string, unknown>;
  if (typeof name !== 'string') return { error: 'name: a string is required' };
  // varchar(200) counts characters (code points), not UTF-16 units.
  let chars = 0;
  for (const _ of name) if (++chars > 200) return { error: 'name: at most 200 characters' };
  if (typeof price !== 'number' || !Number.isInteger(price)) {
    return { error: 'price_cents: an integer is required' };
  }
  if (price < 0 || price > INT4_MAX) return { error: `price_cents: must be from 0 to ${INT4_MAX}` };
  return { value: { name, price_cents: price } };
}

/** Code-point order (JavaScript's `<` compares UTF-16 units, which differs above U+FFFF). */
function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** The fortune rows plus the one added at request time, sorted by message. */
export function fortuneList(rows: { id: number; message: string }[]): { id: number; message: string }[] {
  const list = rows.map((r) => ({ id: r.id, message: r.message }));
  list.push({ id: 0, message: 'Additional fortune added at request time.' });
  return list.sort((a, b) => byCodePoint(a.message, b.message));
}

/** A positive integer from the environment (at most 65535), `fallback` when unset; exits 2 when invalid. */
export function envInt(name: string, fallback?: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    console.error(`error: the environment variable ${name} is not set`);
    process.exit(2);
  }
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    console.error(`error: ${name}='${raw}' is not a positive integer (at most 65535)`);
    process.exit(2);
  }
  return Number(raw);
}
