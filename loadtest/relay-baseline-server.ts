/**
 * Baseline of the `relay` scenario of `npm run bench`: the least Colyseus code that relays messages
 * between the members of a room — plain `@colyseus/core` Server, `@colyseus/ws-transport`, one Room
 * class that broadcasts each `match_data_send` it gets, untouched, as `match_data` to the other
 * members. No auth, no validation, no hooks, no flow control, no logging or metrics, no state.
 *
 * Env: PORT. Answers GET /healthcheck for the bench's readiness check.
 */
import http from 'node:http';
import { Room, Server, type Client } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';

class RelayRoom extends Room {
  override patchRate = null;

  override onCreate(): void {
    this.onMessage('match_data_send', (client: Client, message: unknown) => this.broadcast('match_data', message, { except: client }));
  }
}

const server = http.createServer();
const game = new Server({ transport: new WebSocketTransport({ server }), greet: false });
game.define('relay', RelayRoom);
await game.listen(Number(process.env.PORT ?? 2568), '127.0.0.1');
// Colyseus's request listener answers its routes (matchmaking); the health check goes around it.
const [colyseus] = server.listeners('request') as ((req: http.IncomingMessage, res: http.ServerResponse) => void)[];
server.removeAllListeners('request');
server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
  if (req.url === '/healthcheck') res.end('ok');
  else colyseus!(req, res);
});
