'use strict';
// server.js: the node-fastify target, Fastify 5 on node:cluster (contract: docs/contract.md), with the
// JSON schemas for query validation and response serialisation that Fastify's documentation advises;
// /ws through @fastify/websocket (the ws package, on Fastify's own server and routing).

const Fastify = require('fastify');
const { LIMITS, cpu, hash, io, UpstreamError, runCluster } = require('./contract');

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

fastify.register(require('@fastify/websocket'));
fastify.register(async (scope) => {
  // GET /ws: every text or binary message is sent back as it came (ws answers pings and closes).
  scope.get('/ws', { websocket: true }, (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
});

fastify.setErrorHandler((error, request, reply) => {
  if (error.validation) return reply.status(400).send({ error: error.message });
  if (error instanceof UpstreamError || error.code?.startsWith?.('UND_ERR') || error.cause) {
    return reply.status(502).send({ error: `upstream: ${error.message}` });
  }
  reply.status(500).send({ error: 'internal error' });
});

runCluster((port) => {
  fastify.listen({ port, host: '127.0.0.1' }).catch((e) => {
    console.error(`error: cannot listen on 127.0.0.1:${port}: ${e.message}`);
    process.exit(1);
  });
});
