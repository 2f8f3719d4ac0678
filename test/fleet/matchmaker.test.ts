/**
 * The matchmaker on a fleet of three processes (one PostgreSQL, one Redis). A queue is one room in
 * the whole fleet: players whose sessions live on different processes match with each other and
 * meet in one relayed match, each joining it through its own process. When the process hosting
 * the queue is killed, the tickets kept in Redis survive it: the queue is rebuilt on another
 * process and a waiting ticket still matches one added after the crash.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Room } from '@colyseus/sdk';
import { Redis } from 'ioredis';
import { fleetClient, hostOf, problems, startFleet, within, type Fleet, type FleetProcess } from '../support/fleet.js';
import { eventually, inbox } from '../support/realtime.js';
import { newDevice } from '../support/server.js';
import { decodeJwt } from '../support/wire.js';

const SESSION = ['matchmaker_ticket', 'matchmaker_matched', 'match_reservation', 'error'];
/** The room registry's listings (src/rooms/redis.driver.ts) and the default queue's room id. */
const ROOMS_KEY = 'tavern:mm:rooms';
const QUEUE_ROOM = 'matchmaker_default';
const INTERVAL_MS = 200;
const CRASH_BOUND_MS = 15_000;
const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

describe('the matchmaker on a fleet of three processes', () => {
  let fleet: Fleet;
  let redis: Redis;
  before(async () => {
    fleet = await startFleet({
      count: 3,
      env: { TAVERN_SHUTDOWN_GRACE_SEC: '1', TAVERN_MATCHMAKER_INTERVAL_MS: String(INTERVAL_MS) },
    });
    redis = new Redis(fleet.redisUrl);
  });
  after(async () => {
    await redis?.quit().catch(() => undefined);
    await fleet?.stop();
  });

  /** A user with a session on `p` (where `matchmaker_matched` reaches it) and an inbox on it. */
  async function player(p: FleetProcess) {
    const d = await newDevice(p.url);
    const client = fleetClient(p.url, d.token);
    const session: Room = await within(client.create('session'), `a session on ${p.nodeName}`);
    await eventually(() => assert.ok((session.state as { sessionId?: string })?.sessionId));
    assert.equal(hostOf(fleet, client, session), p, 'a session stays on the process it connected to');
    return { uid: decodeJwt(d.token).uid, process: p, client, session, box: inbox(session, SESSION) };
  }
  type Player = Awaited<ReturnType<typeof player>>;

  const duel = (mode: string) => ({ min_count: 2, max_count: 2, query: `+properties.mode:${mode}`, string_properties: { mode } });

  /** The next `matchmaker_ticket` or `error` the player's session receives. */
  async function answer(p: Player, ms = 10_000): Promise<{ type: string; body: any }> {
    let found: { type: string; body: any } | undefined;
    await eventually(() => {
      const i = p.box.messages.findIndex((m) => m.type === 'matchmaker_ticket' || m.type === 'error');
      assert.ok(i >= 0, `no answer to matchmaker_add on ${p.process.nodeName}`);
      found = p.box.messages.splice(i, 1)[0];
    }, ms);
    return found!;
  }

  /** Adds a ticket; while the queue moves (UNAVAILABLE, a call to a dead process), tries again until `deadline`. */
  async function add(p: Player, ticket: Record<string, unknown>, deadline = Date.now() + 5000): Promise<string> {
    const errors: unknown[] = [];
    for (;;) {
      p.session.send('matchmaker_add', ticket);
      const reply = await answer(p);
      if (reply.type === 'matchmaker_ticket') return reply.body.ticket as string;
      errors.push(reply.body);
      if (Date.now() > deadline)
        throw new Error(
          `no ticket on ${p.process.nodeName} after ${errors.length} tries: ${JSON.stringify(errors)}\n${problems(p.process)}`,
        );
      await sleep(250);
    }
  }

  /** The process the queue room's listing names (its public address is `127.0.0.1:<port>`). */
  async function queueHost(): Promise<FleetProcess | undefined> {
    const raw = await redis.hget(ROOMS_KEY, QUEUE_ROOM);
    if (!raw) return undefined;
    const listing = JSON.parse(raw) as { publicAddress?: string; processId?: string };
    return fleet.processes.find((p) => `127.0.0.1:${p.port}` === listing.publicAddress);
  }

  /** Both players' tokens seat them in one relayed match, each through its own process. */
  async function meet(a: Player, ma: { token?: string }, b: Player, mb: { token?: string }) {
    a.session.send('match_join', { token: ma.token });
    b.session.send('match_join', { token: mb.token });
    const ra = await a.box.take('match_reservation', undefined, 10_000);
    const rb = await b.box.take('match_reservation', undefined, 10_000);
    assert.equal(ra.match_id, rb.match_id, 'one match id');
    const roomA = await within(a.client.consumeSeatReservation(ra.reservation), 'a seat in the match');
    const roomB = await within(b.client.consumeSeatReservation(rb.reservation), 'a seat in the match');
    assert.equal(roomA.roomId, roomB.roomId, 'one match room');
    assert.equal(a.client.hosts.get(roomA.roomId), b.client.hosts.get(roomB.roomId), 'one host');
    const boxB = inbox(roomB, ['match', 'match_presence_event', 'match_data', 'error']);
    inbox(roomA, ['match', 'match_presence_event', 'match_data', 'error']);
    roomA.send('match_data_send', { op_code: 3, data: Buffer.from('hello').toString('base64') });
    assert.equal((await boxB.take('match_data')).op_code, 3);
    await roomA.leave();
    await roomB.leave();
  }

  test('players on different processes match through the one queue room and meet in one relayed match', async () => {
    const [p0, p1] = fleet.processes as [FleetProcess, FleetProcess];
    const mode = unique('fleet');
    const a = await player(p0);
    const ta = await add(a, duel(mode));
    const host = await queueHost();
    assert.ok(host, `the queue room is listed: ${await redis.hget(ROOMS_KEY, QUEUE_ROOM)}`);
    // b's session is on another process than a's, and one of the two hosts the queue.
    const b = await player(host === p0 ? p1 : host);
    assert.notEqual(b.process, a.process);
    const tb = await add(b, duel(mode));
    const ma = await a.box.take('matchmaker_matched', undefined, 10_000);
    const mb = await b.box.take('matchmaker_matched', undefined, 10_000);
    assert.equal(ma.ticket, ta);
    assert.equal(mb.ticket, tb);
    assert.deepEqual(ma.users.map((u: { presence: { user_id: string } }) => u.presence.user_id).sort(), [a.uid, b.uid].sort());
    assert.equal(typeof ma.token, 'string');
    assert.equal(typeof mb.token, 'string');
    await meet(a, ma, b, mb);
    assert.equal(await queueHost(), host, 'still one queue room, where it was');
    await a.session.leave();
    await b.session.leave();
  });

  test('the queue host is killed: the queue is rebuilt on a survivor and a waiting ticket still matches', async (t) => {
    const mode = unique('crash');
    // Make sure the queue room exists, then find its host; the waiting player is on a survivor.
    const probe = await player(fleet.processes[0]!);
    await add(probe, duel(unique('probe')));
    await probe.session.leave();
    const victim = await queueHost();
    assert.ok(victim, 'the queue room is listed');
    const survivors = fleet.processes.filter((p) => p !== victim && !p.exited);
    assert.equal(survivors.length, 2);
    const waiting = await player(survivors[0]!);
    const tw = await add(waiting, duel(mode));
    await sleep(3 * INTERVAL_MS);
    assert.equal(waiting.box.messages.filter((m) => m.type === 'matchmaker_matched').length, 0, 'nobody to match yet');

    const killedAt = Date.now();
    await victim.kill();
    const late = await player(survivors[1]!);
    const tl = await add(late, duel(mode), killedAt + CRASH_BOUND_MS);
    const added = Date.now() - killedAt;
    const ml = await late.box.take('matchmaker_matched', undefined, Math.max(1000, CRASH_BOUND_MS - (Date.now() - killedAt)));
    const mw = await waiting.box.take('matchmaker_matched', undefined, 5000);
    const elapsed = Date.now() - killedAt;
    t.diagnostic(`${victim.nodeName} killed: a ticket was accepted after ${added} ms, the match formed after ${elapsed} ms`);
    assert.ok(elapsed <= CRASH_BOUND_MS, `matched ${elapsed} ms after the crash`);
    assert.equal(mw.ticket, tw, 'the ticket from before the crash matched');
    assert.equal(ml.ticket, tl);
    assert.deepEqual(ml.users.map((u: { presence: { user_id: string } }) => u.presence.user_id).sort(), [waiting.uid, late.uid].sort());
    const rebuilt = await queueHost();
    assert.ok(rebuilt && rebuilt !== victim && !rebuilt.exited, `the queue now lives on a survivor (${rebuilt?.nodeName})`);
    await meet(waiting, mw, late, ml);
    await waiting.session.leave();
    await late.session.leave();
  });

  // A session that dies with the queue's process is taken offline by the survivor's sweep, whose
  // `remove_session` event nobody hears (the queue room died too): the rebuilt queue must drop its
  // ticket when it loads the queue from Redis (its session room is no longer listed).
  test('a ticket of a session on the killed queue host does not come back', async () => {
    const victim = await queueHost();
    assert.ok(victim && !victim.exited, 'the queue room is listed on a live process');
    const survivor = fleet.processes.find((p) => p !== victim && !p.exited);
    assert.ok(survivor, 'a process survives');
    const mode = unique('ghost');
    const ghost = await player(victim);
    await add(ghost, duel(mode));
    const killedAt = Date.now();
    await victim.kill();
    const late = await player(survivor);
    await add(late, duel(mode), killedAt + CRASH_BOUND_MS);
    await sleep(10 * INTERVAL_MS);
    const matched = late.box.messages
      .filter((m) => m.type === 'matchmaker_matched')
      .map((m) => m.body.users.map((u: { presence: { user_id: string } }) => u.presence.user_id));
    assert.deepEqual(matched, [], `matched with ${ghost.uid}, whose session died with ${victim.nodeName}`);
    await late.session.leave();
  });
});
