'use strict';
// server.js: the node-express target, Express 5 (contract: docs/contract.md); one process when WORKERS=1,
// else node:cluster. /ws is the `ws` package on the http server Express listens on; the database
// endpoints use a node-postgres (`pg`) Pool per process, /fortunes is rendered by Express's view
// engine with EJS.

const path = require('node:path');
const express = require('express');
const pg = require('pg');
const { WebSocketServer } = require('ws');
const C = require('./contract');

const { LIMITS, parseN, cpu, hash, vector, io, UpstreamError } = C;

// items.id is bigserial (int8), which node-postgres returns as a string; the ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);

const dbConfig = C.dbConfig();
const pool = dbConfig ? new pg.Pool(dbConfig) : null;
// An idle connection that drops (the database restarted) is discarded by the pool; say so, don't crash.
pool?.on('error', (e) => console.error(`database: idle connection error: ${e.message}`));

const app = express();
app.set('views', path.join(__dirname, 'views'));
app.set('view engine', 'ejs');

app.use((req, res, next) => {
  res.set('Server', 'express');
  next();
});

/** Express middleware that validates the integer query parameter `key` into res.locals.n. */
const intParam = (key, max) => (req, res, next) => {
  const n = parseN(req.query[key], max);
  if (n === null) return res.status(400).json({ error: `${key} must be an integer from 0 to ${max}` });
  res.locals.n = n;
  next();
};

app.get('/plaintext', async (req, res) => {
  res.type('text/plain').send('Hello, World!');
});

app.get('/json', async (req, res) => {
  res.json({ message: 'Hello, World!' });
});

app.get('/io', intParam('ms', LIMITS.io), async (req, res) => {
  res.json(await io(res.locals.n));
});

app.get('/cpu', intParam('n', LIMITS.cpu), async (req, res) => {
  const n = res.locals.n;
  res.json({ n, result: cpu(n) });
});

app.get('/hash', intParam('n', LIMITS.hash), async (req, res) => {
  const n = res.locals.n;
  res.json({ n, sha256: hash(n) });
});

app.get('/vector', intParam('n', LIMITS.vector), async (req, res) => {
  const n = res.locals.n;
  res.json({ n, result: vector(n) });
});

// ---- The database endpoints ----

// 503 on the database routes when the run has no database.
app.use(['/db', '/queries', '/fortunes', '/updates', '/items'], (req, res, next) =>
  pool ? next() : res.status(503).json({ error: C.NO_DATABASE }),
);

const WORLD = 'SELECT id, randomnumber FROM world WHERE id = $1';

async function world(id) {
  const { rows } = await pool.query(WORLD, [id]);
  return { id: rows[0].id, randomNumber: rows[0].randomnumber };
}

/** q random World rows, one query each (run concurrently on the pool). */
function worlds(q) {
  const reads = [];
  for (let i = 0; i < q; i++) reads.push(world(C.randomId()));
  return Promise.all(reads);
}

app.get('/db', async (req, res) => {
  res.json(await world(C.randomId()));
});

app.get('/queries', async (req, res) => {
  res.json(await worlds(C.queryCount(req.query.q)));
});

app.get('/fortunes', async (req, res) => {
  const { rows } = await pool.query('SELECT id, message FROM fortune');
  res.render('fortunes', { fortunes: C.fortuneList(rows) });
});

app.get('/updates', async (req, res) => {
  const rows = await worlds(C.queryCount(req.query.q));
  C.assignRandomNumbers(rows);
  await Promise.all(
    rows.map((r) => pool.query('UPDATE world SET randomnumber = $1 WHERE id = $2', [r.randomNumber, r.id])),
  );
  res.json(rows);
});

const ITEM_COLUMNS = 'id, name, price_cents';

/** Parses the JSON body (express.json()), then validates it into res.locals.item (400 naming the field). */
const itemBody = [express.json(), validItem];
function validItem(req, res, next) {
  const parsed = C.parseItem(req.body);
  if (parsed.error) return res.status(400).json({ error: parsed.error });
  res.locals.item = parsed.value;
  next();
}

/** Validates the :id path parameter into res.locals.id. */
function itemId(req, res, next) {
  const id = C.parseId(req.params.id);
  if (id === null) return res.status(400).json({ error: 'the item id must be a positive integer' });
  res.locals.id = id;
  next();
}

app.get('/items', async (req, res) => {
  const { rows } = await pool.query(`SELECT ${ITEM_COLUMNS} FROM items ORDER BY id LIMIT $1`, [
    C.itemsLimit(req.query.limit),
  ]);
  res.json(rows);
});

app.post('/items', itemBody, async (req, res) => {
  const { name, price_cents: price } = res.locals.item;
  const { rows } = await pool.query(
    `INSERT INTO items (name, price_cents) VALUES ($1, $2) RETURNING ${ITEM_COLUMNS}`,
    [name, price],
  );
  res.status(201).json(rows[0]);
});

app.get('/items/:id', itemId, async (req, res) => {
  const { rows } = await pool.query(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1`, [res.locals.id]);
  if (rows.length === 0) return res.status(404).json({ error: `no item ${res.locals.id}` });
  res.json(rows[0]);
});

app.put('/items/:id', itemId, itemBody, async (req, res) => {
  const { name, price_cents: price } = res.locals.item;
  const { rows } = await pool.query(
    `UPDATE items SET name = $1, price_cents = $2 WHERE id = $3 RETURNING ${ITEM_COLUMNS}`,
    [name, price, res.locals.id],
  );
  if (rows.length === 0) return res.status(404).json({ error: `no item ${res.locals.id}` });
  res.json(rows[0]);
});

app.delete('/items/:id', itemId, async (req, res) => {
  const { rowCount } = await pool.query('DELETE FROM items WHERE id = $1', [res.locals.id]);
  if (rowCount === 0) return res.status(404).json({ error: `no item ${res.locals.id}` });
  res.status(204).end();
});

app.use((err, req, res, next) => {
  if (err instanceof UpstreamError || err.code?.startsWith?.('UND_ERR') || err.cause) {
    return res.status(502).json({ error: `upstream: ${err.message}` });
  }
  // express.json(): a body that is not JSON (status 400) or too large (413).
  if (err.type?.startsWith?.('entity.')) return res.status(err.status).json({ error: err.message });
  next(err);
});

/** GET /ws: every text or binary message is sent back as it came (ws answers pings and closes). */
function echo(socket) {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
}

C.runCluster((port) => {
  const server = app.listen(port, '127.0.0.1');
  new WebSocketServer({ server, path: '/ws' }).on('connection', echo);
  return C.listening(server);
});
