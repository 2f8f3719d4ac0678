/**
 * One timer for the clocks of many quiet rooms. Colyseus gives every room a timer of its own: a
 * patch interval, or with `patchRate = null` a 60 Hz clock tick. For session rooms (one per
 * online user, nearly always idle) that was measured at 78% of a core for 10,000 idle sessions
 * (loadtest/idle.ts); one process-wide 1 s timer ticking their clocks costs a small fraction of
 * that and still drives what their clocks run (the flow-control check, once a second).
 */

interface Ticking {
  clock: { tick(): void };
}

/** Stand-in for Colyseus's per-room simulation timer: its presence stops Colyseus making one. */
const NO_TIMER = Object.freeze({});

export class RoomTicker {
  private readonly rooms = new Set<Ticking>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly periodMs = 1000) {}

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
