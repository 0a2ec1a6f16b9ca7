'use strict';
// server.js: the node-http target, node:http with no framework (contract: docs/contract.md); one process
// when WORKERS=1, else node:cluster. /ws is the `ws` package on the same http server; the database
// endpoints use a node-postgres (`pg`) Pool per process and render /fortunes with EJS.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const ejs = require('ejs');
const pg = require('pg');
const { WebSocketServer } = require('ws');
const C = require('./contract');

const { LIMITS, parseN, cpu, hash, vector, io } = C;

// items.id is bigserial (int8), which node-postgres returns as a string; the ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);

const dbConfig = C.dbConfig();
const pool = dbConfig ? new pg.Pool(dbConfig) : null;
// An idle connection that drops (the database restarted) is discarded by the pool; say so, don't crash.
pool?.on('error', (e) => console.error(`database: idle connection error: ${e.message}`));
const fortunesView = ejs.compile(fs.readFileSync(path.join(__dirname, 'views', 'fortunes.ejs'), 'utf8'));

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, Server: 'node-http' });
  res.end(body);
}

function sendJson(res, status, value) {
  send(res, status, 'application/json', JSON.stringify(value));
}

/** The integer query parameter `key` (0..max), or null after answering 400. */
function nParam(res, params, key, max) {
  const n = parseN(params.get(key), max);
  if (n === null) sendJson(res, 400, { error: `${key} must be an integer from 0 to ${max}` });
  return n;
}

/** The request body parsed as JSON (at most 64 KiB), or undefined after answering 400/413. */
async function jsonBody(req, res) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 65536) {
      sendJson(res, 413, { error: 'the body is larger than 64 KiB' });
      return undefined;
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    sendJson(res, 400, { error: `the body is not JSON: ${e.message}` });
    return undefined;
  }
}

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

const ITEM_COLUMNS = 'id, name, price_cents';

/** The database endpoints; false when `path` is not one of them. */
async function database(req, res, path, params) {
  const item = path.startsWith('/items/') ? path.slice('/items/'.length) : null;
  if (!['/db', '/queries', '/fortunes', '/updates', '/items'].includes(path) && item === null) return false;
  if (!pool) return sendJson(res, 503, { error: C.NO_DATABASE }), true;
  const method = req.method;
  if (item === null && path !== '/items' && method !== 'GET') {
    return sendJson(res, 405, { error: 'only GET is served' }), true;
  }
  switch (path) {
    case '/db':
      sendJson(res, 200, await world(C.randomId()));
      return true;
    case '/queries':
      sendJson(res, 200, await worlds(C.queryCount(params.get('q') ?? undefined)));
      return true;
    case '/fortunes': {
      const { rows } = await pool.query('SELECT id, message FROM fortune');
      send(res, 200, 'text/html; charset=utf-8', fortunesView({ fortunes: C.fortuneList(rows) }));
      return true;
    }
    case '/updates': {
      const rows = await worlds(C.queryCount(params.get('q') ?? undefined));
      C.assignRandomNumbers(rows);
      await Promise.all(
        rows.map((r) => pool.query('UPDATE world SET randomnumber = $1 WHERE id = $2', [r.randomNumber, r.id])),
      );
      sendJson(res, 200, rows);
      return true;
    }
    case '/items': {
      if (method === 'GET') {
        const limit = C.itemsLimit(params.get('limit') ?? undefined);
        const { rows } = await pool.query(`SELECT ${ITEM_COLUMNS} FROM items ORDER BY id LIMIT $1`, [limit]);
        sendJson(res, 200, rows);
      } else if (method === 'POST') {
        const body = await jsonBody(req, res);
        if (body === undefined) return true;
        const parsed = C.parseItem(body);
        if (parsed.error) return sendJson(res, 400, { error: parsed.error }), true;
        const { rows } = await pool.query(
          `INSERT INTO items (name, price_cents) VALUES ($1, $2) RETURNING ${ITEM_COLUMNS}`,
          [parsed.value.name, parsed.value.price_cents],
        );
        sendJson(res, 201, rows[0]);
      } else {
        sendJson(res, 405, { error: 'GET or POST' });
      }
      return true;
    }
    default:
      break;
  }
  // /items/{id}
  const id = C.parseId(item);
  if (id === null) return sendJson(res, 400, { error: 'the item id must be a positive integer' }), true;
  let result;
  if (method === 'GET') {
    result = await pool.query(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1`, [id]);
  } else if (method === 'PUT') {
    const body = await jsonBody(req, res);
    if (body === undefined) return true;
    const parsed = C.parseItem(body);
    if (parsed.error) return sendJson(res, 400, { error: parsed.error }), true;
    result = await pool.query(
      `UPDATE items SET name = $1, price_cents = $2 WHERE id = $3 RETURNING ${ITEM_COLUMNS}`,
      [parsed.value.name, parsed.value.price_cents, id],
    );
  } else if (method === 'DELETE') {
    result = await pool.query('DELETE FROM items WHERE id = $1', [id]);
    if (result.rowCount === 0) return sendJson(res, 404, { error: `no item ${id}` }), true;
    res.writeHead(204, { Server: 'node-http' });
    res.end();
    return true;
  } else {
    return sendJson(res, 405, { error: 'GET, PUT or DELETE' }), true;
  }
  if (result.rows.length === 0) return sendJson(res, 404, { error: `no item ${id}` }), true;
  sendJson(res, 200, result.rows[0]);
  return true;
}

async function route(req, res) {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1));
  if (await database(req, res, path, params)) return;
  if (req.method !== 'GET') return sendJson(res, 405, { error: 'only GET is served' });
  switch (path) {
    case '/plaintext':
      return send(res, 200, 'text/plain', 'Hello, World!');
    case '/json':
      return sendJson(res, 200, { message: 'Hello, World!' });
    case '/io': {
      const ms = nParam(res, params, 'ms', LIMITS.io);
      if (ms === null) return;
      try {
        return sendJson(res, 200, await io(ms));
      } catch (e) {
        return sendJson(res, 502, { error: `upstream: ${e.message}` });
      }
    }
    case '/cpu': {
      const n = nParam(res, params, 'n', LIMITS.cpu);
      if (n === null) return;
      return sendJson(res, 200, { n, result: cpu(n) });
    }
    case '/hash': {
      const n = nParam(res, params, 'n', LIMITS.hash);
      if (n === null) return;
      return sendJson(res, 200, { n, sha256: hash(n) });
    }
    case '/vector': {
      const n = nParam(res, params, 'n', LIMITS.vector);
      if (n === null) return;
      return sendJson(res, 200, { n, result: vector(n) });
    }
    default:
      return sendJson(res, 404, { error: 'not found' });
  }
}

/** Every request; an error (a database one) answers 500 instead of leaving the request hanging. */
async function handle(req, res) {
  try {
    await route(req, res);
  } catch (e) {
    if (!res.headersSent) sendJson(res, 500, { error: `internal error: ${e.message}` });
    else res.destroy();
  }
}

/** GET /ws: every text or binary message is sent back as it came (ws answers pings and closes). */
function echo(socket) {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
}

C.runCluster((port) => {
  const server = http.createServer(handle);
  new WebSocketServer({ server, path: '/ws' }).on('connection', echo);
  server.listen(port, '127.0.0.1');
  return C.listening(server);
});
