// main.ts: the node-nestjs target's entry point: a node:cluster primary forking WORKERS workers, each
// bootstrapping the Nest application on its default Express adapter on 127.0.0.1:PORT, with the ws
// adapter serving the /ws gateway on the same server. A worker that dies stops the whole server (the
// lab must see a crash); SIGTERM/SIGINT stop workers, then the primary.

import 'reflect-metadata';
import cluster from 'node:cluster';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import { AppModule } from './app.module';

function envInt(name: string, fallback?: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    console.error(`error: the environment variable ${name} is not set`);
    process.exit(2);
  }
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    console.error(`error: ${name}='${raw}' is not a positive integer (at most 65535)`);
    process.exit(2);
  }
  return Number(raw);
}

async function bootstrap(port: number): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.use((_req: unknown, res: { setHeader(k: string, v: string): void }, next: () => void) => {
    res.setHeader('Server', 'nestjs');
    next();
  });
  // /ws: the ws adapter on the same HTTP server. Frames go to EchoGateway's own listener; the
  // parser that would try each frame as Nest's {event, data} JSON drops them instead (every frame
  // would otherwise be JSON.parse'd, fail, and be discarded).
  app.useWebSocketAdapter(new WsAdapter(app, { messageParser: () => undefined }));
  await app.listen(port, '127.0.0.1');
}

function primary(port: number): void {
  const workers = envInt('WORKERS', 1);
  let stopping = false;
  let listening = 0;
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w) => w && !w.isDead());
    if (alive.length === 0) process.exit(code);
    let left = alive.length;
    for (const w of alive) {
      w!.once('exit', () => {
        if (--left === 0) process.exit(code);
      });
      w!.process.kill('SIGTERM');
    }
    setTimeout(() => {
      for (const w of alive) if (!w!.isDead()) w!.process.kill('SIGKILL');
      process.exit(code);
    }, 5000).unref();
  };
  cluster.on('listening', () => {
    if (++listening === workers) console.log(`listening on 127.0.0.1:${port} (${workers} workers)`);
  });
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    console.error(`error: worker ${w.process.pid} exited (${signal ?? `code ${code}`}); stopping`);
    stop(1);
  });
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
  for (let i = 0; i < workers; i++) cluster.fork();
}

const port = envInt('PORT');
if (cluster.isPrimary) {
  primary(port);
} else {
  bootstrap(port).catch((e: Error) => {
    console.error(`error: cannot start on 127.0.0.1:${port}: ${e.message}`);
    process.exit(1);
  });
}
