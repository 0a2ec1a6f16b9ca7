'use strict';
// server.js: the node-koa target, Koa 3 with @koa/router on node:cluster (contract: docs/contract.md);
// /ws is the `ws` package on the http server Koa listens on.

const Koa = require('koa');
const { Router } = require('@koa/router');
const { WebSocketServer } = require('ws');
const { LIMITS, parseN, cpu, hash, io, UpstreamError, runCluster } = require('./contract');

const app = new Koa();
const router = new Router();

app.use(async (ctx, next) => {
  ctx.set('Server', 'koa');
  try {
    await next();
  } catch (err) {
    if (err instanceof UpstreamError || err.code?.startsWith?.('UND_ERR') || err.cause) {
      ctx.status = 502;
      ctx.body = { error: `upstream: ${err.message}` };
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

app.use(router.routes()).use(router.allowedMethods());

/** GET /ws: every text or binary message is sent back as it came (ws answers pings and closes). */
function echo(socket) {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
}

runCluster((port) => {
  const server = app.listen(port, '127.0.0.1');
  new WebSocketServer({ server, path: '/ws' }).on('connection', echo);
});
