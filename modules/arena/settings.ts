/**
 * The arena's settings, read from the module's `ctx.env` (TAVERN_RUNTIME_ENV, a JSON object of
 * strings): `TAVERN_RUNTIME_ENV='{"ARENA_ROUND_SECONDS":"30"}' npm run dev`. A value that is not a
 * whole number in range stops the module from loading, naming the variable.
 */

export interface ArenaSettings {
  /** Length of a round (ARENA_ROUND_SECONDS, default 60). */
  roundSeconds: number;
  /** Pause between a round's results and the next round (ARENA_BREAK_SECONDS, default 5). */
  breakSeconds: number;
  /** Coins on the field at any time (ARENA_COINS, default 6). */
  coins: number;
  /** Players per room (ARENA_MAX_PLAYERS, default 8). */
  maxPlayers: number;
  /** The leaderboard round scores go to (ARENA_LEADERBOARD, default `arena`): best score per player. */
  leaderboard: string;
}

export const DEFAULT_SETTINGS: ArenaSettings = Object.freeze({
  roundSeconds: 60,
  breakSeconds: 5,
  coins: 6,
  maxPlayers: 8,
  leaderboard: 'arena',
});

function whole(env: Readonly<Record<string, string>>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

export function settingsFromEnv(env: Readonly<Record<string, string>>): ArenaSettings {
  const leaderboard = env.ARENA_LEADERBOARD?.trim() || DEFAULT_SETTINGS.leaderboard;
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(leaderboard)) throw new Error(`ARENA_LEADERBOARD must be 1-128 letters, digits, _ . or -`);
  return Object.freeze({
    roundSeconds: whole(env, 'ARENA_ROUND_SECONDS', DEFAULT_SETTINGS.roundSeconds, 1, 3600),
    breakSeconds: whole(env, 'ARENA_BREAK_SECONDS', DEFAULT_SETTINGS.breakSeconds, 0, 600),
    coins: whole(env, 'ARENA_COINS', DEFAULT_SETTINGS.coins, 1, 50),
    maxPlayers: whole(env, 'ARENA_MAX_PLAYERS', DEFAULT_SETTINGS.maxPlayers, 1, 32),
    leaderboard,
  });
}
