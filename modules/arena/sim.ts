/**
 * The arena's simulation, as pure functions over plain values: movement, walls and bounds,
 * player–player collision, coin pickups, spawn points and round results. Nothing here knows about
 * rooms, clients or schema state: the room feeds it numbers and applies what it returns, and the
 * unit tests (test/modules/arena-sim.test.ts) call it directly.
 */

export interface Vec {
  x: number;
  y: number;
}

/** An axis-aligned wall: top-left corner, width and height. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Layout {
  width: number;
  height: number;
  walls: readonly Rect[];
}

/** A player as the simulation sees it: where it is and which way its owner pushes the stick. */
export interface Body extends Vec {
  id: string;
  input: Vec;
}

export interface Coin extends Vec {
  id: string;
  value: number;
}

export interface Pickup {
  playerId: string;
  coinId: string;
  value: number;
}

export interface StepResult {
  /** The new position of every body, by id. */
  positions: Map<string, Vec>;
  /** Coins taken this step (each coin at most once, by the nearest player touching it). */
  pickups: Pickup[];
}

export const PLAYER_RADIUS = 16;
export const COIN_RADIUS = 9;
/** Pixels per second at full stick. */
export const SPEED = 220;
/** The longest step the simulation takes: a stalled timer must not let players jump through walls. */
export const MAX_STEP_SEC = 0.1;

/** The default map: 800×600 with four pillars and a bar in the middle. */
export const DEFAULT_LAYOUT: Layout = {
  width: 800,
  height: 600,
  walls: [
    { x: 170, y: 120, w: 80, h: 80 },
    { x: 550, y: 120, w: 80, h: 80 },
    { x: 170, y: 400, w: 80, h: 80 },
    { x: 550, y: 400, w: 80, h: 80 },
    { x: 340, y: 285, w: 120, h: 30 },
  ],
};

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** A stick direction: NaN and infinities become 0, anything longer than 1 is scaled down to length 1. */
export function normalizeInput(input: Vec): Vec {
  const x = Number.isFinite(input.x) ? input.x : 0;
  const y = Number.isFinite(input.y) ? input.y : 0;
  const len = Math.hypot(x, y);
  return len > 1 ? { x: x / len, y: y / len } : { x, y };
}

/** The point of `rect` nearest to `p`. */
function nearestOnRect(p: Vec, rect: Rect): Vec {
  return { x: clamp(p.x, rect.x, rect.x + rect.w), y: clamp(p.y, rect.y, rect.y + rect.h) };
}

/** True when a circle at `p` of radius `r` overlaps `rect`. */
export function circleHitsRect(p: Vec, r: number, rect: Rect): boolean {
  const n = nearestOnRect(p, rect);
  return (p.x - n.x) ** 2 + (p.y - n.y) ** 2 < r * r;
}

/** Pushes a circle out of one wall along the shortest way out (so a player slides along walls). */
function pushOutOfRect(p: Vec, r: number, rect: Rect): Vec {
  const n = nearestOnRect(p, rect);
  const dx = p.x - n.x;
  const dy = p.y - n.y;
  const d2 = dx * dx + dy * dy;
  if (d2 >= r * r) return p;
  if (d2 > 0) {
    const d = Math.sqrt(d2);
    return { x: n.x + (dx / d) * r, y: n.y + (dy / d) * r };
  }
  // The centre is inside the wall: leave by the nearest side.
  const exits = [
    { d: p.x - rect.x, to: { x: rect.x - r, y: p.y } },
    { d: rect.x + rect.w - p.x, to: { x: rect.x + rect.w + r, y: p.y } },
    { d: p.y - rect.y, to: { x: p.x, y: rect.y - r } },
    { d: rect.y + rect.h - p.y, to: { x: p.x, y: rect.y + rect.h + r } },
  ];
  exits.sort((a, b) => a.d - b.d);
  return exits[0]!.to;
}

/** Moves a circle out of every wall and back inside the arena. */
export function resolveWalls(p: Vec, r: number, layout: Layout): Vec {
  let q = p;
  // Two passes settle a circle wedged between a wall and another wall or the border.
  for (let pass = 0; pass < 2; pass++) {
    for (const wall of layout.walls) q = pushOutOfRect(q, r, wall);
    q = { x: clamp(q.x, r, layout.width - r), y: clamp(q.y, r, layout.height - r) };
  }
  return q;
}

/** Where a body would go in `dt` seconds with its input, before meeting other players. */
export function moveBody(body: Body, dt: number, layout: Layout): Vec {
  const dir = normalizeInput(body.input);
  const step = SPEED * clamp(dt, 0, MAX_STEP_SEC);
  return resolveWalls({ x: body.x + dir.x * step, y: body.y + dir.y * step }, PLAYER_RADIUS, layout);
}

