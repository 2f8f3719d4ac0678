/**
 * Example RPCs. Call them with nakama-js (`client.rpc(session, 'echo', { hello: 'world' })`), over
 * HTTP (`POST /v2/rpc/echo` with a JSON string body), server to server
 * (`GET /v2/rpc/server_time?http_key=...`), or from a Colyseus client through the `session` room
 * (`room.send('rpc', { id: 'echo', payload: '{"hello":"world"}' })`).
 */
import { Code, runtimeError } from 'tavern';
import type * as nkruntime from 'tavern';

export const InitModule: nkruntime.InitModule = (_ctx, logger, _nk, initializer) => {
  // Returns the payload it was given, with who called it.
  initializer.registerRpc('echo', (ctx, _logger, _nk, payload) => {
    let input: unknown = null;
    if (payload) {
      try {
        input = JSON.parse(payload);
      } catch {
        throw runtimeError(Code.INVALID_ARGUMENT, 'payload must be JSON');
      }
    }
    return JSON.stringify({ input, userId: ctx.userId ?? null });
  });

  // Server-to-server friendly: no user needed.
  initializer.registerRpc('server_time', (_ctx, _logger, nk) => JSON.stringify({ now: Date.now(), id: nk.uuidv4() }));

  logger.info('example RPCs registered');
};
