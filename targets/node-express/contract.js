'use strict';
// contract.js: the work behind the contract endpoints (docs/contract.md) and the node:cluster start-up,
// shared by the Node targets. Each node-* folder holds an identical copy so that a folder stands alone
// (a target is a folder); targets/README.md says how to keep them in step.

const cluster = require('node:cluster');
const crypto = require('node:crypto');
const { request } = require('undici');

const LIMITS = { io: 10000, cpu: 100000000, hash: 1000000 };

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
 * The production layout: a node:cluster primary forking WORKERS workers (default 1), each calling
 * `startWorker(port)` to listen on 127.0.0.1:PORT. A worker that dies stops the whole server (the lab
 * must see a crash, not a silent restart). SIGTERM/SIGINT stop the workers, then the primary.
 */
function runCluster(startWorker) {
  const port = envInt('PORT');
  if (!cluster.isPrimary) {
    startWorker(port);
    return;
  }
  const workers = envInt('WORKERS', 1);
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

module.exports = { LIMITS, parseN, cpu, hash, io, UpstreamError, runCluster };
