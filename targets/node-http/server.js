'use strict';
// server.js: the node-http target, node:http with no framework, on node:cluster (contract: docs/contract.md);
// /ws is the `ws` package on the same http server.

const http = require('node:http');
const { WebSocketServer } = require('ws');
const { LIMITS, parseN, cpu, hash, io, runCluster } = require('./contract');

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

async function handle(req, res) {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1));
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
    default:
      return sendJson(res, 404, { error: 'not found' });
  }
}

/** GET /ws: every text or binary message is sent back as it came (ws answers pings and closes). */
function echo(socket) {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
}

runCluster((port) => {
  const server = http.createServer(handle);
  new WebSocketServer({ server, path: '/ws' }).on('connection', echo);
  server.listen(port, '127.0.0.1');
});
