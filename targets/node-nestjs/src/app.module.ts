// app.module.ts: the root module of the node-nestjs target. With DATABASE_URL set it imports TypeORM
// (a node-postgres Pool of DB_POOL connections per process) and the repositories of the database
// endpoints; without it the database endpoints answer 503 (db.controller.ts).

import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppController } from './app.controller';
import { envInt } from './contract';
import { DbController } from './db.controller';
import { EchoGateway } from './echo.gateway';
import { Fortune, Item, World } from './entities';
import { UpstreamService } from './upstream.service';

function database(): DynamicModule[] {
  const url = process.env.DATABASE_URL;
  if (!url) return [];
  return [
    TypeOrmModule.forRoot({
      type: 'postgres',
      url,
      entities: [World, Fortune, Item],
      synchronize: false,
      logging: false,
      // node-postgres's Pool max: the connections of this process (pg's default of 10 without DB_POOL).
      poolSize: envInt('DB_POOL', 10),
      // items.id is bigserial (int8): parsed to a number rather than pg's default string.
      parseInt8: true,
      // The lab starts the database before the target: a database that does not answer is an error
      // at once, not after @nestjs/typeorm's default 9 retries.
      retryAttempts: 0,
    }),
    TypeOrmModule.forFeature([World, Fortune, Item]),
  ];
}

@Module({
  imports: database(),
  controllers: [AppController, DbController],
  providers: [UpstreamService, EchoGateway],
})
export class AppModule {}
