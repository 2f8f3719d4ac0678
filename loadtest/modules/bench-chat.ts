/**
 * Runtime module of the `fleet-chat` scenario of `npm run bench` (loaded with
 * TAVERN_RUNTIME_PATH=./loadtest/modules): `bench_chat_send` sends a chat message from server code,
 * the way a game's module would — `nk.channelMessageSend`, which publishes on the channel's presence
 * topic, so the channel's room hears it through Redis on whichever process it lives.
 *
 * Payload (`?unwrap`): `{"channel_id": "2...name", "content": {…}, "count": n}`: sends the content n
 * times (default 1), each with `s` (0 … n−1) added, one after the other; not stored (persist false).
 */
import { Code, runtimeError } from 'tavern';
import type * as nkruntime from 'tavern';

export const InitModule: nkruntime.InitModule = (_ctx, logger, _nk, initializer) => {
  initializer.registerRpc('bench_chat_send', async (_ctx, _logger, nk, payload) => {
    let input: { channel_id?: unknown; content?: unknown; count?: unknown };
    try {
      input = JSON.parse(payload) as typeof input;
    } catch {
      throw runtimeError(Code.INVALID_ARGUMENT, 'payload must be JSON');
    }
    if (typeof input.channel_id !== 'string' || typeof input.content !== 'object' || input.content === null)
      throw runtimeError(Code.INVALID_ARGUMENT, 'channel_id and content are required');
    const count = typeof input.count === 'number' && Number.isInteger(input.count) && input.count > 0 ? Math.min(input.count, 1000) : 1;
    for (let s = 0; s < count; s++) {
      await nk.channelMessageSend(input.channel_id, { ...(input.content as Record<string, unknown>), s }, null, 'bench', false);
    }
    return '';
  });
  logger.debug('bench chat RPC registered');
};
