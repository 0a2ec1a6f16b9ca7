'use strict';
// server.js: the node-fastify target, Fastify 5 (contract: docs/contract.md), one process when WORKERS=1,
// else node:cluster, with the JSON schemas for query validation and response serialisation that
// Fastify's documentation advises; /ws through @fastify/websocket (the ws package, on Fastify's own
// server and routing); the database endpoints through @fastify/postgres (a node-postgres Pool per
// process) and /fortunes rendered by @fastify/view with EJS.

const path = require('node:path');
const Fastify = require('fastify');
const pg = require('pg');
const C = require('./contract');

const { LIMITS, cpu, hash, vector, io, UpstreamError, runCluster } = C;

// items.id is bigserial (int8), which node-postgres returns as a string; the ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);

const fastify = Fastify({ logger: false });

fastify.addHook('onRequest', (request, reply, done) => {
  reply.header('server', 'fastify');
  done();
});

const intQuery = (key, max) => ({
  type: 'object',
  required: [key],
  properties: { [key]: { type: 'integer', minimum: 0, maximum: max } },
});

fastify.get('/plaintext', async (request, reply) => {
  reply.type('text/plain');
  return 'Hello, World!';
});

fastify.get(
  '/json',
  {
    schema: {
      response: { 200: { type: 'object', properties: { message: { type: 'string' } } } },
    },
  },
  async () => ({ message: 'Hello, World!' }),
);

fastify.get('/io', { schema: { querystring: intQuery('ms', LIMITS.io) } }, async (request) =>
  io(request.query.ms),
);

fastify.get(
  '/cpu',
  {
    schema: {
      querystring: intQuery('n', LIMITS.cpu),
      response: {
        200: { type: 'object', properties: { n: { type: 'integer' }, result: { type: 'integer' } } },
      },
    },
  },
  async (request) => {
    const n = request.query.n;
    return { n, result: cpu(n) };
  },
);

fastify.get(
  '/hash',
  {
    schema: {
      querystring: intQuery('n', LIMITS.hash),
      response: {
        200: { type: 'object', properties: { n: { type: 'integer' }, sha256: { type: 'string' } } },
      },
    },
  },
  async (request) => {
    const n = request.query.n;
    return { n, sha256: hash(n) };
  },
);

fastify.get(
  '/vector',
  {
    schema: {
      querystring: intQuery('n', LIMITS.vector),
      response: {
        200: { type: 'object', properties: { n: { type: 'integer' }, result: { type: 'number' } } },
      },
    },
  },
  async (request) => {
    const n = request.query.n;
    return { n, result: vector(n) };
  },
);

// ---- The database endpoints ----

const dbConfig = C.dbConfig();
if (dbConfig) fastify.register(require('@fastify/postgres'), { ...dbConfig, pg });
fastify.register(require('@fastify/view'), { engine: { ejs: require('ejs') }, root: path.join(__dirname, 'views') });

/** Route onRequest hook: 503 when the run has no database. */
function needDb(request, reply, done) {
  if (!dbConfig) reply.code(503).send({ error: C.NO_DATABASE });
  else done();
}

const WORLD = 'SELECT id, randomnumber FROM world WHERE id = $1';

async function world(id) {
  const { rows } = await fastify.pg.query(WORLD, [id]);
  return { id: rows[0].id, randomNumber: rows[0].randomnumber };
}

/** q random World rows, one query each (run concurrently on the pool). */
function worlds(q) {
  const reads = [];
  for (let i = 0; i < q; i++) reads.push(world(C.randomId()));
  return Promise.all(reads);
}

const worldSchema = {
  type: 'object',
  properties: { id: { type: 'integer' }, randomNumber: { type: 'integer' } },
};
const worldsSchema = { type: 'array', items: worldSchema };
const itemSchema = {
  type: 'object',
  properties: { id: { type: 'integer' }, name: { type: 'string' }, price_cents: { type: 'integer' } },
};

fastify.get('/db', { onRequest: needDb, schema: { response: { 200: worldSchema } } }, async () =>
  world(C.randomId()),
);

fastify.get('/queries', { onRequest: needDb, schema: { response: { 200: worldsSchema } } }, async (request) =>
  worlds(C.queryCount(request.query.q)),
);

