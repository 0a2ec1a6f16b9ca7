// app.module.ts: the root module of the node-nestjs target.

import { Module } from '@nestjs/common';
import { AppController } from './app.controller';
import { UpstreamService } from './upstream.service';

@Module({
  controllers: [AppController],
  providers: [UpstreamService],
})
export class AppModule {}
