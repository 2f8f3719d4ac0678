/**
 * Example game: a real-time top-down arena. Players steer with `input` { x, y } (a direction,
 * each axis from -1 to 1), pick up coins for points, bump into walls and each other; the server
 * simulates 20 times a second and every client sees the result through the room's schema state.
 * A round lasts ARENA_ROUND_SECONDS (60); at its end every player's score goes to the `arena`
 * leaderboard (best score per player), everyone gets `round_end` with the results, and after
 * ARENA_BREAK_SECONDS (5) a new round starts. Play it at http://localhost:7350/play/ (`npm run dev`).
 *
 * Clients: `client.joinOrCreate('arena', { mode: 'casual' })` with `client.auth.token` set to a
 * session token; rooms are matched by `mode`. The rules live in ./arena/sim.ts (pure functions),
 * the synchronised state in ./arena/state.ts, the settings in ./arena/settings.ts.
 */
import type { Client } from '@colyseus/core';
import { GameRoom, z, type ClientAuth } from 'tavern';
import type * as nkruntime from 'tavern';
import { settingsFromEnv, DEFAULT_SETTINGS, type ArenaSettings } from './arena/settings.js';
import { DEFAULT_LAYOUT, COIN_RADIUS, PLAYER_RADIUS, pickColor, rankResults, spawnPoint, step, type Body, type Vec } from './arena/sim.js';
import { ArenaCoin, ArenaPlayer, ArenaState, ArenaWall } from './arena/state.js';

const TICK_MS = 50; // 20 Hz
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45'];

/** A stick direction; anything else is answered with an `error` message. */
const Input = z.object({ x: z.number().min(-1).max(1), y: z.number().min(-1).max(1) });
/** Join options: `mode` picks which rooms you are matched with. */
const JoinOptions = z.object({
  mode: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/)
    .default('casual'),
});

/** One line of the `round_end` results. */
export interface RoundResult {
  sessionId: string;
  userId: string;
  name: string;
  score: number;
  rank: number;
}

/** The `round_end` message. */
export interface RoundEnd {
  round: number;
  results: RoundResult[];
  /** Seconds until the next round starts. */
  nextRoundIn: number;
  /** Where the scores went (`GET /v2/leaderboard/<id>`). */
  leaderboard: string;
}

export class ArenaRoom extends GameRoom<ArenaState> {
  /** Replaced by `InitModule` with the settings from `ctx.env`. */
  static settings: ArenaSettings = DEFAULT_SETTINGS;

  private readonly layout = DEFAULT_LAYOUT;
  /** Each player's stick, by session id (`inputs` is taken: Colyseus 0.18 rooms have an input API by that name). */
  private readonly sticks = new Map<string, Vec>();
  private readonly users = new Map<string, { userId: string; username: string }>();
  private remainingMs = 0;
  private coinSeq = 0;
  private disposed = false;

  private get settings(): ArenaSettings {
    return (this.constructor as typeof ArenaRoom).settings;
  }

  override onCreate(options: unknown): void {
    const { mode } = JoinOptions.parse(options ?? {});
    this.maxClients = this.settings.maxPlayers;
    this.patchRate = TICK_MS;
    this.state = new ArenaState({ width: this.layout.width, height: this.layout.height, round: 0, phase: 'results', timeLeft: 0 });
    for (const w of this.layout.walls) this.state.walls.push(new ArenaWall(w));
    this.setMetadata({ mode }).catch((err: unknown) => this.logger.warn({ err }, 'arena: setting metadata failed'));

    this.handle('input', Input, (client, dir) => {
      this.sticks.set(client.sessionId, dir);
    });

    this.startRound();
    // The game loop (Colyseus 0.18's name for setSimulationInterval): dt is the measured time since the last tick.
    this.setTimestep((dt) => this.tick(dt), TICK_MS);
  }

  override onJoin(client: Client): void {
    const auth = client.auth as ClientAuth;
    this.users.set(client.sessionId, { userId: auth.userId, username: auth.username });
    const spot = spawnPoint(this.layout, PLAYER_RADIUS, this.occupied(), PLAYER_RADIUS * 3, Math.random);
    const used = [...this.state.players.values()].map((p) => p.color);
    this.state.players.set(
      client.sessionId,
      new ArenaPlayer({ name: auth.username, x: spot.x, y: spot.y, score: 0, color: pickColor(PALETTE, used) }),
    );
    this.logger.info({ userId: auth.userId, players: this.state.players.size }, 'arena: player joined');
  }

  /** A dropped player stands still while Tavern holds their seat for a reconnection. */
  override onDrop(client: Client): void {
    this.sticks.delete(client.sessionId);
    super.onDrop(client);
  }

