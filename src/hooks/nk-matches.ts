/** `nk` functions for matches: create an authoritative match, list, get and signal (Nakama's names and argument orders). */
import { AppError, Code, invalid } from '../errors.js';
import { checkMatchFilter, type MatchListing } from '../services/matches.js';
import type { MatchPort } from './match-port.js';

/** Nakama's `nkruntime.Match`. */
export interface RuntimeMatch {
  matchId: string;
  authoritative: boolean;
  label: string;
  size: number;
  tickRate: number;
  handlerName: string;
}

export const runtimeMatch = (m: MatchListing): RuntimeMatch => ({
  matchId: m.matchId,
  authoritative: m.authoritative,
  label: m.label,
  size: m.size,
  tickRate: m.tickRate,
  handlerName: m.handlerName,
});

const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

export function matchNk(port: MatchPort | undefined) {
  const matches = (): MatchPort => {
    if (!port) throw new AppError(Code.UNAVAILABLE, 'Matches are not available in this process.');
    return port;
  };
  const matchId = (id: unknown): string => {
    if (typeof id !== 'string' || id.length === 0 || id.length > 128) throw invalid('Expects a match ID.');
    return id;
  };
  return {
    /** Starts an authoritative match with the handler registered as `module`; returns the match id. */
    async matchCreate(module: string, params?: Record<string, unknown> | null): Promise<string> {
      if (typeof module !== 'string' || module.length === 0) throw invalid('Expects a module name.');
      if (params != null && (typeof params !== 'object' || Array.isArray(params))) throw invalid('Expects params to be an object.');
      return matches().create(module, params ?? {});
    },
    /** The matchmaker's numbers over every queue (Nakama's `matchmakerStats`; times in seconds). */
    async matchmakerStats(): Promise<{
      ticketCount: number;
      oldestTicketCreateTime?: number;
      completions: { createTime: number; completeTime: number }[];
    }> {
      const s = await matches().matchmakerStats();
      const sec = (ms: number) => Math.floor(ms / 1000);
      return {
        ticketCount: s.ticketCount,
        ...(s.oldestTicketCreateMs !== undefined ? { oldestTicketCreateTime: sec(s.oldestTicketCreateMs) } : {}),
        completions: s.completions.map((c) => ({ createTime: sec(c.createMs), completeTime: sec(c.completeMs) })),
      };
    },
    /** A running match, or null. */
    async matchGet(id: string): Promise<RuntimeMatch | null> {
      const m = await matches().get(matchId(id));
      return m ? runtimeMatch(m) : null;
    },
    /** Running matches, as `ListMatches` selects them (limit defaults to 1, as in Nakama's runtime). */
    async matchList(
      limit = 1,
      authoritative?: boolean | null,
      label?: string | null,
      minSize?: number | null,
      maxSize?: number | null,
      query?: string | null,
    ): Promise<RuntimeMatch[]> {
      const filter = {
        limit,
        ...(opt(authoritative) !== undefined ? { authoritative: authoritative! } : {}),
        ...(opt(label) !== undefined ? { label: label! } : {}),
        ...(opt(minSize) !== undefined ? { minSize: minSize! } : {}),
        ...(opt(maxSize) !== undefined ? { maxSize: maxSize! } : {}),
        ...(opt(query) !== undefined ? { query: query! } : {}),
      };
      checkMatchFilter(filter);
      return (await matches().list(filter)).map(runtimeMatch);
    },
    /** Sends `data` to the match handler's `matchSignal` and returns its answer. */
    async matchSignal(id: string, data: string): Promise<string> {
      if (typeof data !== 'string') throw invalid('Expects signal data to be a string.');
      return matches().signal(matchId(id), data);
    },
  };
}
