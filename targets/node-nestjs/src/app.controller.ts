// app.controller.ts: the contract endpoints (docs/contract.md) as a NestJS controller.

import { BadRequestException, Controller, Get, Header, Query } from '@nestjs/common';
import { cpuLoop, LIMITS, parseN, sha256Chain, vectorSum } from './contract';
import { UpstreamService } from './upstream.service';

function intParam(value: unknown, key: string, max: number): number {
  const n = parseN(value, max);
  if (n === null) throw new BadRequestException(`${key} must be an integer from 0 to ${max}`);
  return n;
}

@Controller()
export class AppController {
  constructor(private readonly upstream: UpstreamService) {}

  @Get('plaintext')
  @Header('Content-Type', 'text/plain')
  async plaintext(): Promise<string> {
    return 'Hello, World!';
  }

  @Get('json')
  async json(): Promise<{ message: string }> {
    return { message: 'Hello, World!' };
  }

  @Get('io')
  async io(@Query('ms') ms: string): Promise<unknown> {
    return this.upstream.delay(intParam(ms, 'ms', LIMITS.io));
  }

  @Get('cpu')
  async cpu(@Query('n') raw: string): Promise<{ n: number; result: number }> {
    const n = intParam(raw, 'n', LIMITS.cpu);
    return { n, result: cpuLoop(n) };
  }

  @Get('hash')
  async hash(@Query('n') raw: string): Promise<{ n: number; sha256: string }> {
    const n = intParam(raw, 'n', LIMITS.hash);
    return { n, sha256: sha256Chain(n) };
  }

  @Get('vector')
  async vector(@Query('n') raw: string): Promise<{ n: number; result: number }> {
    const n = intParam(raw, 'n', LIMITS.vector);
    return { n, result: vectorSum(n) };
  }
}
