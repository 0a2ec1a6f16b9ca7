'use strict';
// contract.js: the work behind the contract endpoints (docs/contract.md) and the process start-up,
// shared by the Node targets: parameters, the /cpu loop, the /hash chain, the /vector sum, the upstream
// call, the database endpoints' framework-free parts (q and limit rules, random ids, the fortunes list,
// item validation, the pool settings) and runCluster. Each node-* folder holds an identical copy so that
// a folder stands alone (a target is a folder); targets/README.md says how to keep them in step.

const cluster = require('node:cluster');
const crypto = require('node:crypto');
const { request } = require('undici');

const LIMITS = { io: 10000, cpu: 1000000000, hash: 1000000, vector: 10000000 };

/** A non-negative decimal integer no greater than `max`, or null. */
function parseN(value, max) {
  if (typeof value !== 'string' || !/^[0-9]{1,10}$/.test(value)) return null;
  const n = Number(value);
  return n <= max ? n : null;
}

/** The contract's loop in JavaScript itself: x = (x * 31 + i) mod 2^32 for i in 0..n-1. */
function cpu(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (Math.imul(x, 31) + i) >>> 0;
  return x;
}

/** n chained SHA-256 digests of a 1 KiB buffer through node:crypto (OpenSSL), as lowercase hex. */
function hash(n) {
  if (n === 0) return '0'.repeat(64);
  const b = Buffer.alloc(1024);
  for (let i = 0; i < 1024; i++) b[i] = i % 251;
  let d;
  for (let k = 0; k < n; k++) {
    d = crypto.createHash('sha256').update(b).digest();
    d.copy(b, 0);
  }
  return d.toString('hex');
}

/**
 * /vector: the sum of squares of x_i = (i mod 1000) / 1000 for i in 0..n-1, as a plain loop over a
 * Float64Array (fill it, then sum), the Node counterpart of NumPy's vectorised dot product.
 */
function vector(n) {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = (i % 1000) / 1000;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i] * x[i];
  return sum;
}

const UPSTREAM = process.env.UPSTREAM_URL ? process.env.UPSTREAM_URL.replace(/\/+$/, '') : null;

class UpstreamError extends Error {}

/**
 * One GET {UPSTREAM_URL}/delay?ms=N through undici's global dispatcher (a keep-alive connection pool
 * per worker process); resolves to the upstream's parsed JSON.
 */
async function io(ms) {
  if (!UPSTREAM) throw new UpstreamError('UPSTREAM_URL is not set');
  const { statusCode, body } = await request(`${UPSTREAM}/delay?ms=${ms}`);
  if (statusCode !== 200) {
    await body.dump();
    throw new UpstreamError(`upstream answered ${statusCode}`);
  }
  return body.json();
}

// ---- The database endpoints (docs/contract.md, "Database endpoints") ----

/**
 * The pool settings from the environment: null when DATABASE_URL is absent (the database endpoints
 * then answer 503), else { connectionString, max } with max = DB_POOL (the connections of this process;
 * node-postgres's own default of 10 when DB_POOL is not set).
 */
function dbConfig() {
  const url = process.env.DATABASE_URL;
  if (!url) return null;
  return { connectionString: url, max: envInt('DB_POOL', 10) };
}

/** The answer of a database endpoint when the run has no database. */
const NO_DATABASE = 'no database: DATABASE_URL is not set';

/** A random World id, 1..=10000. */
function randomId() {
  return 1 + Math.floor(Math.random() * 10000);
}

/**
 * Gives each row a new random randomNumber (1..=10000) for /updates. A row whose id came up more than
 * once in the request gets the same new number in each place, so that its concurrent UPDATEs all
 * write one value and the answer matches the table whichever runs last.
 */
function assignRandomNumbers(rows) {
  const chosen = new Map();
  for (const r of rows) {
    let n = chosen.get(r.id);
    if (n === undefined) chosen.set(r.id, (n = randomId()));
    r.randomNumber = n;
  }
  return rows;
}

