'use strict';
// server.js: the node-koa target, Koa 3 with @koa/router (contract: docs/contract.md); one process when
// WORKERS=1, else node:cluster. /ws is the `ws` package on the http server Koa listens on; the database
// endpoints use a node-postgres (`pg`) Pool per process, render /fortunes with @koa/ejs (EJS) and
// parse item bodies with @koa/bodyparser.

const path = require('node:path');
const Koa = require('koa');
const { Router } = require('@koa/router');
const { bodyParser } = require('@koa/bodyparser');
const render = require('@koa/ejs');
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

const app = new Koa();
const router = new Router();
render(app, { root: path.join(__dirname, 'views'), viewExt: 'ejs', layout: false, cache: true });

app.use(async (ctx, next) => {
  ctx.set('Server', 'koa');
  try {
    await next();
  } catch (err) {
    if (err instanceof UpstreamError || err.code?.startsWith?.('UND_ERR') || err.cause) {
      ctx.status = 502;
      ctx.body = { error: `upstream: ${err.message}` };
    } else if (err.status >= 400 && err.status < 500) {
      // @koa/bodyparser: a body that is not JSON (400) or too large (413).
      ctx.status = err.status;
      ctx.body = { error: err.message };
    } else {
      throw err;
    }
  }
});

/** Koa middleware that validates the integer query parameter `key` into ctx.state.n. */
const intParam = (key, max) => async (ctx, next) => {
  const n = parseN(ctx.query[key], max);
  if (n === null) {
    ctx.status = 400;
    ctx.body = { error: `${key} must be an integer from 0 to ${max}` };
    return;
  }
  ctx.state.n = n;
  await next();
};

router.get('/plaintext', async (ctx) => {
  ctx.type = 'text/plain';
  ctx.body = 'Hello, World!';
});

router.get('/json', async (ctx) => {
  ctx.body = { message: 'Hello, World!' };
});

router.get('/io', intParam('ms', LIMITS.io), async (ctx) => {
  ctx.body = await io(ctx.state.n);
});

router.get('/cpu', intParam('n', LIMITS.cpu), async (ctx) => {
  const n = ctx.state.n;
  ctx.body = { n, result: cpu(n) };
});

router.get('/hash', intParam('n', LIMITS.hash), async (ctx) => {
  const n = ctx.state.n;
  ctx.body = { n, sha256: hash(n) };
});

router.get('/vector', intParam('n', LIMITS.vector), async (ctx) => {
  const n = ctx.state.n;
  ctx.body = { n, result: vector(n) };
});

// ---- The database endpoints ----

/** 503 on the database routes when the run has no database. */
const needDb = async (ctx, next) => {
  if (!pool) {
    ctx.status = 503;
    ctx.body = { error: C.NO_DATABASE };
    return;
  }
  await next();
};

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

router.get('/db', needDb, async (ctx) => {
  ctx.body = await world(C.randomId());
});

router.get('/queries', needDb, async (ctx) => {
  ctx.body = await worlds(C.queryCount(ctx.query.q));
});

router.get('/fortunes', needDb, async (ctx) => {
  const { rows } = await pool.query('SELECT id, message FROM fortune');
  await ctx.render('fortunes', { fortunes: C.fortuneList(rows) });
});

router.get('/updates', needDb, async (ctx) => {
  const rows = await worlds(C.queryCount(ctx.query.q));
  C.assignRandomNumbers(rows);
  await Promise.all(
    rows.map((r) => pool.query('UPDATE world SET randomnumber = $1 WHERE id = $2', [r.randomNumber, r.id])),
  );
  ctx.body = rows;
});

const ITEM_COLUMNS = 'id, name, price_cents';

/** Parses the JSON body (@koa/bodyparser), then validates it into ctx.state.item (400 naming the field). */
const itemBody = [
  bodyParser({ enableTypes: ['json'] }),
  async (ctx, next) => {
    const parsed = C.parseItem(ctx.request.body);
    if (parsed.error) {
      ctx.status = 400;
      ctx.body = { error: parsed.error };
      return;
    }
    ctx.state.item = parsed.value;
    await next();
  },
];

/** Validates the :id path parameter into ctx.state.id. */
const itemId = async (ctx, next) => {
  const id = C.parseId(ctx.params.id);
  if (id === null) {
    ctx.status = 400;
    ctx.body = { error: 'the item id must be a positive integer' };
    return;
  }
  ctx.state.id = id;
  await next();
};

function notFound(ctx) {
  ctx.status = 404;
  ctx.body = { error: `no item ${ctx.state.id}` };
}

router.get('/items', needDb, async (ctx) => {
  const { rows } = await pool.query(`SELECT ${ITEM_COLUMNS} FROM items ORDER BY id LIMIT $1`, [
    C.itemsLimit(ctx.query.limit),
  ]);
  ctx.body = rows;
});

router.post('/items', needDb, ...itemBody, async (ctx) => {
  const { name, price_cents: price } = ctx.state.item;
  const { rows } = await pool.query(
    `INSERT INTO items (name, price_cents) VALUES ($1, $2) RETURNING ${ITEM_COLUMNS}`,
    [name, price],
  );
  ctx.status = 201;
  ctx.body = rows[0];
});

router.get('/items/:id', needDb, itemId, async (ctx) => {
  const { rows } = await pool.query(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1`, [ctx.state.id]);
  if (rows.length === 0) return notFound(ctx);
  ctx.body = rows[0];
});

router.put('/items/:id', needDb, itemId, ...itemBody, async (ctx) => {
  const { name, price_cents: price } = ctx.state.item;
  const { rows } = await pool.query(
    `UPDATE items SET name = $1, price_cents = $2 WHERE id = $3 RETURNING ${ITEM_COLUMNS}`,
    [name, price, ctx.state.id],
  );
  if (rows.length === 0) return notFound(ctx);
  ctx.body = rows[0];
});

router.delete('/items/:id', needDb, itemId, async (ctx) => {
  const { rowCount } = await pool.query('DELETE FROM items WHERE id = $1', [ctx.state.id]);
  if (rowCount === 0) return notFound(ctx);
  ctx.status = 204;
});

app.use(router.routes()).use(router.allowedMethods());

/** GET /ws: every text or binary message is sent back as it came (ws answers pings and closes). */
function echo(socket) {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
}

C.runCluster((port) => {
  const server = app.listen(port, '127.0.0.1');
  new WebSocketServer({ server, path: '/ws' }).on('connection', echo);
  return C.listening(server);
});