fastify.get('/fortunes', { onRequest: needDb }, async (request, reply) => {
  const { rows } = await fastify.pg.query('SELECT id, message FROM fortune');
  return reply.view('fortunes.ejs', { fortunes: C.fortuneList(rows) });
});

fastify.get('/updates', { onRequest: needDb, schema: { response: { 200: worldsSchema } } }, async (request) => {
  const rows = await worlds(C.queryCount(request.query.q));
  C.assignRandomNumbers(rows);
  await Promise.all(
    rows.map((r) => fastify.pg.query('UPDATE world SET randomnumber = $1 WHERE id = $2', [r.randomNumber, r.id])),
  );
  return rows;
});

const ITEM_COLUMNS = 'id, name, price_cents';

// Item bodies are checked by contract.js's parseItem, not by a body schema: Fastify's default Ajv
// coerces types (it would take "5" for price_cents and 5 for name), and the contract wants those 400.
function itemBody(request, reply) {
  const parsed = C.parseItem(request.body);
  if (parsed.error) reply.code(400).send({ error: parsed.error });
  return parsed.value;
}

function itemId(request, reply) {
  const id = C.parseId(request.params.id);
  if (id === null) reply.code(400).send({ error: 'the item id must be a positive integer' });
  return id;
}

const notFound = (reply, id) => reply.code(404).send({ error: `no item ${id}` });

fastify.get(
  '/items',
  { onRequest: needDb, schema: { response: { 200: { type: 'array', items: itemSchema } } } },
  async (request) => {
    const limit = C.itemsLimit(request.query.limit);
    const { rows } = await fastify.pg.query(`SELECT ${ITEM_COLUMNS} FROM items ORDER BY id LIMIT $1`, [limit]);
    return rows;
  },
);

fastify.post('/items', { onRequest: needDb, schema: { response: { 201: itemSchema } } }, async (request, reply) => {
  const item = itemBody(request, reply);
  if (!item) return reply;
  const { rows } = await fastify.pg.query(
    `INSERT INTO items (name, price_cents) VALUES ($1, $2) RETURNING ${ITEM_COLUMNS}`,
    [item.name, item.price_cents],
  );
  return reply.code(201).send(rows[0]);
});

fastify.get('/items/:id', { onRequest: needDb, schema: { response: { 200: itemSchema } } }, async (request, reply) => {
  const id = itemId(request, reply);
  if (id === null) return reply;
  const { rows } = await fastify.pg.query(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1`, [id]);
  return rows.length ? rows[0] : notFound(reply, id);
});

fastify.put('/items/:id', { onRequest: needDb, schema: { response: { 200: itemSchema } } }, async (request, reply) => {
  const id = itemId(request, reply);
  if (id === null) return reply;
  const item = itemBody(request, reply);
  if (!item) return reply;
  const { rows } = await fastify.pg.query(
    `UPDATE items SET name = $1, price_cents = $2 WHERE id = $3 RETURNING ${ITEM_COLUMNS}`,
    [item.name, item.price_cents, id],
  );
  return rows.length ? rows[0] : notFound(reply, id);
});

fastify.delete('/items/:id', { onRequest: needDb }, async (request, reply) => {
  const id = itemId(request, reply);
  if (id === null) return reply;
  const { rowCount } = await fastify.pg.query('DELETE FROM items WHERE id = $1', [id]);
  return rowCount ? reply.code(204).send() : notFound(reply, id);
});

fastify.register(require('@fastify/websocket'));
fastify.register(async (scope) => {
  // GET /ws: every text or binary message is sent back as it came (ws answers pings and closes).
  scope.get('/ws', { websocket: true }, (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
});

fastify.setErrorHandler((error, request, reply) => {
  if (error.validation) return reply.status(400).send({ error: error.message });
  // Fastify's own client errors (a body that is not JSON, too large, an unsupported media type).
  if (error.statusCode >= 400 && error.statusCode < 500) {
    return reply.status(error.statusCode).send({ error: error.message });
  }
  if (error instanceof UpstreamError || error.code?.startsWith?.('UND_ERR') || error.cause) {
    return reply.status(502).send({ error: `upstream: ${error.message}` });
  }
  reply.status(500).send({ error: 'internal error' });
});

runCluster((port) => fastify.listen({ port, host: '127.0.0.1' }));
