// echo.gateway.ts: GET /ws (docs/contract.md) as a Nest WebSocket gateway on the ws adapter
// (@nestjs/platform-ws), on the same HTTP server and port as the controller. The contract's echo sends
// back raw frames, text or binary, which Nest's {event, data} JSON message routing cannot express
// (its replies are JSON.stringify'd): the gateway echoes on the client socket it is handed at
// connection, the way Nest's documentation shows for raw ws clients.

import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';

/** The part of a `ws` WebSocket the echo uses (the ws package ships no TypeScript types). */
interface WsClient {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  send(data: Buffer, options: { binary: boolean }): void;
}

@WebSocketGateway({ path: '/ws' })
export class EchoGateway implements OnGatewayConnection {
  handleConnection(client: WsClient): void {
    client.on('message', (data, isBinary) => client.send(data, { binary: isBinary }));
  }
}
