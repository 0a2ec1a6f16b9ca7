// app.module.ts: the root module of the node-nestjs target.

import { Module } from '@nestjs/common';
import { AppController } from './app.controller';
import { EchoGateway } from './echo.gateway';
import { UpstreamService } from './upstream.service';

@Module({
  controllers: [AppController],
  providers: [UpstreamService, EchoGateway],
})
export class AppModule {}