  override onLeave(client: Client): void {
    const player = this.state.players.get(client.sessionId);
    const user = this.users.get(client.sessionId);
    // A player leaving mid-round keeps what they scored.
    if (player && user && player.score > 0 && this.state.phase === 'playing') {
      void this.record([{ sessionId: client.sessionId, userId: user.userId, name: player.name, score: player.score, rank: 0 }]);
    }
    this.state.players.delete(client.sessionId);
    this.sticks.delete(client.sessionId);
    this.users.delete(client.sessionId);
  }

  override onDispose(): void {
    this.disposed = true;
  }

  private tick(dtMs: number): void {
    if (this.state.phase !== 'playing') return;
    this.remainingMs -= dtMs;
    const left = Math.max(0, Math.ceil(this.remainingMs / 1000));
    if (this.state.timeLeft !== left) this.state.timeLeft = left;
    if (this.remainingMs <= 0) {
      this.endRound().catch((err: unknown) => this.logger.error({ err }, 'arena: ending the round failed'));
      return;
    }

    const bodies: Body[] = [];
    for (const [id, p] of this.state.players) bodies.push({ id, x: p.x, y: p.y, input: this.sticks.get(id) ?? { x: 0, y: 0 } });
    const coins = [...this.state.coins].map(([id, c]) => ({ id, x: c.x, y: c.y, value: c.value }));
    const { positions, pickups } = step(this.layout, bodies, coins, dtMs / 1000);

    for (const [id, pos] of positions) {
      const p = this.state.players.get(id);
      if (!p) continue;
      if (p.x !== pos.x) p.x = pos.x;
      if (p.y !== pos.y) p.y = pos.y;
    }
    for (const pick of pickups) {
      const p = this.state.players.get(pick.playerId);
      if (p) p.score += pick.value;
      this.state.coins.delete(pick.coinId);
    }
    this.fillCoins();
  }

  private startRound(): void {
    this.state.round += 1;
    this.state.coins.clear();
    for (const [, p] of this.state.players) p.score = 0;
    this.fillCoins();
    this.remainingMs = this.settings.roundSeconds * 1000;
    this.state.timeLeft = this.settings.roundSeconds;
    this.state.phase = 'playing';
  }

  private async endRound(): Promise<void> {
    this.state.phase = 'results';
    this.state.timeLeft = 0;
    const round = this.state.round;
    const results = rankResults(
      [...this.state.players].map(([sessionId, p]) => ({
        sessionId,
        userId: this.users.get(sessionId)?.userId ?? '',
        name: p.name,
        score: p.score,
      })),
    );
    await this.record(results);
    if (this.disposed) return;
    const message: RoundEnd = { round, results, nextRoundIn: this.settings.breakSeconds, leaderboard: this.settings.leaderboard };
    this.broadcast('round_end', message);
    this.logger.info({ round, players: results.length, best: results[0]?.score ?? 0 }, 'arena: round over');
    this.clock.setTimeout(() => this.startRound(), this.settings.breakSeconds * 1000);
  }

  /** Writes scores to the leaderboard (the board keeps each player's best); failures are logged, never thrown. */
  private async record(results: readonly RoundResult[]): Promise<void> {
    const round = this.state.round;
    const outcomes = await Promise.allSettled(
      results
        .filter((r) => r.userId !== '')
        .map((r) => this.nk.leaderboardRecordWrite(this.settings.leaderboard, r.userId, r.name, r.score, 0, { round })),
    );
    for (const o of outcomes) if (o.status === 'rejected') this.logger.error({ err: o.reason }, 'arena: writing a score failed');
  }

  /** Tops the field up to the configured number of coins, away from players and other coins. */
  private fillCoins(): void {
    while (this.state.coins.size < this.settings.coins) {
      const spot = spawnPoint(this.layout, COIN_RADIUS, this.occupied(), PLAYER_RADIUS * 3, Math.random);
      // One coin in eight is a gem worth three.
      const value = Math.random() < 1 / 8 ? 3 : 1;
      this.state.coins.set(String(++this.coinSeq), new ArenaCoin({ x: spot.x, y: spot.y, value }));
    }
  }

  private occupied(): Vec[] {
    const spots: Vec[] = [];
    for (const [, p] of this.state.players) spots.push({ x: p.x, y: p.y });
    for (const [, c] of this.state.coins) spots.push({ x: c.x, y: c.y });
    return spots;
  }
}

export const InitModule: nkruntime.InitModule = async (ctx, logger, nk, initializer) => {
  const settings = settingsFromEnv(ctx.env);
  // Authoritative: only the server writes scores. `best` keeps each player's best round.
  await nk.leaderboardCreate(settings.leaderboard, true, 'descending', 'best', null, { game: 'arena' });
  initializer.registerRoom(
    'arena',
    class Arena extends ArenaRoom {
      static override settings = settings;
    },
    { filterBy: ['mode'] },
  );
  logger.info({ ...settings }, 'arena registered');
};
