/**
 * Party rules shared by the party actor, its room and `GET /v2/party` (Nakama's `ListParties`):
 * the limits, label normalisation, Nakama's error texts, the matchmaker request checks, the ports
 * a party talks to, and the listing selection (label query, `open` filter, offset cursor).
 */
import { z } from 'zod';
import { AppError, Code, invalid } from '../errors.js';
import { parseMatchQuery } from './match-query.js';

/** Largest party (Nakama: 1–256). */
export const MAX_PARTY_SIZE = 256;
/** Longest label, in UTF-8 bytes (Nakama's `PartyLabelMaxBytes`). */
export const MAX_PARTY_LABEL_BYTES = 2048;

/** A party member or requester as Tavern's services see it (Nakama's `UserPresence`). */
export interface PartyMember {
  userId: string;
  /** The Nakama session id (the token's `tid`). */
  sessionId: string;
  username: string;
}

/** Nakama's `UserPresence` on the wire. */
export interface WirePresence {
  user_id: string;
  session_id: string;
  username: string;
}

export const wirePresence = (m: PartyMember): WirePresence => ({ user_id: m.userId, session_id: m.sessionId, username: m.username });

/** The matchmaker is not wired in: a deployment choice the client hears of, not a server failure to log. */
class MatchmakerDisabled extends AppError {
  constructor() {
    super(Code.UNAVAILABLE, 'matchmaker not enabled');
  }
  override get expected(): boolean {
    return true;
  }
}

/** Nakama's error texts (nakama-common `runtime.ErrParty*`), with the gRPC status Tavern sends beside them. */
export const PartyError = {
  closed: () => new AppError(Code.NOT_FOUND, 'party closed'),
  notFound: () => new AppError(Code.NOT_FOUND, 'party not found'),
  full: () => new AppError(Code.RESOURCE_EXHAUSTED, 'party full'),
  requestDuplicate: () => new AppError(Code.ALREADY_EXISTS, 'party join request duplicate'),
  alreadyMember: () => new AppError(Code.ALREADY_EXISTS, 'party join request already member'),
  requestsFull: () => new AppError(Code.RESOURCE_EXHAUSTED, 'party join requests full'),
  notLeader: () => new AppError(Code.PERMISSION_DENIED, 'party leader only'),
  notMember: () => new AppError(Code.NOT_FOUND, 'party member not found'),
  notRequest: () => new AppError(Code.NOT_FOUND, 'party join request not found'),
  removeSelf: () => new AppError(Code.FAILED_PRECONDITION, 'party cannot remove self'),
  labelTooLong: () => new AppError(Code.INVALID_ARGUMENT, 'party label too long'),
  hiddenLabel: () => new AppError(Code.INVALID_ARGUMENT, 'party is hidden and label is not empty, invalid operation'),
  matchmakerDisabled: (): AppError => new MatchmakerDisabled(),
} as const;

/** Nakama's error prefix per party operation (pipeline_party.go): "Error joining party: party full". */
export const PartyOp = {
  create: 'Error creating party',
  join: 'Error joining party',
  promote: 'Error promoting new party leader',
  accept: 'Error accepting party join request',
  remove: 'Error removing party member or join request',
  close: 'Error closing party',
  requests: 'Error listing party join requests',
  matchmakerAdd: 'Error adding party to matchmaker',
  matchmakerRemove: 'Error removing party matchmaker ticket',
  data: 'Error sending party data',
  update: 'Error updating party',
} as const;

/** Prefixes an `AppError`'s message with the operation's (once); anything else passes through. */
export function partyFailure(prefix: string, err: unknown): unknown {
  if (err instanceof AppError && !err.message.startsWith(`${prefix}: `)) err.message = `${prefix}: ${err.message}`;
  return err;
}

/** Runs `fn` (sync or async), prefixing the errors it throws or rejects with. */
export function prefixed<T>(prefix: string, fn: () => T): T {
  try {
    const out = fn();
    return out instanceof Promise ? (out.catch((err: unknown) => Promise.reject(partyFailure(prefix, err))) as T) : out;
  } catch (err) {
    throw partyFailure(prefix, err);
  }
}

/** Go's `json.Marshal` of a decoded label: compact, object keys sorted at every level. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/**
 * A label as Nakama stores it: empty becomes `{}`, at most 2048 bytes, a JSON object, re-encoded
 * compactly with sorted keys (as Nakama's listing returns it).
 */
