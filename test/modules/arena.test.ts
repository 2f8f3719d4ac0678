/**
 * The example arena (modules/arena.ts) on a real server with the repo's modules folder: two SDK
 * clients play short rounds (4 s), move, collect coins, get `round_end`, and find their scores on
 * the leaderboard over HTTP; bad input gets an `error` message and the room goes on.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Room as ColyseusRoom } from '@colyseus/core';
import { MatchMakeError, type Room } from '@colyseus/sdk';
import { clearPath, PLAYER_RADIUS, steer, type Layout, type Vec } from '../../modules/arena/sim.js';
import { eventually, inbox, sdk } from '../support/realtime.js';
import { http, newDevice, startTestServer, type TestServer } from '../support/server.js';
import { decodeJwt } from '../support/wire.js';

const MODULES = path.join(import.meta.dirname, '..', '..', 'modules');
const ROUND_SECONDS = 4;

let s: TestServer;
before(async () => {
  s = await startTestServer({
    runtimePath: MODULES,
    runtimeEnv: JSON.stringify({ ARENA_ROUND_SECONDS: String(ROUND_SECONDS), ARENA_BREAK_SECONDS: '1', ARENA_COINS: '10' }),
  });
});
after(async () => {
  await s?.stop();
});

const uniqueMode = () => `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/** The arena's map, as the room sent it. */
function layoutOf(room: Room<any, any>): Layout {
  const walls: { x: number; y: number; w: number; h: number }[] = [];
  room.state.walls.forEach((w: any) => walls.push({ x: w.x, y: w.y, w: w.w, h: w.h }));
  return { width: room.state.width, height: room.state.height, walls };
}

function positionOf(room: Room<any, any>, sessionId: string): Vec {
  const p = room.state.players.get(sessionId);
  assert.ok(p, `player ${sessionId} is not in the state yet`);
  return { x: p.x, y: p.y };
}

/** Steers a client to the nearest coin it can reach in a straight line, 20 times a second. */
function coinBot(room: Room<any, any>): () => void {
  const layout = layoutOf(room);
  const timer = setInterval(() => {
    const me = room.state.players.get(room.sessionId);
    if (!me || room.state.phase !== 'playing') return;
    let best: { to: Vec; d: number } | undefined;
    room.state.coins.forEach((c: any) => {
      const d = Math.hypot(c.x - me.x, c.y - me.y);
      if ((!best || d < best.d) && clearPath(me, c, PLAYER_RADIUS, layout)) best = { to: { x: c.x, y: c.y }, d };
    });
    room.send('input', best ? steer(me, best.to) : { x: 0, y: 0 });
  }, 50);
  return () => clearInterval(timer);
}

async function joinTwo(mode: string) {
  const a = await newDevice(s.url);
  const b = await newDevice(s.url);
  const ra = await sdk(s.url, a.token).joinOrCreate<any>('arena', { mode });
  const rb = await sdk(s.url, b.token).joinOrCreate<any>('arena', { mode });
  return { a: { ...a, userId: decodeJwt(a.token).uid, room: ra }, b: { ...b, userId: decodeJwt(b.token).uid, room: rb } };
}

