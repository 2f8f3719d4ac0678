/**
 * RPC endpoints (Nakama's `RpcFunc`): `POST|GET /v2/rpc/{id}` with a session token, or with
 * `?http_key=` for server-to-server calls (then the context has no user). The POST body is a JSON
 * string literal, or the raw payload with `?unwrap`; GET takes `?payload=`. The reply is
 * `{"payload": "…"}`, or the raw result with `?unwrap`.
 */
import { z } from 'zod';
import { invalid, notFound } from '../errors.js';
import type { HookLookup } from '../hooks/registry.js';
import { endpoint, RawResponse, type Endpoint } from './pipeline.js';
import { qString } from './schema.js';

const request = z.object({
  id: z.string().min(1).max(128),
  payload: z.unknown().optional(),
  unwrap: z.unknown().optional(),
});

/** The payload string from a POST body (raw text) or a GET query. */
function payloadOf(method: 'GET' | 'POST', raw: unknown, unwrap: boolean): string {
  if (raw === undefined || raw === null || raw === '') return '';
  if (method === 'GET') return qString.parse(raw);
  if (typeof raw !== 'string') throw invalid('RPC payload must be a string.');
  if (unwrap) return raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid('Unable to parse the RPC payload: send a JSON string, or use ?unwrap for a raw body.');
  }
  if (typeof parsed !== 'string') throw invalid('The RPC payload must be a JSON string; use ?unwrap for a raw body.');
  return parsed;
}

export function rpcEndpoints(hooks: HookLookup): Endpoint[] {
  return (['POST', 'GET'] as const).map((method) =>
    endpoint({
      operation: 'RpcFunc',
      method,
      path: '/v2/rpc/:id',
      auth: 'session_or_http_key',
      ...(method === 'POST' ? { body: 'payload' } : {}),
      request,
      async handler(req, ctx) {
        const rpc = hooks.rpc(req.id);
        if (!rpc) throw notFound('RPC function not found');
        const unwrap = req.unwrap !== undefined;
        const result = await rpc(ctx.hook, payloadOf(method, req.payload, unwrap));
        if (unwrap) return new RawResponse(result ?? '');
        return result ? { payload: result } : {};
      },
    }),
  );
}