export function normalizeLabel(label: string | undefined): string {
  const text = label === undefined || label === '' ? '{}' : label;
  if (Buffer.byteLength(text, 'utf8') > MAX_PARTY_LABEL_BYTES) throw PartyError.labelTooLong();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid(`failed to unmarshal party label: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('failed to unmarshal party label: the label must be a JSON object');
  }
  return JSON.stringify(canonical(parsed));
}

/** `party_create` options (Nakama's `PartyCreate`): proto defaults for what is left out. */
export const PartyCreate = z.object({
  open: z.boolean().default(false),
  max_size: z
    .number({ error: 'Invalid party max size, must be 1-256' })
    .int('Invalid party max size, must be 1-256')
    .min(1, 'Invalid party max size, must be 1-256')
    .max(MAX_PARTY_SIZE, 'Invalid party max size, must be 1-256'),
  label: z.string().optional(),
  hidden: z.boolean().default(false),
});
export type PartyCreate = z.output<typeof PartyCreate>;

/**
 * `party_matchmaker_add` (Nakama's `PartyMatchmakerAdd`), checked in Nakama's order with its
 * messages; an empty query becomes `*`.
 */
export const PartyMatchmakerAdd = z
  .object({
    party_id: z.string().max(128).optional(),
    min_count: z.number().int().default(0),
    max_count: z.number().int().default(0),
    query: z.string().max(4096).default(''),
    string_properties: z.record(z.string().max(128), z.string().max(1024)).optional(),
    numeric_properties: z.record(z.string().max(128), z.number()).optional(),
    count_multiple: z.number().int().nullish(),
  })
  .superRefine((m, ctx) => {
    const fail = (message: string) => ctx.addIssue({ code: 'custom', message });
    if (m.min_count < 2) return fail('Invalid minimum count, must be >= 2');
    if (m.max_count < m.min_count) return fail('Invalid maximum count, must be >= minimum count');
    const multiple = m.count_multiple;
    if (multiple !== undefined && multiple !== null) {
      if (multiple < 1) return fail('Invalid count multiple, must be >= 1');
      if (m.min_count % multiple !== 0) return fail('Invalid count multiple for minimum count, must divide');
      if (m.max_count % multiple !== 0) return fail('Invalid count multiple for maximum count, must divide');
    }
  })
  .transform((m): PartyMatchmakerRequest => ({
    query: m.query === '' ? '*' : m.query,
    minCount: m.min_count,
    maxCount: m.max_count,
    countMultiple: m.count_multiple ?? 1,
    stringProperties: m.string_properties ?? {},
    numericProperties: m.numeric_properties ?? {},
  }));

/** A checked party matchmaking request, in the matchmaker's terms. */
export interface PartyMatchmakerRequest {
  query: string;
  minCount: number;
  maxCount: number;
  countMultiple: number;
  stringProperties: Record<string, string>;
  numericProperties: Record<string, number>;
}

/** What a party needs from the matchmaker (wired by the composition root; optional). */
export interface PartyMatchmaker {
  /** Adds the whole party as one ticket; returns the ticket id. */
  addParty(party: { partyId: string; leader: PartyMember; members: PartyMember[] }, request: PartyMatchmakerRequest): Promise<string>;
  removeParty(partyId: string, ticket: string): Promise<void>;
}

/** A party as the listing sees it (the room's metadata). */
export interface PartyListing {
  partyId: string;
  open: boolean;
  hidden: boolean;
  maxSize: number;
  /** Members now. */
  size: number;
  /** Normalised label (a JSON object). */
  label: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** What `GET /v2/party` asks for. */
export interface PartyFilter {
  limit: number;
  open?: boolean | undefined;
  query?: string | undefined;
  cursor?: string | undefined;
}

export interface PartyPage {
  parties: PartyListing[];
  /** Set when more parties follow. */
  cursor?: string;
}

/** Lists parties across the fleet (implemented over the room registry in src/rooms). */
export interface PartyPort {
  list(filter: PartyFilter): Promise<PartyPage>;
}

/** Checks a filter as Nakama does. */
export function checkPartyFilter(f: PartyFilter): void {
  if (!Number.isInteger(f.limit) || f.limit < 1 || f.limit > 100) throw invalid('Invalid limit - limit must be between 1 and 100.');
}

interface Cursor {
  query: string;
  open: boolean | null;
  limit: number;
  offset: number;
}

const CursorShape = z.object({ query: z.string(), open: z.boolean().nullable(), limit: z.number().int(), offset: z.number().int().min(0) });

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

function decodeCursor(text: string): Cursor {
  try {
    return CursorShape.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw invalid('Invalid cursor.');
  }
}

/**
 * The page a filter selects: parties that are not hidden, open or closed as asked, whose label
 * matches the query; best query score first, then oldest first (a stable order for the offset
 * cursor, which must come back with the same query, open filter and limit, as in Nakama).
 */
export function selectParties(all: readonly PartyListing[], f: PartyFilter): PartyPage {
  const query = f.query === undefined || f.query === '' ? '*' : f.query;
  const open = f.open ?? null;
  let offset = 0;
  if (f.cursor !== undefined && f.cursor !== '') {
    const c = decodeCursor(f.cursor);
    if (c.query !== query) throw invalid('Invalid cursor: param query mismatch.');
    if (c.limit !== f.limit) throw invalid('Invalid cursor: param limit mismatch.');
    if (c.open !== open) throw invalid('Invalid cursor: param open mismatch.');
    offset = c.offset;
  }
  const compiled = parseMatchQuery(query);
  const ranked = all
    .filter((p) => !p.hidden && (open === null || p.open === open))
    .map((p) => ({ p, score: compiled.score(p.label) }))
    .filter((x): x is { p: PartyListing; score: number } => x.score !== null)
    .sort((a, b) => b.score - a.score || a.p.createdAt - b.p.createdAt || (a.p.partyId < b.p.partyId ? -1 : 1))
    .map((x) => x.p);
  const parties = ranked.slice(offset, offset + f.limit);
  const more = ranked.length > offset + f.limit;
  return more ? { parties, cursor: encodeCursor({ query, open, limit: f.limit, offset: offset + f.limit }) } : { parties };
}
