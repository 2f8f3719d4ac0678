/**
 * The matchmaker through real SDK clients on a real server (local presence, and again on Redis
 * in test/run.ts's Redis pass): tickets over the session room, pairs forming both ways, relayed
 * matches joined by token, the `matchmakerMatched` hook seating users in an authoritative match,
 * removal, limits, a session's tickets leaving with it, named queues, and stats over HTTP.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Room } from '@colyseus/sdk';
import { MESSAGES, matchUser, overridesFor, presences } from '../support/matches.js';
import { inbox, sdk } from '../support/realtime.js';
import { http, startTestServer, type TestServer } from '../support/server.js';

const modules = path.join(import.meta.dirname, '..', 'fixtures', 'matchmaker-modules');
const SESSION_MESSAGES = ['matchmaker_ticket', 'matchmaker_matched', 'match_reservation', 'error'];

for (const kind of presences) {
  describe(`matchmaker on ${kind} presence`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer({ ...overridesFor(kind), runtimePath: modules, matchmakerIntervalMs: 100, matchmakerMaxIntervals: 3 });
    });
    after(async () => {
      await s?.stop();
    });

    /** A user with a connected session and an inbox on it. */
    async function player() {
      const u = await matchUser(s.url);
      const session: Room = await sdk(s.url, u.token).create('session', {});
      const box = inbox(session, SESSION_MESSAGES);
      return { ...u, client: sdk(s.url, u.token), session, box };
    }
    type Player = Awaited<ReturnType<typeof player>>;

    async function add(p: Player, ticket: Record<string, unknown>): Promise<string> {
      p.session.send('matchmaker_add', ticket);
      const reply = await p.box.take('matchmaker_ticket');
      return reply.ticket as string;
    }

    async function refused(
      p: Player,
      type: string,
      body: Record<string, unknown>,
    ): Promise<{ code: number; status: number; message: string }> {
      p.session.send(type, body);
      return p.box.take('error');
    }

    const duelTicket = (mode: string, extra: Record<string, unknown> = {}) => ({
      min_count: 2,
      max_count: 2,
      query: `+properties.mode:${mode}`,
      string_properties: { mode },
      ...extra,
    });

    test('two players match both ways and meet in one relayed match through their tokens', async () => {
      const mode = `casual${Date.now()}`;
      const [a, b] = [await player(), await player()];
      const ta = await add(a, duelTicket(mode, { numeric_properties: { skill: 10 } }));
      const tb = await add(b, duelTicket(mode));
      assert.notEqual(ta, tb);
      const ma = await a.box.take('matchmaker_matched', undefined, 10_000);
      const mb = await b.box.take('matchmaker_matched', undefined, 10_000);
      assert.equal(ma.ticket, ta);
      assert.equal(mb.ticket, tb);
      assert.equal(ma.match_id, undefined);
      assert.equal(typeof ma.token, 'string');
      assert.notEqual(ma.token, mb.token);
      assert.deepEqual(ma.users.map((u: { presence: { user_id: string } }) => u.presence.user_id).sort(), [a.uid, b.uid].sort());
      assert.equal(ma.self.presence.user_id, a.uid);
      assert.deepEqual(ma.self.numeric_properties, { skill: 10 });
      assert.deepEqual(ma.self.string_properties, { mode });

      // Each token seats its own user in the same relayed match.
      a.session.send('match_join', { token: ma.token });
      b.session.send('match_join', { token: mb.token });
      const [ra, rb] = [await a.box.take('match_reservation'), await b.box.take('match_reservation')];
      assert.equal(ra.match_id, rb.match_id);
      const roomA = await a.client.consumeSeatReservation(ra.reservation);
      const roomB = await b.client.consumeSeatReservation(rb.reservation);
      assert.equal(roomA.roomId, roomB.roomId);
      const boxB = inbox(roomB, MESSAGES);
      roomA.send('match_data_send', { op_code: 7, data: Buffer.from('hi').toString('base64') });
      const data = await boxB.take('match_data');
      assert.equal(data.op_code, 7);

      // A token is its user's only.
      const c = await player();
      const stolen = await refused(c, 'match_join', { token: ma.token });
      assert.equal(stolen.status, 7);
      for (const r of [roomA, roomB]) await r.leave();
    });

    test("a ticket whose query the other doesn't satisfy waits; the hook seats ranked players in an authoritative match", async () => {
      const [a, b, c] = [await player(), await player(), await player()];
      // a wants ranked players, b is casual: neither matches the other.
      await add(a, duelTicket('ranked'));
      await add(b, duelTicket(`other${Date.now()}`, { query: '+properties.mode:ranked', string_properties: { mode: 'casual' } }));
      await sleep(400);
      assert.equal(a.box.messages.filter((m) => m.type === 'matchmaker_matched').length, 0);
      await add(c, duelTicket('ranked'));
      const ma = await a.box.take('matchmaker_matched', undefined, 10_000);
      const mc = await c.box.take('matchmaker_matched', undefined, 10_000);
      assert.equal(typeof ma.match_id, 'string');
      assert.equal(ma.match_id, mc.match_id);
      assert.equal(ma.token, undefined);
      const listed = await http(s.url, 'GET', `/v2/match?authoritative=true&limit=100`, { auth: `Bearer ${a.token}` });
      const match = listed.body.matches.find((m: { match_id: string }) => m.match_id === ma.match_id);
      assert.deepEqual(JSON.parse(match.label), { users: [a.uid, c.uid].sort() });
      a.session.send('match_join', { match_id: ma.match_id });
      const ra = await a.box.take('match_reservation');
      const room = await a.client.consumeSeatReservation(ra.reservation);
      const box = inbox(room, MESSAGES);
      assert.equal((await box.take('match')).authoritative, true);
      await room.leave();
      assert.equal(b.box.messages.filter((m) => m.type === 'matchmaker_matched').length, 0);
    });

    test('bad tickets, the per-user limit, removal, and a session taking its tickets with it', async () => {
      const a = await player();
      assert.equal((await refused(a, 'matchmaker_add', { min_count: 1, max_count: 2 })).status, 3);
      assert.equal((await refused(a, 'matchmaker_add', { min_count: 4, max_count: 2 })).status, 3);
      assert.equal((await refused(a, 'matchmaker_add', { min_count: 2, max_count: 5, count_multiple: 2 })).status, 3);
      assert.equal((await refused(a, 'matchmaker_add', { min_count: 2, max_count: 2, query: '+properties.x:/re/' })).status, 3);
      assert.equal((await refused(a, 'matchmaker_add', { min_count: 2, max_count: 2, queue: 'bad queue!' })).status, 3);
      const lonely = `lonely${Date.now()}`;
      const ids = [await add(a, duelTicket(lonely)), await add(a, duelTicket(lonely)), await add(a, duelTicket(lonely))];
      const tooMany = await refused(a, 'matchmaker_add', duelTicket(lonely));
      assert.equal(tooMany.status, 8);
      // Removing frees a slot; removing someone else's (or an unknown) ticket is NOT_FOUND.
      a.session.send('matchmaker_remove', { ticket: ids[0] });
      await sleep(100);
      await add(a, duelTicket(lonely));
      const other = await player();
      assert.equal((await refused(other, 'matchmaker_remove', { ticket: ids[1] })).status, 5);

      // a leaves: its tickets go, so a newcomer in the same mode finds no one.
      await a.session.leave();
      await sleep(200);
      const late = await player();
      await add(late, duelTicket(lonely));
      await sleep(500);
      assert.equal(late.box.messages.filter((m) => m.type === 'matchmaker_matched').length, 0);
    });

    test('named queues are separate pools; a user waiting in two queues lands in one match; stats over HTTP', async () => {
      const mode = `q${Date.now()}`;
      const [a, b, c] = [await player(), await player(), await player()];
      await add(a, duelTicket(mode, { queue: 'north' }));
      await add(b, duelTicket(mode, { queue: 'south' }));
      await sleep(400);
      assert.equal(a.box.messages.filter((m) => m.type === 'matchmaker_matched').length, 0);
      const stats = await http(s.url, 'GET', '/v2/matchmaker/stats', { auth: `Bearer ${a.token}` });
      assert.equal(stats.status, 200);
      assert.ok(stats.body.ticket_count >= 2, JSON.stringify(stats.body));
      assert.equal(typeof stats.body.oldest_ticket_create_time, 'string');
      const nkStats = await s.runtime.nk.matchmakerStats();
      assert.equal(nkStats.ticketCount, stats.body.ticket_count);
      assert.equal(nkStats.oldestTicketCreateTime, Math.floor(Date.parse(stats.body.oldest_ticket_create_time) / 1000));
      // c waits in both queues: it matches a or b, not both.
      await add(c, duelTicket(mode, { queue: 'north' }));
      await add(c, duelTicket(mode, { queue: 'south' }));
      const mc = await c.box.take('matchmaker_matched', undefined, 10_000);
      await sleep(500);
      assert.equal(c.box.messages.filter((m) => m.type === 'matchmaker_matched').length, 0, 'c matched twice');
      const partner = mc.users.map((u: { presence: { user_id: string } }) => u.presence.user_id).find((id: string) => id !== c.uid);
      assert.ok(partner === a.uid || partner === b.uid);
      const after = await http(s.url, 'GET', '/v2/matchmaker/stats', { auth: `Bearer ${a.token}` });
      assert.ok(after.body.completions.length >= 2, JSON.stringify(after.body));
    });
  });
}
