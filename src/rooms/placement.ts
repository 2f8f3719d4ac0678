/**
 * Where a new room goes in a fleet. A session room stays on the process its client asked (the
 * client connects to it next, and nothing else ever joins it); any other room goes to the least
 * loaded live process. Colyseus's room counts are published at most once a second, so a burst of
 * creations would all land on the process that looked emptiest at the last publish: this adds the
 * rooms this process placed since each count was published, and breaks ties at random.
 */
import { matchMaker } from '@colyseus/core';

export interface LiveProcesses {
  liveProcesses(): Promise<string[]>;
}

export class RoomPlacement {
  /** Rooms this process sent to each process since it last saw that process's count change. */
  private readonly recent = new Map<string, { seenCount: number; placed: number }>();

  constructor(
    private readonly registry: LiveProcesses | undefined,
    private readonly random: () => number = Math.random,
  ) {}

  async place(roomName: string): Promise<string> {
    if (roomName === 'session') return matchMaker.processId;
    const live = this.registry ? new Set(await this.registry.liveProcesses()) : undefined;
    let best: string[] = [];
    let bestLoad = Infinity;
    for (const p of await matchMaker.stats.fetchAll()) {
      if (live && !live.has(p.processId)) continue;
      let r = this.recent.get(p.processId);
      if (!r || r.seenCount !== p.roomCount) this.recent.set(p.processId, (r = { seenCount: p.roomCount, placed: 0 }));
      const load = p.roomCount + r.placed;
      if (load < bestLoad) {
        bestLoad = load;
        best = [p.processId];
      } else if (load === bestLoad) best.push(p.processId);
    }
    if (best.length === 0) return matchMaker.processId;
    const chosen = best[Math.floor(this.random() * best.length)]!;
    this.recent.get(chosen)!.placed++;
    return chosen;
  }
}
