/**
 * Per-client flow control for rooms: a token bucket on incoming messages (a flooder is warned,
 * then dropped) and a cap on data queued for a client that does not read (a slow reader is
 * disconnected, as Nakama does when a session's outgoing queue fills), so one client can neither
 * starve a room nor grow the server's memory.
 */
import type { Client } from '@colyseus/core';

export interface FlowLimits {
  /** Sustained messages per second a client may send (0: no limit). */
  messagesPerSecond: number;
  /** Bytes that may wait in a client's socket buffer before it is disconnected (0: no limit). */
  maxBufferedBytes: number;
}

/** Close codes flow control uses. */
export const CLOSE_FLOOD = 4429;
export const CLOSE_SLOW_READER = 4408;

/** How many warnings a flooding client gets before it is dropped. */
const WARNINGS = 3;

interface Bucket {
  tokens: number;
  at: number;
  warnings: number;
  lastWarning: number;
}

export class FlowControl {
  private readonly buckets = new WeakMap<Client, Bucket>();

  constructor(
    private readonly limits: FlowLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes one message from the client's allowance: 'ok'; 'warn' (over the rate: ignore this
   * message and tell the client); 'ignore' (over the rate, already warned this second); or 'drop'
   * (warned enough: disconnect it).
   */
  take(client: Client): 'ok' | 'warn' | 'ignore' | 'drop' {
    const rate = this.limits.messagesPerSecond;
    if (rate <= 0) return 'ok';
    const now = this.now();
    const burst = rate * 2;
    let b = this.buckets.get(client);
    if (!b) {
      b = { tokens: burst, at: now, warnings: 0, lastWarning: 0 };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 'ok';
    }
    // One warning per second of flooding; after a few, the client goes.
    if (now - b.lastWarning < 1000) return 'ignore';
    b.lastWarning = now;
    b.warnings += 1;
    return b.warnings > WARNINGS ? 'drop' : 'warn';
  }

  /** Whether a client's unsent data is over the cap. */
  overBuffered(client: Client): boolean {
    const cap = this.limits.maxBufferedBytes;
    if (cap <= 0) return false;
    const socket = (client as unknown as { ref?: { bufferedAmount?: number } }).ref;
    return (socket?.bufferedAmount ?? 0) > cap;
  }
}
