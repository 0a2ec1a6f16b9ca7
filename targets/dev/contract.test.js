'use strict';
// contract.test.js: unit tests of the Node targets' shared contract code (node --test targets/dev/):
// the copies of contract.js and versions.js are identical in every node-* folder, the helpers follow
// docs/contract.md (q and limit rules, item validation, code-point-sorted fortunes, /vector, /cpu), and
// node-nestjs's contract.ts (compiled into dist/ by its install) agrees with contract.js. The process
// layout (issue 14) is tested on node-http for real: WORKERS=1 is one process, WORKERS=2 a primary
// and two workers. Tests that need an installed target skip, saying so, when it is not installed.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const test = require('node:test');

const TARGETS = path.join(__dirname, '..');
const NODE = ['node-http', 'node-express', 'node-fastify', 'node-koa'];
const C = require(path.join(TARGETS, 'node-http', 'contract.js'));
const nestDist = path.join(TARGETS, 'node-nestjs', 'dist', 'contract.js');
const httpInstalled = fs.existsSync(path.join(TARGETS, 'node-http', 'node_modules', '.package-lock.json'));

test('contract.js and versions.js are identical copies in every node-* folder', () => {
  const read = (t, f) => fs.readFileSync(path.join(TARGETS, t, f), 'utf8');
  for (const t of NODE.slice(1)) assert.equal(read(t, 'contract.js'), read('node-http', 'contract.js'), t);
  for (const t of [...NODE.slice(1), 'node-nestjs']) {
    assert.equal(read(t, 'versions.js'), read('node-http', 'versions.js'), t);
  }
});

/** The implementations under test: contract.js, and contract.ts compiled when node-nestjs is installed. */
const impls = [['contract.js', C]];
if (fs.existsSync(nestDist)) {
  const T = require(nestDist);
  impls.push(['contract.ts', { ...T, cpu: T.cpuLoop, vector: T.vectorSum }]);
}

for (const [name, M] of impls) {
  test(`${name}: q of /queries and /updates (missing, not an integer or < 1 → 1; > 500 → 500)`, () => {
    const cases = [[undefined, 1], ['', 1], ['foo', 1], ['0', 1], ['-3', 1], ['1.5', 1], ['1e3', 1],
      ['1', 1], ['20', 20], ['500', 500], ['501', 500], ['99999999999999999999', 500]];
    for (const [q, want] of cases) assert.equal(M.queryCount(q), want, `q=${q}`);
  });

  test(`${name}: limit of GET /items (default 10, clamped to 1..100)`, () => {
    const cases = [[undefined, 10], ['x', 10], ['0', 1], ['-5', 1], ['1', 1], ['7', 7], ['100', 100], ['500', 100]];
    for (const [l, want] of cases) assert.equal(M.itemsLimit(l), want, `limit=${l}`);
  });

  test(`${name}: item ids from the path`, () => {
    assert.equal(M.parseId('1'), 1);
    assert.equal(M.parseId('123456789012345'), 123456789012345);
    for (const bad of ['0', '', 'abc', '1.5', '-1', '1234567890123456', undefined]) {
      assert.equal(M.parseId(bad), null, `${bad}`);
    }
  });

  test(`${name}: item bodies (400 naming the field; names counted in characters)`, () => {
    assert.deepEqual(M.parseItem({ name: 'a', price_cents: 0 }), { value: { name: 'a', price_cents: 0 } });
    assert.deepEqual(M.parseItem({ name: 'a', price_cents: 5, extra: 1 }).value, { name: 'a', price_cents: 5 });
    // 200 characters outside the BMP are 400 UTF-16 units, and fit varchar(200).
    assert.ok(M.parseItem({ name: '😀'.repeat(200), price_cents: 1 }).value);
    assert.ok(M.parseItem({ name: 'é'.repeat(200), price_cents: 2147483647 }).value);
    const bad = [
      [null, 'body'], [[1], 'body'], ['x', 'body'], [{ price_cents: 1 }, 'name'], [{ name: 5, price_cents: 1 }, 'name'],
      [{ name: 'n'.repeat(201), price_cents: 1 }, 'name'], [{ name: '😀'.repeat(201), price_cents: 1 }, 'name'],
      [{ name: 'x' }, 'price_cents'], [{ name: 'x', price_cents: '5' }, 'price_cents'],
      [{ name: 'x', price_cents: 1.5 }, 'price_cents'], [{ name: 'x', price_cents: -1 }, 'price_cents'],
      [{ name: 'x', price_cents: 2147483648 }, 'price_cents'], [{ name: 'x', price_cents: null }, 'price_cents'],
    ];
    for (const [body, field] of bad) {
      const r = M.parseItem(body);
      assert.equal(r.value, undefined, JSON.stringify(body));
      assert.match(r.error, new RegExp(field), JSON.stringify(body));
    }
  });

  test(`${name}: fortunes gain the request-time one and sort in code-point order`, () => {
    const rows = [{ id: 3, message: 'b' }, { id: 1, message: 'a\u{1F600}' }, { id: 2, message: 'a\u{FFFD}' }, { id: 4, message: 'B' }];
    const list = M.fortuneList(rows);
    assert.deepEqual(list.map((f) => f.id), [0, 4, 2, 1, 3]);
    assert.equal(list[0].message, 'Additional fortune added at request time.');
    assert.equal(rows.length, 4, 'the rows given are not changed');
  });

  test(`${name}: /updates gives an id drawn twice one new number`, () => {
    const rows = [{ id: 5, randomNumber: 0 }, { id: 9, randomNumber: 0 }, { id: 5, randomNumber: 0 }];
    for (let k = 0; k < 50; k++) {
      M.assignRandomNumbers(rows);
      assert.equal(rows[0].randomNumber, rows[2].randomNumber);
      for (const r of rows) assert.ok(Number.isInteger(r.randomNumber) && r.randomNumber >= 1 && r.randomNumber <= 10000);
    }
    const ids = new Set(Array.from({ length: 2000 }, () => M.randomId()));
    assert.ok([...ids].every((i) => i >= 1 && i <= 10000) && ids.size > 1500, `${ids.size} distinct ids of 2000`);
  });

  test(`${name}: /vector and /cpu`, () => {
    assert.equal(M.vector(0), 0);
    assert.equal(M.vector(1), 0);
    assert.ok(Math.abs(M.vector(3) - 5e-6) < 1e-18);
    // Σ_{i<1000} (i/1000)² = 999·1000·1999 / 6 / 10⁶ = 332.8335; 10⁷ elements are 10⁴ such blocks.
    const close = (got, want) => Math.abs(got - want) <= 1e-9 * want;
    assert.ok(close(M.vector(1000), 332.8335), `${M.vector(1000)}`);
    assert.ok(close(M.vector(10000000), 3328335), `${M.vector(10000000)}`);
    assert.equal(M.LIMITS.vector, 10000000);
    assert.equal(M.LIMITS.cpu, 1000000000);
    assert.equal(M.cpu(10), 165029893);
    assert.equal(M.parseN('1000000000', M.LIMITS.cpu), 1000000000);
    assert.equal(M.parseN('1000000001', M.LIMITS.cpu), null);
  });
}

