/**
 * The `dispatcher` a match handler gets (Nakama's `MatchDispatcher`, plus `view`): builds
 * `match_data` messages, sends them now or at the end of the tick, kicks, updates the label.
 * It knows the match only through `DispatcherHost`, which the runner implements.
 */
import type { StateView } from '@colyseus/schema';
import { AppError, Code, invalid } from '../errors.js';
import type { MatchDispatcher, Presence } from '../hooks/types.js';
import { MAX_LABEL_BYTES } from '../services/matches.js';
import { wirePresence } from './match-members.js';

/** A `match_data` message and its recipients (undefined: every member). */
export interface Outgoing {
  message: unknown;
  to: readonly string[] | undefined;
}

export interface DispatcherHost {
  readonly matchId: string;
  isRunning(): boolean;
  isMember(sessionId: string): boolean;
  deliver(o: Outgoing): void;
  /** Queues a message for the end of the tick; false when the queue is full. */
  defer(o: Outgoing): boolean;
  kick(sessionIds: readonly string[]): void;
  relabel(label: string): void;
  viewOf(sessionId: string): StateView | undefined;
}

export function createDispatcher(host: DispatcherHost): MatchDispatcher {
  const members = (presences: readonly Presence[]): string[] =>
    [...new Set(presences.map((p) => p?.sessionId))].filter((sid): sid is string => typeof sid === 'string' && host.isMember(sid));

  const outgoing = (opCode: unknown, data: unknown, presences: unknown, sender: unknown, reliable: unknown): Outgoing => {
    if (typeof opCode !== 'number' || !Number.isSafeInteger(opCode)) throw invalid('opCode must be an integer.');
    const from = sender as Presence | null | undefined;
    const message = {
      match_id: host.matchId,
      ...(from && typeof from.sessionId === 'string' ? { presence: wirePresence(from) } : {}),
      op_code: opCode,
      data: base64(data),
      reliable: reliable !== false,
    };
    if (presences === null || presences === undefined) return { message, to: undefined };
    if (!Array.isArray(presences)) throw invalid('presences must be an array of presences.');
    return { message, to: members(presences as Presence[]) };
  };

  return {
    broadcastMessage(opCode, data, presences, sender, reliable) {
      if (host.isRunning()) host.deliver(outgoing(opCode, data, presences, sender, reliable));
    },
    broadcastMessageDeferred(opCode, data, presences, sender, reliable) {
      if (!host.isRunning()) return;
      if (!host.defer(outgoing(opCode, data, presences, sender, reliable))) {
        throw new AppError(Code.RESOURCE_EXHAUSTED, 'Deferred message queue is full.');
      }
    },
    matchKick(presences) {
      if (!host.isRunning() || !Array.isArray(presences)) return;
      const ids = members(presences);
      if (ids.length > 0) host.kick(ids);
    },
    matchLabelUpdate(label) {
      if (host.isRunning()) host.relabel(checkLabel(label));
    },
    view(presence) {
      return typeof presence?.sessionId === 'string' ? host.viewOf(presence.sessionId) : undefined;
    },
  };
}

/** A label must be a string of at most 2048 bytes. */
export function checkLabel(label: unknown): string {
  if (typeof label !== 'string') throw invalid('Match label must be a string.');
  if (Buffer.byteLength(label, 'utf8') > MAX_LABEL_BYTES) throw invalid(`Match label must be at most ${MAX_LABEL_BYTES} bytes.`);
  return label;
}

/** Message data as base64: strings are sent as their UTF-8 bytes, as Nakama does. */
function base64(data: unknown): string {
  if (data === null || data === undefined) return '';
  if (typeof data === 'string') return Buffer.from(data, 'utf8').toString('base64');
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('base64');
  throw invalid('Message data must be a string or bytes.');
}
