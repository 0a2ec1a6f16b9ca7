'use strict';
// server.js: the node-express target, Express 5 on node:cluster (contract: docs/contract.md); /ws is the
// `ws` package on the http server Express listens on.

const express = require('express');
const { WebSocketServer } = require('ws');
const { LIMITS, parseN, cpu, hash, io, UpstreamError, runCluster } = require('./contract');

const app = express();

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

app.use((err, req, res, next) => {
  if (err instanceof UpstreamError || err.code?.startsWith?.('UND_ERR') || err.cause) {
    return res.status(502).json({ error: `upstream: ${err.message}` });
  }
  next(err);
});

/** GET /ws: every text or binary message is sent back as it came (ws answers pings and closes). */
function echo(socket) {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
}

runCluster((port) => {
  const server = app.listen(port, '127.0.0.1');
  new WebSocketServer({ server, path: '/ws' }).on('connection', echo);
});