/** q of /queries and /updates (TechEmpower's rule): missing, not an integer or < 1 → 1; > 500 → 500. */
function queryCount(value) {
  const q = typeof value === 'string' && /^-?[0-9]+$/.test(value) ? Number(value) : 1;
  return q < 1 ? 1 : q > 500 ? 500 : q;
}

/** limit of GET /items: missing or not an integer → 10, else clamped to 1..100. */
function itemsLimit(value) {
  const n = typeof value === 'string' && /^-?[0-9]+$/.test(value) ? Number(value) : 10;
  return n < 1 ? 1 : n > 100 ? 100 : n;
}

/** An item id from the path (a positive decimal integer, at most 15 digits), or null. */
function parseId(value) {
  return typeof value === 'string' && /^[0-9]{1,15}$/.test(value) && Number(value) > 0 ? Number(value) : null;
}

const INT4_MAX = 2147483647;

/**
 * The body of POST/PUT /items: { value: {name, price_cents} } or { error } naming the field that is
 * wrong (name: a string of at most 200 characters; price_cents: an integer 0..2^31-1, the column's int).
 */
function parseItem(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { error: 'the body must be a JSON object {"name": string, "price_cents": integer}' };
  }
  const { name, price_cents: price } = body;
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
function byCodePoint(a, b) {
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
function fortuneList(rows) {
  const list = rows.map((r) => ({ id: r.id, message: r.message }));
  list.push({ id: 0, message: 'Additional fortune added at request time.' });
  return list.sort((a, b) => byCodePoint(a.message, b.message));
}

function envInt(name, fallback) {
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

/**
 * The production layout. WORKERS=1 (the default): this one process serves (no cluster primary).
 * WORKERS>1: a node:cluster primary forks WORKERS workers sharing the port. Either way
 * `startWorker(port)` listens on 127.0.0.1:PORT and resolves once listening; a worker that dies, or
 * fails to start, stops the whole server (the lab must see a crash, not a silent restart).
 * SIGTERM/SIGINT stop the workers, then the primary (or the single process at once).
 */
function runCluster(startWorker) {
  const port = envInt('PORT');
  const fail = (e) => {
    console.error(`error: cannot start on 127.0.0.1:${port}: ${e && e.message}`);
    process.exit(1);
  };
  if (!cluster.isPrimary) {
    Promise.resolve(startWorker(port)).catch(fail);
    return;
  }
  const workers = envInt('WORKERS', 1);
  if (workers === 1) {
    process.on('SIGTERM', () => process.exit(0));
    process.on('SIGINT', () => process.exit(0));
    Promise.resolve(startWorker(port))
      .then(() => console.log(`listening on 127.0.0.1:${port} (1 process, no cluster)`))
      .catch(fail);
    return;
  }
  let stopping = false;
  let listening = 0;
  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    const alive = Object.values(cluster.workers).filter((w) => w && !w.isDead());
    if (alive.length === 0) process.exit(code);
    let left = alive.length;
    for (const w of alive) {
      w.once('exit', () => { if (--left === 0) process.exit(code); });
      w.process.kill('SIGTERM');
    }
    setTimeout(() => {
      for (const w of alive) if (!w.isDead()) w.process.kill('SIGKILL');
      process.exit(code);
    }, 5000).unref();
  };
  cluster.on('listening', () => {
    if (++listening === workers) console.log(`listening on 127.0.0.1:${port} (${workers} workers)`);
  });
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    console.error(`error: worker ${w.process.pid} exited (${signal || `code ${code}`}); stopping`);
    stop(1);
  });
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
  for (let i = 0; i < workers; i++) cluster.fork();
}

/** Resolves once `server` (a node:http server) listens, rejects on its first error before that. */
function listening(server) {
  return new Promise((resolve, reject) => {
    if (server.listening) return resolve(server);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
  });
}

module.exports = {
  LIMITS,
  parseN,
  cpu,
  hash,
  vector,
  io,
  UpstreamError,
  dbConfig,
  NO_DATABASE,
  randomId,
  assignRandomNumbers,
  queryCount,
  itemsLimit,
  parseId,
  parseItem,
  fortuneList,
  runCluster,
  listening,
};
