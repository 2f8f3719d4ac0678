/** The example arena's simulation (modules/arena/sim.ts) and settings: pure functions, no server. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SETTINGS, settingsFromEnv } from '../../modules/arena/settings.js';
import {
  DEFAULT_LAYOUT,
  MAX_STEP_SEC,
  PLAYER_RADIUS,
  SPEED,
  circleHitsRect,
  clearPath,
  collect,
  moveBody,
  normalizeInput,
  pickColor,
  rankResults,
  resolveWalls,
  separate,
  spawnPoint,
  steer,
  step,
  type Layout,
} from '../../modules/arena/sim.js';

const open: Layout = { width: 400, height: 300, walls: [] };
const walled: Layout = { width: 400, height: 300, walls: [{ x: 100, y: 100, w: 50, h: 50 }] };

/** A seeded generator (mulberry32), so spawn tests are repeatable. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('input is clamped to a unit vector; garbage becomes zero', () => {
  assert.deepEqual(normalizeInput({ x: 0.5, y: 0 }), { x: 0.5, y: 0 });
  const diag = normalizeInput({ x: 1, y: 1 });
  assert.ok(Math.abs(Math.hypot(diag.x, diag.y) - 1) < 1e-9);
  assert.deepEqual(normalizeInput({ x: Number.NaN, y: Infinity }), { x: 0, y: 0 });
});

test('a body moves SPEED px/s along its input; a long stall is capped', () => {
  const p = moveBody({ id: 'a', x: 200, y: 150, input: { x: 1, y: 0 } }, 0.05, open);
  assert.ok(Math.abs(p.x - (200 + SPEED * 0.05)) < 1e-9);
  assert.equal(p.y, 150);
  const far = moveBody({ id: 'a', x: 100, y: 150, input: { x: 1, y: 0 } }, 5, open);
  assert.ok(Math.abs(far.x - (100 + SPEED * MAX_STEP_SEC)) < 1e-9);
  const still = moveBody({ id: 'a', x: 100, y: 150, input: { x: 0, y: 0 } }, 0.05, open);
  assert.deepEqual(still, { x: 100, y: 150 });
});

test('the arena bounds keep bodies inside', () => {
  const p = moveBody({ id: 'a', x: 390, y: 5, input: { x: 1, y: -1 } }, 0.1, open);
  assert.equal(p.x, open.width - PLAYER_RADIUS);
  assert.equal(p.y, PLAYER_RADIUS);
});

test('walls stop bodies and let them slide along', () => {
  // Heading right into the wall's left side: stops at its edge, keeps moving down.
  const start = { id: 'a', x: 100 - PLAYER_RADIUS - 2, y: 120, input: { x: 1, y: 1 } };
  let pos = { x: start.x, y: start.y };
  for (let i = 0; i < 3; i++) pos = moveBody({ ...start, ...pos }, 0.05, walled);
  assert.ok(!circleHitsRect(pos, PLAYER_RADIUS - 1e-6, walled.walls[0]!), `inside the wall at ${JSON.stringify(pos)}`);
  assert.ok(pos.x <= 100 - PLAYER_RADIUS + 1e-6);
  assert.ok(pos.y > 120, 'slid along the wall');
  // A centre that ends up inside a wall leaves by the nearest side.
  const out = resolveWalls({ x: 105, y: 125 }, PLAYER_RADIUS, walled);
  assert.equal(out.x, 100 - PLAYER_RADIUS);
  assert.equal(out.y, 125);
});

test('overlapping players are pushed apart, even when exactly on top of each other', () => {
  const apart = separate(
    new Map([
      ['a', { x: 200, y: 150 }],
      ['b', { x: 210, y: 150 }],
    ]),
    open,
  );
  const a = apart.get('a')!;
  const b = apart.get('b')!;
  assert.ok(Math.abs(Math.hypot(b.x - a.x, b.y - a.y) - PLAYER_RADIUS * 2) < 1e-9);
  assert.ok(Math.abs((a.x + b.x) / 2 - 205) < 1e-9, 'each moved by half the overlap');

  const stacked = separate(
    new Map([
      ['b', { x: 200, y: 150 }],
      ['a', { x: 200, y: 150 }],
    ]),
    open,
  );
  assert.ok(stacked.get('a')!.x < stacked.get('b')!.x);
  assert.ok(Math.abs(stacked.get('b')!.x - stacked.get('a')!.x - PLAYER_RADIUS * 2) < 1e-9);

  const far = new Map([
    ['a', { x: 50, y: 50 }],
    ['b', { x: 300, y: 200 }],
  ]);
  assert.deepEqual(separate(far, open), far);
});

test('a coin goes to the nearest player touching it, once', () => {
  const positions = new Map([
    ['a', { x: 100, y: 100 }],
    ['b', { x: 120, y: 100 }],
  ]);
  const pickups = collect(positions, [
    { id: 'c1', x: 115, y: 100, value: 1 },
    { id: 'c2', x: 300, y: 200, value: 3 },
  ]);
  assert.deepEqual(pickups, [{ playerId: 'b', coinId: 'c1', value: 1 }]);
});

test('step moves, separates and collects in one go', () => {
  const r = step(
    open,
    [
      { id: 'a', x: 100, y: 100, input: { x: 1, y: 0 } },
      { id: 'b', x: 300, y: 100, input: { x: 0, y: 0 } },
    ],
    [{ id: 'c', x: 100 + SPEED * 0.05 + 10, y: 100, value: 1 }],
    0.05,
  );
  assert.equal(r.positions.get('a')!.x, 100 + SPEED * 0.05);
  assert.deepEqual(r.positions.get('b'), { x: 300, y: 100 });
  assert.deepEqual(r.pickups, [{ playerId: 'a', coinId: 'c', value: 1 }]);
});

test('spawn points are inside, clear of walls and away from what is taken', () => {
  const random = rng(42);
  const taken = [{ x: 200, y: 150 }];
  for (let i = 0; i < 200; i++) {
    const p = spawnPoint(DEFAULT_LAYOUT, PLAYER_RADIUS, taken, 60, random);
    assert.ok(p.x >= PLAYER_RADIUS && p.x <= DEFAULT_LAYOUT.width - PLAYER_RADIUS);
    assert.ok(p.y >= PLAYER_RADIUS && p.y <= DEFAULT_LAYOUT.height - PLAYER_RADIUS);
    for (const w of DEFAULT_LAYOUT.walls) assert.ok(!circleHitsRect(p, PLAYER_RADIUS, w));
    assert.ok(Math.hypot(p.x - 200, p.y - 150) >= 60);
  }
  // No free spot far enough: still somewhere clear of walls.
  const crowded = spawnPoint(walled, PLAYER_RADIUS, [{ x: 200, y: 150 }], 10_000, rng(1));
  assert.ok(!circleHitsRect(crowded, PLAYER_RADIUS, walled.walls[0]!));
});

test('clearPath sees walls in the way; steer points at the target', () => {
  assert.equal(clearPath({ x: 50, y: 125 }, { x: 250, y: 125 }, PLAYER_RADIUS, walled), false);
  assert.equal(clearPath({ x: 50, y: 30 }, { x: 250, y: 30 }, PLAYER_RADIUS, walled), true);
  assert.deepEqual(steer({ x: 0, y: 0 }, { x: 0, y: 10 }), { x: 0, y: 1 });
  assert.deepEqual(steer({ x: 5, y: 5 }, { x: 5.5, y: 5 }), { x: 0, y: 0 });
});

test('results: best first, ties share a rank', () => {
  const ranked = rankResults([
    { sessionId: 's1', userId: 'u1', name: 'cleo', score: 2 },
    { sessionId: 's2', userId: 'u2', name: 'abe', score: 5 },
    { sessionId: 's3', userId: 'u3', name: 'bea', score: 2 },
    { sessionId: 's4', userId: 'u4', name: 'dan', score: 0 },
  ]);
  assert.deepEqual(
    ranked.map((r) => [r.name, r.rank]),
    [
      ['abe', 1],
      ['bea', 2],
      ['cleo', 2],
      ['dan', 4],
    ],
  );
  assert.deepEqual(rankResults([]), []);
});

test('colours: the first unused, then the least used', () => {
  assert.equal(pickColor(['r', 'g', 'b'], []), 'r');
  assert.equal(pickColor(['r', 'g', 'b'], ['r', 'b']), 'g');
  assert.equal(pickColor(['r', 'g'], ['r', 'g', 'r']), 'g');
});

test('settings come from ctx.env with defaults, and bad values name the variable', () => {
  assert.deepEqual(settingsFromEnv({}), DEFAULT_SETTINGS);
  const s = settingsFromEnv({ ARENA_ROUND_SECONDS: '3', ARENA_BREAK_SECONDS: '0', ARENA_COINS: '10', ARENA_LEADERBOARD: 'arena_test' });
  assert.equal(s.roundSeconds, 3);
  assert.equal(s.breakSeconds, 0);
  assert.equal(s.coins, 10);
  assert.equal(s.leaderboard, 'arena_test');
  assert.throws(() => settingsFromEnv({ ARENA_ROUND_SECONDS: '0' }), /ARENA_ROUND_SECONDS/);
  assert.throws(() => settingsFromEnv({ ARENA_COINS: '2.5' }), /ARENA_COINS/);
  assert.throws(() => settingsFromEnv({ ARENA_LEADERBOARD: 'no spaces' }), /ARENA_LEADERBOARD/);
});
