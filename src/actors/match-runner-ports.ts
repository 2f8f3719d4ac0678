/**
 * How a `MatchRunner` (match-runner.actor.ts) meets the world: the ports a room (or a unit test)
 * gives it — timers, delivery, kicks, the listing label, state patches, the end of the match —
 * and the options that say which handler it runs. Types only.
 */
import type { Logger } from 'pino';
import type { RuntimeInfo } from '../hooks/context.js';
import type { Nakama } from '../hooks/nk.js';
import type { MatchHandler } from '../hooks/types.js';
import type { MatchSend } from './match-members.js';

/** Time and timers; the room passes Node's, tests a fake clock. Both timer kinds return a cancel function. */
export interface MatchTimers {
  now(): number;
  every(ms: number, fn: () => void): () => void;
  after(ms: number, fn: () => void): () => void;
}

/** Why a match ended. */
export type MatchEndReason = 'loop_ended' | 'handler_ended' | 'handler_error' | 'terminated';

export interface MatchRunnerPorts {
  timers: MatchTimers;
  send: MatchSend;
  /** Removes members from the match (their leave follows through `leave`). */
  kick(sessionIds: readonly string[]): void;
  /** The label changed: update the match listing. */
  labelChanged(label: string): void;
  /** Sends state changes to clients now (after each handler call). */
  patch(): void;
  /** The match is over: close it. Called once. */
  ended(reason: MatchEndReason): void;
}

export interface MatchRunnerOptions {
  matchId: string;
  handlerName: string;
  handler: MatchHandler;
  /** The logger the handler gets (its module's). */
  logger: Logger;
  /** The runner's own log (failures, dropped messages). */
  log: Logger;
  nk: Nakama;
  info: RuntimeInfo;
  /** Most messages queued between two ticks; more are dropped and logged (Nakama: 128). */
  inputQueueSize?: number;
  /** Most deferred broadcasts waiting for the end of a tick (Nakama: 128). */
  deferredQueueSize?: number;
}
