/**
 * One timer for the clocks of many quiet rooms. Colyseus gives every room a timer of its own: a
 * patch interval, or with `patchRate = null` a 60 Hz clock tick. For session rooms (one per
 * online user, nearly always idle) that was measured at 78% of a core for 10,000 idle sessions
 * (loadtest/idle.ts); one process-wide timer ticking their clocks every `QUIET_TICK_MS` costs a
 * small fraction of that and still drives what their clocks run (the flow-control check). At a 1 s
 * period, ticking 10,000 idle session rooms was 2.5% of a core in a CPU profile; at 5 s, a fifth.
 */

/** How often the shared ticker ticks the clocks of quiet rooms. */
export const QUIET_TICK_MS = 5000;

interface Ticking {
  clock: { tick(): void };
}

/** Stand-in for Colyseus's per-room simulation timer: its presence stops Colyseus making one. */
const NO_TIMER = Object.freeze({});

export class RoomTicker {
  private readonly rooms = new Set<Ticking>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly periodMs = QUIET_TICK_MS) {}

  /**
   * Call from the room's constructor: Colyseus starts its own per-room timer right after
   * construction unless the room already has a simulation interval.
   */
  static optOut(room: object): void {
    (room as { _simulationInterval?: unknown })._simulationInterval = NO_TIMER;
  }

  add(room: Ticking): void {
    this.rooms.add(room);
    if (this.timer) return;
    this.timer = setInterval(() => {
      for (const r of this.rooms) r.clock.tick();
    }, this.periodMs);
    this.timer.unref();
  }

  remove(room: Ticking): void {
    this.rooms.delete(room);
    if (this.rooms.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