test('two players: moves sync, coins score, the round ends with round_end and the scores reach the leaderboard', async () => {
  const { a, b } = await joinTwo(uniqueMode());
  assert.equal(a.room.roomId, b.room.roomId, 'same mode, same room');
  const boxA = inbox(a.room, ['round_end', 'error']);
  const boxB = inbox(b.room, ['round_end', 'error']);
  await eventually(() => {
    assert.equal(a.room.state.players?.size, 2);
    assert.equal(b.room.state.players?.size, 2);
    assert.ok(a.room.state.coins.size > 0);
    assert.ok(a.room.state.walls.length > 0);
  });
  const round = a.room.state.round as number;
  assert.ok(round >= 1);
  assert.equal(b.room.state.players.get(a.room.sessionId).name, decodeJwt(a.token).usn, 'players are named after their users');

  // B heads for the middle of the arena; A sees it move.
  const bSeenByA = positionOf(a.room, b.room.sessionId);
  b.room.send('input', steer(bSeenByA, { x: a.room.state.width / 2, y: 40 }));
  await eventually(() => {
    const now = positionOf(a.room, b.room.sessionId);
    assert.ok(Math.hypot(now.x - bSeenByA.x, now.y - bSeenByA.y) > 10, 'B has not moved in A’s view yet');
  });

  // A hunts coins; B sees A move, and A scores.
  const aSeenByB = positionOf(b.room, a.room.sessionId);
  const stop = coinBot(a.room);
  try {
    await eventually(() => {
      const now = positionOf(b.room, a.room.sessionId);
      assert.ok(Math.hypot(now.x - aSeenByB.x, now.y - aSeenByB.y) > 10, 'A has not moved in B’s view yet');
    });
    await eventually(() => assert.ok(b.room.state.players.get(a.room.sessionId).score > 0, 'A has not scored yet'), 15_000);

    // The round ends: everyone gets the results, A with points.
    const scored = (m: any) => m.results.some((r: any) => r.userId === a.userId && r.score > 0);
    const endA = await boxA.take('round_end', scored, (ROUND_SECONDS + 3) * 1000 * 3);
    const endB = await boxB.take('round_end', (m) => m.round === endA.round);
    assert.deepEqual(endB, endA);
    assert.equal(endA.leaderboard, 'arena');
    assert.equal(endA.nextRoundIn, 1);
    assert.equal(endA.results.length, 2);
    assert.deepEqual(endA.results.map((r: any) => r.rank).sort(), endA.results[0].score === endA.results[1].score ? [1, 1] : [1, 2]);
    const mine = endA.results.find((r: any) => r.userId === a.userId);
    const theirs = endA.results.find((r: any) => r.userId === b.userId);
    assert.equal(mine.sessionId, a.room.sessionId);
    assert.ok(theirs, 'B is in the results');

    // Best scores per player on the leaderboard (written before round_end went out; a zero score is omitted, as in Nakama).
    const board = await http(s.url, 'GET', '/v2/leaderboard/arena?limit=100', { auth: a.bearer });
    assert.equal(board.status, 200, JSON.stringify(board.body));
    const records = new Map<string, any>(board.body.records.map((r: any) => [r.owner_id, r]));
    assert.ok(
      Number(records.get(a.userId)?.score ?? 0) >= mine.score && mine.score > 0,
      `A's record: ${JSON.stringify(records.get(a.userId))}`,
    );
    assert.ok(records.has(b.userId), 'B has a record too');
    assert.ok(Number(records.get(b.userId).score ?? 0) >= theirs.score, JSON.stringify({ theirs, record: records.get(b.userId) }));

    // After the break a new round starts with scores back at zero.
    await eventually(() => {
      assert.ok(a.room.state.round > endA.round);
      assert.equal(a.room.state.phase, 'playing');
    }, 5000);
    assert.equal(boxA.messages.filter((m) => m.type === 'error').length, 0, JSON.stringify(boxA.messages));
  } finally {
    stop();
    await a.room.leave();
    await b.room.leave();
  }
});

test('bad input gets an error message; the room and the player carry on', async () => {
  const { a, b } = await joinTwo(uniqueMode());
  const box = inbox(a.room, ['error']);
  await eventually(() => assert.equal(a.room.state.players?.size, 2));

  a.room.send('input', { x: 'left' });
  const bad = await box.take('error');
  assert.equal(bad.status, 3);
  assert.equal(bad.code, 3, 'BAD_INPUT');
  assert.equal(bad.type, 'input');

  a.room.send('input', { x: 5, y: 0 });
  assert.equal((await box.take('error')).status, 3);

  a.room.send('teleport', { x: 0, y: 0 });
  assert.equal((await box.take('error')).code, 1, 'UNRECOGNIZED_PAYLOAD');

  // Still in, still moving.
  const before = positionOf(b.room, a.room.sessionId);
  a.room.send('input', steer(before, { x: a.room.state.width / 2, y: 40 }));
  await eventually(() => {
    const now = positionOf(b.room, a.room.sessionId);
    assert.ok(Math.hypot(now.x - before.x, now.y - before.y) > 10);
  });
  assert.equal(a.room.connection.isOpen, true);
  await a.room.leave();
  await b.room.leave();
});

test('rooms are matched by mode; joins without a valid session token are refused', async () => {
  const d = await newDevice(s.url);
  const one = await sdk(s.url, d.token).joinOrCreate('arena', { mode: uniqueMode() });
  const two = await sdk(s.url, d.token).joinOrCreate('arena', { mode: uniqueMode() });
  assert.notEqual(one.roomId, two.roomId);
  await one.leave();
  await two.leave();

  const tampered = d.token.slice(0, -3) + (d.token.endsWith('AAA') ? 'BBB' : 'AAA');
  await assert.rejects(sdk(s.url, tampered).joinOrCreate('arena', { mode: 'casual' }), (err: unknown) => err instanceof MatchMakeError);
  await assert.rejects(sdk(s.url).joinOrCreate('arena', { mode: 'casual' }), (err: unknown) => err instanceof MatchMakeError);
});

test('outside dev mode there is no /play, no /playground, and @colyseus/auth never loaded', async () => {
  assert.equal((await http(s.url, 'GET', '/play/')).status, 404);
  assert.equal((await http(s.url, 'GET', '/play/vendor/colyseus.js')).status, 404);
  assert.equal((await http(s.url, 'GET', '/playground/')).status, 404);
  // @colyseus/auth replaces the framework's default Room.onAuth when it is imported.
  assert.notEqual(ColyseusRoom.onAuth.name, 'jwtDecodingOnAuth');
});

test('nothing went wrong on the server side', () => {
  const errors = s.logs.filter((l) => (l.level as number) >= 50);
  assert.deepEqual(errors, []);
});
