/**
 * Ends leaderboard and tournament periods: finds period ends that are due by the injected clock,
 * claims each one with `INSERT … ON CONFLICT DO NOTHING` into `leaderboard_event` (so exactly one
 * process runs its hooks, however many check at once), runs the handlers for the ones it claimed,
 * and drops rank caches of periods that are over. Transport-free: the hooks arrive as a port.
 *
 * Events per board, each at most once:
 * - leaderboard with a reset schedule: `reset` at every reset after the board was created;
 * - tournament: `end` when a period's active window closes (Nakama's end hook), `reset` when the
 *   period expires (the next reset, or the end time).
 * Only the latest due period (and the one before it, for tournaments) is looked at: after a long
 * outage, older missed periods are not replayed. A process that dies between claiming and running
 * the hooks loses that event (at most once).
 */
import { queryOne, query, sql, type Em } from './db.js';
import { tournamentDeadlines } from './leaderboard-periods.js';
import { BOARD_COLUMNS, isTournament, toBoard, type Board, type LeaderboardPorts } from './leaderboards.js';
import { lastReset } from './leaderboard-periods.js';

/** What the scheduler calls for the events it claimed (the designer hooks). */
export interface PeriodHandlers {
  leaderboardReset(board: Board, reset: number): Promise<void>;
  tournamentReset(board: Board, end: number, reset: number): Promise<void>;
  tournamentEnd(board: Board, end: number, reset: number): Promise<void>;
}

export interface PeriodEvent {
  leaderboardId: string;
  kind: 'reset' | 'end';
  /** When the event happened (seconds). */
  at: number;
  /** The period's active end and expiry (tournaments), or the reset time (leaderboards). */
  end: number;
  reset: number;
}

/** The events of one board that are due at `now` (seconds), oldest first. */
export function dueEvents(board: Board, now: number): PeriodEvent[] {
  const out: PeriodEvent[] = [];
  const add = (kind: PeriodEvent['kind'], at: number, end: number, reset: number) => {
    if (at > 0 && at <= now && at > board.createTime && !out.some((e) => e.kind === kind && e.at === at)) {
      out.push({ leaderboardId: board.id, kind, at, end, reset });
    }
  };
  if (!isTournament(board)) {
    if (board.resetSchedule) {
      const r = lastReset(board.resetSchedule, now);
      add('reset', r, r, r);
    }
    return out;
  }
  const deadlines = (t: number) => tournamentDeadlines(board.startTime, board.endTime, board.duration, board.resetSchedule, t);
  const t = board.endTime > 0 && now >= board.endTime ? board.endTime - 1 : now;
  const current = deadlines(t);
  const periods = [current];
  if (board.resetSchedule && current.startActive - 1 >= board.startTime) periods.unshift(deadlines(current.startActive - 1));
  for (const d of periods) {
    add('end', d.endActive, d.endActive, d.expiry);
    add('reset', d.expiry, d.endActive, d.expiry);
  }
  return out.sort((a, b) => a.at - b.at);
}

export interface SchedulerOptions {
  em: () => Em;
  ports: LeaderboardPorts;
  handlers: PeriodHandlers;
  /** How often to look for due events (ms); 0: only when `runDue()` is called. */
  intervalMs: number;
  /** Errors of a timer-driven run (a run called directly throws instead). */
  onError: (err: unknown) => void;
}

export class LeaderboardScheduler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<PeriodEvent[]>;
  /** Events this process already saw claimed, to skip the insert next time (a hint, not the truth). */
  private readonly seen = new Set<string>();

  constructor(private readonly opts: SchedulerOptions) {}

  start(): void {
    if (this.opts.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.runDue().catch(this.opts.onError);
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Runs every due event this process can claim; one run at a time per process. Returns the events it ran. */
  runDue(): Promise<PeriodEvent[]> {
    const run = (this.running ?? Promise.resolve([])).catch(() => []).then(() => this.runOnce());
    this.running = run;
    return run;
  }

  private async runOnce(): Promise<PeriodEvent[]> {
    const now = Math.floor(this.opts.ports.clock.now() / 1000);
    const em = this.opts.em();
    await this.opts.ports.ranks.dropExpired(now);
    const rows = await query<Parameters<typeof toBoard>[0]>(
      em,
      sql`select ${BOARD_COLUMNS} from leaderboard where reset_schedule is not null or duration > 0`,
    );
    const ran: PeriodEvent[] = [];
    for (const board of rows.map(toBoard)) {
      for (const event of dueEvents(board, now)) {
        const id = `${event.leaderboardId}\u0000${event.kind}\u0000${event.at}`;
        if (this.seen.has(id)) continue;
        const claimed = await claim(em, event);
        this.seen.add(id);
        if (!claimed) continue;
        await this.fire(board, event);
        ran.push(event);
      }
    }
    if (this.seen.size > 10_000) this.seen.clear();
    return ran;
  }

  private async fire(board: Board, e: PeriodEvent): Promise<void> {
    const h = this.opts.handlers;
    if (!isTournament(board)) await h.leaderboardReset(board, e.reset);
    else if (e.kind === 'end') await h.tournamentEnd(board, e.end, e.reset);
    else await h.tournamentReset(board, e.end, e.reset);
  }
}

/** Claims an event for this process: true for exactly one of any number of concurrent callers. */
export async function claim(em: Em, e: Pick<PeriodEvent, 'leaderboardId' | 'kind' | 'at'>): Promise<boolean> {
  const row = await queryOne(
    em,
    sql`insert into leaderboard_event (leaderboard_id, kind, at) values (${e.leaderboardId}, ${e.kind}, ${e.at})
        on conflict do nothing returning at`,
  );
  return row !== undefined;
}
