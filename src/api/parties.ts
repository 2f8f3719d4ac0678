/** Party listing (Nakama REST v2 `ListParties`). */
import { z } from 'zod';
import { checkPartyFilter, type PartyFilter, type PartyListing, type PartyPort } from '../services/parties.js';
import { endpoint, type Endpoint } from './pipeline.js';
import { qBool, qString } from './schema.js';

export interface PartyApiDeps {
  parties: PartyPort;
}

/** Nakama's `Party` on the wire (zero values omitted), plus Tavern's `size` (members now). */
export function wireParty(p: PartyListing) {
  return {
    party_id: p.partyId,
    ...(p.open ? { open: true } : {}),
    ...(p.hidden ? { hidden: true } : {}),
    max_size: p.maxSize,
    label: p.label,
    ...(p.size ? { size: p.size } : {}),
  };
}

export function partyEndpoints(deps: PartyApiDeps): Endpoint[] {
  return [
    endpoint({
      operation: 'ListParties',
      method: 'GET',
      path: '/v2/party',
      auth: 'session',
      request: z.object({
        // Not a number → NaN, refused by the filter check with Nakama's message.
        limit: z
          .preprocess((v) => (v === undefined ? v : Number(Array.isArray(v) ? v[v.length - 1] : v)), z.number().or(z.nan()))
          .optional(),
        open: qBool.optional(),
        query: qString.optional(),
        cursor: qString.optional(),
      }),
      async handler(req) {
        // Nakama's default page for this endpoint is 10.
        const filter: PartyFilter = {
          limit: req.limit ?? 10,
          ...(req.open !== undefined ? { open: req.open } : {}),
          ...(req.query !== undefined ? { query: req.query } : {}),
          ...(req.cursor !== undefined ? { cursor: req.cursor } : {}),
        };
        checkPartyFilter(filter);
        const page = await deps.parties.list(filter);
        if (page.parties.length === 0) return {};
        return { parties: page.parties.map(wireParty), ...(page.cursor ? { cursor: page.cursor } : {}) };
      },
    }),
  ];
}