test('contract.ts is tested too (node-nestjs installed)', { skip: impls.length > 1 ? false : 'node-nestjs is not installed (no dist/)' }, () => {
  assert.equal(impls.length, 2);
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** The pids whose parent is `pid` (from /proc). */
function children(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Starts node-http with `workers`, waits for its listening line; resolves { child, line }. */
async function start(workers) {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(TARGETS, 'node-http', 'server.js')], {
    env: { PATH: process.env.PATH, PORT: String(port), WORKERS: String(workers), NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in 20 s: ${out}`)), 20000);
    const seen = (d) => {
      out += d;
      const m = out.match(/listening on [^\n]*/);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => reject(new Error(`exited (${code}) before listening: ${out}`)));
  });
  return { child, line, port };
}

function stop(child) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
    child.kill('SIGTERM');
  });
}

test('WORKERS=1: one process serves alone (no cluster primary), and SIGTERM stops it with 0', { skip: !httpInstalled && 'node-http is not installed', timeout: 60000 }, async () => {
  const { child, line, port } = await start(1);
  try {
    assert.match(line, /listening on 127\.0\.0\.1:\d+ \(1 process, no cluster\)/);
    assert.deepEqual(children(child.pid), []);
    const r = await fetch(`http://127.0.0.1:${port}/db`, { signal: AbortSignal.timeout(10000) });
    assert.equal(r.status, 503, 'no DATABASE_URL: the database endpoints answer 503');
  } finally {
    assert.deepEqual(await stop(child), { code: 0, signal: null });
  }
});

test('WORKERS=2: a node:cluster primary and two workers; SIGTERM stops all', { skip: !httpInstalled && 'node-http is not installed', timeout: 60000 }, async () => {
  const { child, line } = await start(2);
  let workers = [];
  try {
    assert.match(line, /\(2 workers\)/);
    workers = children(child.pid);
    assert.equal(workers.length, 2, `${workers}`);
  } finally {
    assert.deepEqual(await stop(child), { code: 0, signal: null });
  }
  for (const w of workers) assert.ok(!fs.existsSync(`/proc/${w}`) || fs.readFileSync(`/proc/${w}/stat`, 'utf8').includes(') Z'), `worker ${w} left`);
});
