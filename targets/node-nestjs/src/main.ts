// main.ts: the node-nestjs target's entry point. WORKERS=1 (the default): this one process bootstraps
// the Nest application and serves (no cluster primary). WORKERS>1: a node:cluster primary forks WORKERS
// workers, each bootstrapping the application on 127.0.0.1:PORT. The application runs on Nest's default
// Express adapter, with the ws adapter serving the /ws gateway on the same server and hbs (Handlebars) as
// the Express view engine for /fortunes. A worker that dies, or fails to start, stops the whole server
// (the lab must see a crash); SIGTERM/SIGINT stop the workers, then the primary (or the single process).

import 'reflect-metadata';
import cluster from 'node:cluster';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { WsAdapter } from '@nestjs/platform-ws';
import { AppModule } from './app.module';
import { envInt } from './contract';

async function bootstrap(port: number): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: ['error', 'warn'] });
  app.use((_req: unknown, res: { setHeader(k: string, v: string): void }, next: () => void) => {
    res.setHeader('Server', 'nestjs');
    next();
  });
  // /fortunes: Nest's MVC set-up on the Express adapter (views cached by Express under NODE_ENV=production).
  app.setBaseViewsDir(join(__dirname, '..', 'views'));
  app.setViewEngine('hbs');
  // /ws: the ws adapter on the same HTTP server. Frames go to EchoGateway's own listener; the
  // parser that would try each frame as Nest's {event, data} JSON drops them instead (every frame
  // would otherwise be JSON.parse'd, fail, and be discarded).
  app.useWebSocketAdapter(new WsAdapter(app, { messageParser: () => undefined }));
  await app.listen(port, '127.0.0.1');
}

function fail(port: number): (e: Error) => never {
  return (e) => {
    console.error(`error: cannot start on 127.0.0.1:${port}: ${e.message}`);
    process.exit(1);
  };
}

function primary(port: number, workers: number): void {
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
if (!cluster.isPrimary) {
  bootstrap(port).catch(fail(port));
} else {
  const workers = envInt('WORKERS', 1);
  if (workers === 1) {
    process.on('SIGTERM', () => process.exit(0));
    process.on('SIGINT', () => process.exit(0));
    bootstrap(port)
      .then(() => console.log(`listening on 127.0.0.1:${port} (1 process, no cluster)`))
      .catch(fail(port));
  } else {
    primary(port, workers);
  }
}
