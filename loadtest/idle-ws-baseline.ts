/**
 * Baseline of the idle scenario (loadtest/idle.ts): a bare `ws` WebSocketServer (the `ws` package
 * Colyseus' transport is built on) that accepts WebSocket connections on any path and holds them.
 * Nothing is sent to a client except, when PING_MS > 0, a WebSocket ping every PING_MS (default
 * 15000, Tavern's TAVERN_PING_INTERVAL_MS) so that both servers keep the same heartbeat on the
 * wire; PING_MS=0 turns it off. Incoming messages are dropped.
 *
 * Env: PORT, PING_MS. Answers GET /healthcheck, and GET /memory with `process.memoryUsage()` and the
 * number of open connections.
 */
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const pingMs = Number(process.env.PING_MS ?? 15_000);
const server = http.createServer((req, res) => {
  if (req.url === '/healthcheck') res.end('ok');
  else if (req.url === '/memory') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ...process.memoryUsage(), connections: wss.clients.size }));
  } else {
    res.statusCode = 404;
    res.end();
  }
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
const alive = new WeakMap<WebSocket, boolean>();
wss.on('connection', (ws) => {
  alive.set(ws, true);
  ws.on('pong', () => alive.set(ws, true));
  ws.on('message', () => undefined);
  ws.on('error', () => undefined);
});
if (pingMs > 0) {
  // Like @colyseus/ws-transport: ping everyone; drop a client that missed the previous ping's pong.
  setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.get(ws)) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, pingMs).unref();
}
server.listen(Number(process.env.PORT ?? 2570), '127.0.0.1');
process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
});
