/** Match listing (Nakama REST v2 `ListMatches`). */
import { z } from 'zod';
import type { MatchPort } from '../hooks/match-port.js';
import { checkMatchFilter, type MatchFilter, type MatchListing } from '../services/matches.js';
import { endpoint, type Endpoint } from './pipeline.js';
import { qBool, qString } from './schema.js';

export interface MatchApiDeps {
  matches: MatchPort;
}

/** Nakama's `Match` on the wire: zero values omitted, the label present for authoritative matches. */
export function wireMatch(m: MatchListing) {
  return {
    match_id: m.matchId,
    ...(m.authoritative ? { authoritative: true, label: m.label } : {}),
    ...(m.size ? { size: m.size } : {}),
    ...(m.tickRate ? { tick_rate: m.tickRate } : {}),
    ...(m.handlerName ? { handler_name: m.handlerName } : {}),
  };
}

/** An int32 query field; anything else is left for the filter check to refuse with Nakama's message. */
const qInt = z.preprocess((v) => (Array.isArray(v) ? v[v.length - 1] : v), z.coerce.number().int());

export function matchEndpoints(deps: MatchApiDeps): Endpoint[] {
  return [
    endpoint({
      operation: 'GetMatchmakerStats',
      method: 'GET',
      path: '/v2/matchmaker/stats',
      auth: 'session',
      request: z.object({}),
      async handler() {
        const s = await deps.matches.matchmakerStats();
        const time = (ms: number) => new Date(ms).toISOString();
        return {
          ticket_count: s.ticketCount,
          ...(s.oldestTicketCreateMs !== undefined ? { oldest_ticket_create_time: time(s.oldestTicketCreateMs) } : {}),
          completions: s.completions.map((c) => ({ create_time: time(c.createMs), complete_time: time(c.completeMs) })),
        };
      },
    }),
    endpoint({
      operation: 'ListMatches',
      method: 'GET',
      path: '/v2/match',
      auth: 'session',
      request: z.object({
        // Not a number → NaN, refused by the filter check with Nakama's message.
        limit: z
          .preprocess((v) => (v === undefined ? v : Number(Array.isArray(v) ? v[v.length - 1] : v)), z.number().or(z.nan()))
          .optional(),
        authoritative: qBool.optional(),
        label: qString.optional(),
        min_size: qInt.optional(),
        max_size: qInt.optional(),
        // grpc-gateway also takes the JSON names.
        minSize: qInt.optional(),
        maxSize: qInt.optional(),
        query: qString.optional(),
      }),
      async handler(req) {
        const minSize = req.min_size ?? req.minSize;
        const maxSize = req.max_size ?? req.maxSize;
        // Nakama's default page for this endpoint is 10.
        const filter: MatchFilter = {
          limit: req.limit ?? 10,
          ...(req.authoritative !== undefined ? { authoritative: req.authoritative } : {}),
          ...(req.label !== undefined ? { label: req.label } : {}),
          ...(minSize !== undefined ? { minSize } : {}),
          ...(maxSize !== undefined ? { maxSize } : {}),
          ...(req.query !== undefined ? { query: req.query } : {}),
        };
        checkMatchFilter(filter);
        const matches = await deps.matches.list(filter);
        return matches.length > 0 ? { matches: matches.map(wireMatch) } : {};
      },
    }),
  ];
}
