// upstream.service.ts: the injectable client for the lab's upstream service (GET /delay?ms=N), through
// undici's global dispatcher: one keep-alive connection pool per worker process.

import { BadGatewayException, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { request } from 'undici';

@Injectable()
export class UpstreamService {
  private readonly base = process.env.UPSTREAM_URL?.replace(/\/+$/, '');

  async delay(ms: number): Promise<unknown> {
    if (!this.base) throw new ServiceUnavailableException('UPSTREAM_URL is not set');
    let statusCode: number;
    let body: Awaited<ReturnType<typeof request>>['body'];
    try {
      ({ statusCode, body } = await request(`${this.base}/delay?ms=${ms}`));
    } catch (e) {
      throw new BadGatewayException(`upstream: ${(e as Error).message}`);
    }
    if (statusCode !== 200) {
      await body.dump();
      throw new BadGatewayException(`upstream answered ${statusCode}`);
    }
    return body.json();
  }
}
