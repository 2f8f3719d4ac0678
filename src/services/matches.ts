/**
 * Match listing rules (Nakama's `ListMatches`): argument checks with Nakama's messages and order,
 * and the selection over every running match — label or query filters apply to authoritative
 * matches only, ranked by query score then newest first; relayed matches fill the rest of the
 * page when `authoritative` is not set.
 */
import { invalid } from '../errors.js';
import { parseMatchQuery } from './match-query.js';

/** Longest match label, in UTF-8 bytes (Nakama's `MatchLabelMaxBytes`). */
export const MAX_LABEL_BYTES = 2048;
/** Tick rates a match handler may ask for. */
export const MIN_TICK_RATE = 1;
export const MAX_TICK_RATE = 60;

/** A running match as listings see it. */
export interface MatchListing {
  matchId: string;
  authoritative: boolean;
  /** The handler's label (authoritative matches); relayed matches have none. */
  label: string;
  /** Presences in the match. */
  size: number;
  tickRate: number;
  handlerName: string;
  /** Milliseconds since the epoch: newer matches list first. */
  createdAt: number;
}

/** What a listing asks for; unset fields do not filter. */
export interface MatchFilter {
  limit: number;
  authoritative?: boolean;
  label?: string;
  minSize?: number;
  maxSize?: number;
  query?: string;
}

/** Checks a filter as Nakama does, in the same order and with the same messages. */
export function checkMatchFilter(f: MatchFilter): void {
  if (!Number.isInteger(f.limit) || f.limit < 1 || f.limit > 100) throw invalid('Invalid limit - limit must be between 1 and 100.');
  if (f.label !== undefined && f.authoritative === false) throw invalid('Label filtering is not supported for non-authoritative matches.');
  if (f.query !== undefined && f.authoritative === false) throw invalid('Query filtering is not supported for non-authoritative matches.');
  if (f.minSize !== undefined && f.minSize < 0) throw invalid('Minimum size must be 0 or above.');
  if (f.maxSize !== undefined && f.maxSize < 0) throw invalid('Maximum size must be 0 or above.');
  if (f.minSize !== undefined && f.maxSize !== undefined && f.minSize > f.maxSize) {
    throw invalid('Maximum size must be greater than or equal to minimum size when both are specified.');
  }
}

const newestFirst = (a: MatchListing, b: MatchListing) => b.createdAt - a.createdAt;

/** The page of matches a filter selects from every running match. */
export function selectMatches(all: readonly MatchListing[], f: MatchFilter): MatchListing[] {
  const fits = (m: MatchListing) => (f.minSize === undefined || m.size >= f.minSize) && (f.maxSize === undefined || m.size <= f.maxSize);
  const authoritative = all.filter((m) => m.authoritative && fits(m));
  let ranked: MatchListing[] = [];
  let relayedToo = false;
  if (f.query !== undefined) {
    if (f.authoritative === false) return [];
    const query = parseMatchQuery(f.query);
    ranked = authoritative
      .map((m) => ({ m, score: query.score(m.label) }))
      .filter((x): x is { m: MatchListing; score: number } => x.score !== null)
      .sort((a, b) => b.score - a.score || newestFirst(a.m, b.m))
      .map((x) => x.m);
  } else if (f.label !== undefined) {
    if (f.authoritative === false) return [];
    ranked = authoritative.filter((m) => m.label === f.label).sort(newestFirst);
  } else if (f.authoritative !== false) {
    ranked = authoritative.sort(newestFirst);
    relayedToo = f.authoritative === undefined;
  } else relayedToo = true;

  const page = ranked.slice(0, f.limit);
  if (relayedToo && page.length < f.limit) {
    const relayed = all.filter((m) => !m.authoritative && fits(m)).sort(newestFirst);
    page.push(...relayed.slice(0, f.limit - page.length));
  }
  return page;
}
