'use strict';
// db-check.js: a developer's check of one running target's database endpoints and /vector
// (docs/contract.md, "Database endpoints") against a dev PostgreSQL loaded with the lab's schema. It is
// not the lab's conformance checker (`stackwise targets check`, in Rust): it is what the Node targets
// were tested with while that checker was written, and it prints what it saw, the statements each
// request made (pg_stat_statements) included. It writes to the database it is given (/updates, items
// created and deleted): point it at a throwaway one, never at data that matters.
//
// Usage (any target, any language; `pg` is node-http's, installed, or one on NODE_PATH):
//   PORT=8080 WORKERS=1 DATABASE_URL=postgresql://stackwise@127.0.0.1:5433/stackwise DB_POOL=4 \
//     NODE_ENV=production node targets/node-http/server.js &
//   node targets/dev/db-check.js http://127.0.0.1:8080 \
//     postgresql://stackwise@127.0.0.1:5433/stackwise
// The database needs pg_stat_statements loaded (shared_preload_libraries) and created in it, as the
// lab's schema does. Exit 0 when every check passed, 1 when one failed, 2 on an error; the last line
// is "N passed, N failed". Every request has a 60 s time-out; /cpu?n=1e9 takes seconds.
const path = require('node:path');
const [base, dbUrl] = process.argv.slice(2);
if (!base || !dbUrl) {
  console.error('usage: node db-check.js BASE_URL DATABASE_URL   (e.g. http://127.0.0.1:8080 postgresql://stackwise@127.0.0.1:5433/stackwise)');
  process.exit(2);
}
/** node-postgres: from NODE_PATH, else from the installed node-http target. */
function loadPg() {
  try {
    return require('pg');
  } catch {
    const local = path.join(__dirname, '..', 'node-http', 'node_modules', 'pg');
    try {
      return require(local);
    } catch {
      console.error(`error: node-postgres not found (NODE_PATH, or ${local}): install node-http first (npm ci in targets/node-http)`);
      process.exit(2);
    }
  }
}
const pg = loadPg();
const db = new pg.Client({ connectionString: dbUrl });
let failures = 0;
let passes = 0;
function check(ok, what) {
  if (ok) passes++;
  else { failures++; console.log(`FAIL: ${what}`); }
}
async function get(path, init) {
  const r = await fetch(base + path, { ...init, signal: AbortSignal.timeout(60000) });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, type: r.headers.get('content-type') || '', headers: r.headers, text, json };
}
const counted = {};
/** Queries run by the server during fn (pg_stat_statements, ours filtered out). */
async function queries(fn) {
  await db.query('SELECT pg_stat_statements_reset()');
  const out = await fn();
  const { rows } = await db.query("SELECT query, calls FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'");
  return { out, rows, total: rows.reduce((s, r) => s + Number(r.calls), 0) };
}
function escapeHtml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
function unescapeHtml(s) {
  return s.replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
const same = (a, b) => JSON.stringify(a, Object.keys(a || {}).sort()) === JSON.stringify(b, Object.keys(b || {}).sort());
function isWorld(o) {
  return o && Number.isInteger(o.id) && o.id >= 1 && o.id <= 10000 && Number.isInteger(o.randomNumber) && Object.keys(o).length === 2;
}
async function main() {
  await db.connect();
  // /db
  const ids = new Set();
  for (let i = 0; i < 30; i++) {
    const r = await get('/db');
    check(r.status === 200 && r.type.startsWith('application/json') && isWorld(r.json), `/db answer ${r.status} ${r.text}`);
    check(r.headers.get('date') && r.headers.get('server'), '/db Date and Server headers');
    if (r.json) {
      ids.add(r.json.id);
      const { rows } = await db.query('SELECT randomnumber FROM world WHERE id = $1', [r.json.id]);
      check(rows[0].randomnumber === r.json.randomNumber, `/db ${r.json.id} randomNumber matches the table`);
    }
  }
  check(ids.size >= 25, `/db ids look random (${ids.size} distinct of 30)`);
  const c1 = await queries(() => get('/db'));
  console.log(`/db: ${c1.total} statements ${JSON.stringify(c1.rows.map((r) => [r.query, Number(r.calls)]))}`);
  check(c1.total === 1, '/db makes 1 query');
  // /queries
  for (const [qs, n] of [['', 1], ['?q=foo', 1], ['?q=0', 1], ['?q=-3', 1], ['?q=1.5', 1], ['?q=501', 500], ['?q=20', 20], ['?q=500', 500]]) {
    const c = await queries(() => get('/queries' + qs));
    const r = c.out;
    check(r.status === 200 && Array.isArray(r.json) && r.json.length === n && r.json.every(isWorld), `/queries${qs} gives ${n} rows (got ${r.status} ${r.text.slice(0, 80)})`);
    check(c.total === n, `/queries${qs} makes ${n} queries (made ${c.total})`);
    console.log(`/queries${qs}: ${r.json?.length} rows, ${c.total} statements`);
  }
  // /fortunes
  const { rows: fr } = await db.query('SELECT id, message FROM fortune');
  fr.push({ id: 0, message: 'Additional fortune added at request time.' });
  fr.sort((a, b) => { const x = [...a.message].map((ch) => ch.codePointAt(0)); const y = [...b.message].map((ch) => ch.codePointAt(0));
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i]; return x.length - y.length; });
  const expected = '<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>' +
    fr.map((f) => `<tr><td>${f.id}</td><td>${escapeHtml(f.message)}</td></tr>`).join('') + '</table></body></html>';
  const cf = await queries(() => get('/fortunes'));
  const f = cf.out;
  const squeezed = f.text.replace(/>\s+</g, '><').trim();
  const norm = (s) => s.replace(/&#x27;|&#39;|&apos;/g, '&#39;').replace(/&#34;|&#x22;/g, '&quot;');
  check(f.status === 200 && f.type.replace(/ /g, '').toLowerCase() === 'text/html;charset=utf-8', `/fortunes content-type ${f.type}`);
  check(norm(squeezed) === expected, `/fortunes markup:\n got ${squeezed}\nwant ${expected}`);
  check(!/<script>/.test(f.text) && f.text.includes('&lt;script&gt;'), '/fortunes escapes <script>');
  check(unescapeHtml(squeezed) === unescapeHtml(expected), '/fortunes text equal after unescaping');
  check(cf.total === 1, `/fortunes makes 1 query (made ${cf.total})`);
  console.log(`/fortunes: ${f.text.length} chars, ${cf.total} statements`);
  // /updates
  for (const [qs, n] of [['?q=5', 5], ['', 1], ['?q=foo', 1], ['?q=501', 500], ['?q=20', 20]]) {
    const cu = await queries(() => get('/updates' + qs));
    const u = cu.out;
    check(u.status === 200 && Array.isArray(u.json) && u.json.length === n && u.json.every(isWorld), `/updates${qs} gives ${n} rows`);
    if (Array.isArray(u.json)) {
      const last = new Map(u.json.map((o) => [o.id, o.randomNumber]));
      let same = 0;
      for (const [id, rn] of last) {
        const { rows } = await db.query('SELECT randomnumber FROM world WHERE id = $1', [id]);
        if (rows[0].randomnumber === rn) same++;
      }
      check(same === last.size, `/updates${qs}: ${same}/${last.size} rows read back equal the answer`);
    }
    const reads = cu.rows.filter((r) => /^select/i.test(r.query)).reduce((s, r) => s + Number(r.calls), 0);
    const writes = cu.rows.filter((r) => /^update/i.test(r.query)).reduce((s, r) => s + Number(r.calls), 0);
    check(reads === n && (writes === n || writes === 1), `/updates${qs}: ${n} reads and ${n} or 1 writes (got ${reads} reads, ${writes} writes)`);
    console.log(`/updates${qs}: ${cu.total} statements (${reads} SELECT, ${writes} UPDATE) ${cu.rows.filter((r) => !/^(select|update)/i.test(r.query)).map((r) => `${r.query}×${r.calls}`).join(' ')}`);
  }
  // an update really changes the rows: 20 rows, at least some must differ from before
  {
    const before = new Map((await db.query('SELECT id, randomnumber FROM world')).rows.map((r) => [r.id, r.randomnumber]));
    const u = await get('/updates?q=20');
    const changed = u.json.filter((o) => before.get(o.id) !== o.randomNumber).length;
    check(changed >= 15, `/updates changes rows (${changed} of 20 differ from before)`);
  }
  // CRUD
  const item = { name: `dbcheck <&> "q" 'a' ${Date.now()}`, price_cents: 1234 };
  const cc = await queries(() => get('/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(item) }));
  const created = cc.out;
  check(created.status === 201 && Number.isInteger(created.json?.id) && created.json.name === item.name && created.json.price_cents === 1234, `POST /items 201 (got ${created.status} ${created.text})`);
  const id = created.json?.id;
  const opCount = { POST: cc };
  opCount.GET = await queries(() => get(`/items/${id}`));
  check(opCount.GET.out.status === 200 && same(opCount.GET.out.json, { id, ...item }), `GET /items/${id} (got ${opCount.GET.out.status} ${opCount.GET.out.text})`);
  const upd = { name: 'renamed é', price_cents: 0 };
  opCount.PUT = await queries(() => get(`/items/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upd) }));
  check(opCount.PUT.out.status === 200 && same(opCount.PUT.out.json, { id, ...upd }), `PUT /items/${id} (got ${opCount.PUT.out.status} ${opCount.PUT.out.text})`);
  const back = await get(`/items/${id}`);
  check(back.status === 200 && back.json?.name === upd.name && back.json?.price_cents === 0, 'GET after PUT reads the update');
  const dbrow = (await db.query('SELECT name, price_cents FROM items WHERE id = $1', [id])).rows[0];
  check(dbrow && dbrow.name === upd.name, 'PUT reached the table');
  opCount.DELETE = await queries(() => get(`/items/${id}`, { method: 'DELETE' }));
  check(opCount.DELETE.out.status === 204 && opCount.DELETE.out.text === '', `DELETE /items/${id} 204 empty (got ${opCount.DELETE.out.status} '${opCount.DELETE.out.text}')`);
  check((await get(`/items/${id}`)).status === 404, 'GET after DELETE 404');
  check((await get(`/items/${id}`, { method: 'DELETE' })).status === 404, 'DELETE again 404');
  check((await get(`/items/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upd) })).status === 404, 'PUT missing 404');
  check((await db.query('SELECT count(*)::int AS n FROM items WHERE id = $1', [id])).rows[0].n === 0, 'DELETE reached the table');
  opCount.LIST = await queries(() => get('/items?limit=5'));
  check(opCount.LIST.out.status === 200 && opCount.LIST.out.json?.length === 5 && opCount.LIST.out.json[0].id === 1 && opCount.LIST.out.json.every((o, i, a) => i === 0 || a[i - 1].id < o.id), '/items?limit=5 first five by id');
  for (const [qs, n] of [['', 10], ['?limit=0', 1], ['?limit=500', 100], ['?limit=x', 10]]) {
    const r = await get('/items' + qs);
    check(r.status === 200 && r.json?.length === n, `/items${qs} gives ${n} (got ${r.json?.length})`);
  }
  for (const [op, c] of Object.entries(opCount)) {
    console.log(`items ${op}: ${c.total} statements ${JSON.stringify(c.rows.map((r) => [r.query, Number(r.calls)]))}`);
  }
  for (const [name, body] of [['missing price', { name: 'x' }], ['missing name', { price_cents: 1 }], ['string price', { name: 'x', price_cents: '5' }],
    ['negative price', { name: 'x', price_cents: -1 }], ['float price', { name: 'x', price_cents: 1.5 }], ['long name', { name: 'n'.repeat(201), price_cents: 1 }],
    ['name number', { name: 5, price_cents: 1 }], ['array', [1]], ['not json', 'not json']]) {
    const r = await get('/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    check(r.status === 400 || r.status === 422, `POST /items ${name} → 400/422 (got ${r.status} ${r.text.slice(0, 100)})`);
  }
  const okLong = await get('/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'é'.repeat(200), price_cents: 1 }) });
  check(okLong.status === 201, `POST /items 200-character name → 201 (got ${okLong.status})`);
  if (okLong.json?.id) await get(`/items/${okLong.json.id}`, { method: 'DELETE' });
  // /vector and /cpu
  const vec = (n) => { let s = 0; for (let i = 0; i < n; i++) { const x = (i % 1000) / 1000; s += x * x; } return s; };
  for (const n of [0, 1, 2, 1000, 12345, 10000000]) {
    const r = await get(`/vector?n=${n}`);
    const want = vec(n);
    check(r.status === 200 && r.json?.n === n && Math.abs(r.json.result - want) <= 1e-9 * Math.max(1, Math.abs(want)), `/vector?n=${n} (got ${r.text}, want ${want})`);
  }
  check((await get('/vector?n=10000001')).status >= 400, '/vector over the limit is 4xx');
  check((await get('/cpu?n=1000000000')).status === 200, '/cpu?n=1e9 accepted');
  check((await get('/cpu?n=1000000001')).status >= 400, '/cpu over 1e9 is 4xx');
  await db.end();
  console.log(`${passes} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(2); });