/** Pushes overlapping players apart, each by half the overlap (ties broken by id, so it is deterministic). */
export function separate(positions: Map<string, Vec>, layout: Layout): Map<string, Vec> {
  const ids = [...positions.keys()].sort();
  const out = new Map(ids.map((id) => [id, { ...positions.get(id)! }]));
  const min = PLAYER_RADIUS * 2;
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const a = out.get(ids[i]!)!;
      const b = out.get(ids[j]!)!;
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const d = Math.hypot(dx, dy);
      if (d >= min) continue;
      // Exactly on top of each other: split along x.
      const ux = d > 0 ? dx / d : 1;
      const uy = d > 0 ? dy / d : 0;
      const push = (min - d) / 2;
      out.set(ids[i]!, resolveWalls({ x: a.x - ux * push, y: a.y - uy * push }, PLAYER_RADIUS, layout));
      out.set(ids[j]!, resolveWalls({ x: b.x + ux * push, y: b.y + uy * push }, PLAYER_RADIUS, layout));
    }
  }
  return out;
}

/** Which coins are taken: a coin goes to the nearest player touching it. */
export function collect(positions: Map<string, Vec>, coins: readonly Coin[]): Pickup[] {
  const reach = PLAYER_RADIUS + COIN_RADIUS;
  const pickups: Pickup[] = [];
  for (const coin of coins) {
    let best: { id: string; d: number } | undefined;
    for (const [id, p] of positions) {
      const d = Math.hypot(p.x - coin.x, p.y - coin.y);
      if (d <= reach && (!best || d < best.d || (d === best.d && id < best.id))) best = { id, d };
    }
    if (best) pickups.push({ playerId: best.id, coinId: coin.id, value: coin.value });
  }
  return pickups;
}

/** One simulation step of `dt` seconds: move, collide with walls and each other, pick up coins. */
export function step(layout: Layout, bodies: readonly Body[], coins: readonly Coin[], dt: number): StepResult {
  const moved = new Map(bodies.map((b) => [b.id, moveBody(b, dt, layout)] as const));
  const positions = separate(moved, layout);
  return { positions, pickups: collect(positions, coins) };
}

/**
 * A random free spot for something of radius `r`: inside the arena, clear of walls and at least
 * `gap` away from the `taken` points. After `tries` misses it settles for a spot clear of walls only.
 */
export function spawnPoint(layout: Layout, r: number, taken: readonly Vec[], gap: number, rng: () => number, tries = 100): Vec {
  let fallback: Vec | undefined;
  for (let i = 0; i < tries; i++) {
    const p = { x: r + rng() * (layout.width - 2 * r), y: r + rng() * (layout.height - 2 * r) };
    if (layout.walls.some((w) => circleHitsRect(p, r + 2, w))) continue;
    fallback ??= p;
    if (taken.every((t) => Math.hypot(t.x - p.x, t.y - p.y) >= gap)) return p;
  }
  return fallback ?? resolveWalls({ x: layout.width / 2, y: layout.height / 2 }, r, layout);
}

/** True when a circle of radius `r` can travel straight from `a` to `b` without touching a wall. */
export function clearPath(a: Vec, b: Vec, r: number, layout: Layout): boolean {
  const d = Math.hypot(b.x - a.x, b.y - a.y);
  const steps = Math.max(1, Math.ceil(d / (r / 2)));
  for (let i = 0; i <= steps; i++) {
    const p = { x: a.x + ((b.x - a.x) * i) / steps, y: a.y + ((b.y - a.y) * i) / steps };
    if (layout.walls.some((w) => circleHitsRect(p, r, w))) return false;
  }
  return true;
}

/** The unit direction from `from` to `to` (zero when already there). */
export function steer(from: Vec, to: Vec): Vec {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const d = Math.hypot(dx, dy);
  return d < 1 ? { x: 0, y: 0 } : { x: dx / d, y: dy / d };
}

export interface Standing {
  sessionId: string;
  userId: string;
  name: string;
  score: number;
}

export type RankedStanding = Standing & { rank: number };

/** Results, best score first (then by name); equal scores share a rank (1, 2, 2, 4). */
export function rankResults(standings: readonly Standing[]): RankedStanding[] {
  const sorted = [...standings].sort((a, b) => b.score - a.score || a.name.localeCompare(b.name) || a.sessionId.localeCompare(b.sessionId));
  let rank = 0;
  return sorted.map((s, i) => {
    if (i === 0 || sorted[i - 1]!.score !== s.score) rank = i + 1;
    return { ...s, rank };
  });
}

/** The first colour of `palette` nobody uses yet (or the least used one). */
export function pickColor(palette: readonly string[], used: readonly string[]): string {
  let best = palette[0]!;
  let bestCount = Infinity;
  for (const c of palette) {
    const n = used.filter((u) => u === c).length;
    if (n < bestCount) {
      best = c;
      bestCount = n;
    }
  }
  return best;
}
