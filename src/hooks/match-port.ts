/**
 * What the designer runtime and the API need from the realtime side to create, find and signal
 * matches, without importing rooms: implemented over the Colyseus matchmaker in src/rooms and
 * handed down by the composition root.
 */
import type { MatchmakerStats } from '../services/matchmaker-store.js';
import type { MatchFilter, MatchListing } from '../services/matches.js';

export type { MatchFilter, MatchListing, MatchmakerStats };

export interface MatchPort {
  /** Starts an authoritative match running the handler registered under `handlerName`; returns its id. */
  create(handlerName: string, params: Record<string, unknown>): Promise<string>;
  /** Running matches selected by `filter` (checked with `checkMatchFilter` first). */
  list(filter: MatchFilter): Promise<MatchListing[]>;
  /** A running match, or undefined. */
  get(matchId: string): Promise<MatchListing | undefined>;
  /** Calls the match handler's `matchSignal` with `data` and returns the data it answers. */
  signal(matchId: string, data: string): Promise<string>;
  /** The matchmaker's numbers over every queue of the fleet. */
  matchmakerStats(): Promise<MatchmakerStats>;
}
