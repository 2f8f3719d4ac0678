/**
 * Parties in the real matchmaker (local presence, and again on Redis in test/run.ts's Redis pass):
 * the leader puts the whole party in the default queue as one ticket, every member hears it, and
 * `matchmaker_matched` reaches each member's session; solo players fill the rest of the match, a
 * party is never split, and removal or a membership change takes the ticket out of the queue.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Room } from '@colyseus/sdk';
import { PARTY_ROOM, partyRoomId } from '../../src/rooms/party.room.js';
import { MESSAGES, matchUser, overridesFor, presences } from '../support/matches.js';
import { inbox, sdk } from '../support/realtime.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { decodeJwt } from '../support/wire.js';

const SESSION_MESSAGES = ['matchmaker_ticket', 'matchmaker_matched', 'match_reservation', 'error'];
const PARTY_MESSAGES = ['party', 'party_presence_event', 'party_leader', 'party_matchmaker_ticket', 'error'];
const MATCHED_MS = 10_000;
/** How long a ticket that must not match is watched (many 100 ms intervals). */
const QUIET_MS = 800;

type Matched = {
  ticket: string;
  token?: string;
  match_id?: string;
  users: { presence: { user_id: string; session_id: string }; party_id?: string; string_properties: Record<string, string> }[];
  self: { presence: { user_id: string }; party_id?: string };
};

for (const kind of presences) {
  describe(`party matchmaking on ${kind} presence`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer({ ...overridesFor(kind), matchmakerIntervalMs: 100 });
    });
    after(async () => {
      await s?.stop();
    });

    /** A user with a connected session (where `matchmaker_matched` arrives) and an inbox on it. */
    async function player() {
      const u = await matchUser(s.url);
      const client = sdk(s.url, u.token);
      const session: Room = await client.create('session', {});
      const box = inbox(session, SESSION_MESSAGES);
      return { ...u, sid: decodeJwt(u.token).tid, client, session, box };
    }
    type Player = Awaited<ReturnType<typeof player>>;

    /** A party of `members` (the first one leads), each member in the party room with an inbox. */
    async function party(members: Player[]) {
      const [leader, ...rest] = members;
      const room = await leader!.client.create(PARTY_ROOM, { open: true, max_size: 4 });
      const box = inbox(room, PARTY_MESSAGES);
      const id = (await box.take('party')).party_id as string;
      const rooms = [{ player: leader!, room, box }];
      for (const m of rest) {
        const r = await m.client.joinById(partyRoomId(id));
        const b = inbox(r, PARTY_MESSAGES);
        await b.take('party');
        rooms.push({ player: m, room: r, box: b });
      }
      return { id, leader: rooms[0]!, members: rooms };
    }
    type Party = Awaited<ReturnType<typeof party>>;
    type Member = Party['members'][number];

    /** The leader puts the party in the matchmaker; every member hears the same ticket. */
    async function partyAdd(p: Party, ticket: Record<string, unknown>): Promise<string> {
      p.leader.room.send('party_matchmaker_add', { party_id: p.id, ...ticket });
      const id = (await p.leader.box.take('party_matchmaker_ticket')).ticket as string;
      for (const m of p.members.slice(1)) assert.deepEqual(await m.box.take('party_matchmaker_ticket'), { party_id: p.id, ticket: id });
      return id;
    }

    async function soloAdd(p: Player, ticket: Record<string, unknown>): Promise<string> {
      p.session.send('matchmaker_add', ticket);
      return (await p.box.take('matchmaker_ticket')).ticket as string;
    }

    const matched = (p: Player): Promise<Matched> => p.box.take('matchmaker_matched', undefined, MATCHED_MS);
    const matchedCount = (p: Player) => p.box.messages.filter((m) => m.type === 'matchmaker_matched').length;
    const ticketOf = (mode: string) => ({ min_count: 4, max_count: 4, query: `+properties.mode:${mode}`, string_properties: { mode } });
    const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

    async function leave(players: Player[], parties: Member[] = []) {
      for (const m of parties) await m.room.leave().catch(() => undefined);
      for (const p of players) await p.session.leave().catch(() => undefined);
    }

    test('a party of 2 and two solo players meet in one relayed match; the party users carry party_id', async () => {
      const mode = unique('duo');
      const [alice, bob, carol, dave] = [await player(), await player(), await player(), await player()];
      const p = await party([alice, bob]);
      const partyTicket = await partyAdd(p, ticketOf(mode));
      const solo = [await soloAdd(carol, ticketOf(mode)), await soloAdd(dave, ticketOf(mode))];

      const all = [alice, bob, carol, dave];
      const got = new Map<Player, Matched>();
      for (const x of all) got.set(x, await matched(x));
      assert.equal(got.get(alice)!.ticket, partyTicket);
      assert.equal(got.get(bob)!.ticket, partyTicket);
      assert.deepEqual([got.get(carol)!.ticket, got.get(dave)!.ticket], solo);
      for (const [x, m] of got) {
        assert.equal(m.match_id, undefined, 'relayed: no match id');
        assert.equal(typeof m.token, 'string');
        assert.equal(m.self.presence.user_id, x.uid);
        assert.deepEqual(m.users.map((u) => u.presence.user_id).sort(), all.map((y) => y.uid).sort());
        for (const u of m.users) {
          const inParty = u.presence.user_id === alice.uid || u.presence.user_id === bob.uid;
          assert.equal(u.party_id, inParty ? p.id : undefined, `party_id of ${u.presence.user_id}`);
          assert.deepEqual(u.string_properties, { mode });
        }
        assert.equal(m.self.party_id, x === alice || x === bob ? p.id : undefined);
      }
      // Party members are matched on the sessions that were in the party.
      const bobUser = got.get(carol)!.users.find((u) => u.presence.user_id === bob.uid)!;
      assert.equal(bobUser.presence.session_id, bob.sid);

      // Every token seats its own user in the same relayed match.
      for (const x of all) x.session.send('match_join', { token: got.get(x)!.token });
      const reservations: { match_id: string; reservation: any }[] = [];
      for (const x of all) reservations.push(await x.box.take('match_reservation'));
      assert.equal(new Set(reservations.map((r) => r.match_id)).size, 1, 'one match id');
      const rooms = await Promise.all(all.map((x, i) => x.client.consumeSeatReservation(reservations[i]!.reservation)));
      for (const r of rooms) inbox(r, MESSAGES);
      assert.equal(new Set(rooms.map((r) => r.roomId)).size, 1, 'one match room');
      assert.equal(rooms[0]!.roomId, reservations[0]!.match_id);
      for (const r of rooms) await r.leave();
      await leave(all, p.members);
    });

    test('a party is never split: a party of 3 takes one of two solo players', async () => {
      const mode = unique('trio');
      const [alice, bob, carol, dave, erin] = [await player(), await player(), await player(), await player(), await player()];
      // The solo players wait first: together they are the oldest tickets.
      await soloAdd(dave, ticketOf(mode));
      await soloAdd(erin, ticketOf(mode));
      await sleep(250);
      const p = await party([alice, bob, carol]);
      await partyAdd(p, ticketOf(mode));

      const ma = await matched(alice);
      const ids = ma.users.map((u) => u.presence.user_id);
      assert.equal(ids.length, 4);
      for (const x of [alice, bob, carol]) assert.ok(ids.includes(x.uid), `party member ${x.uid} is in the match`);
      const soloIn = [dave, erin].filter((x) => ids.includes(x.uid));
      assert.equal(soloIn.length, 1, 'exactly one solo player joins the party');
      for (const x of [bob, carol, soloIn[0]!])
        assert.deepEqual((await matched(x)).users.map((u) => u.presence.user_id).sort(), [...ids].sort());
      const left = [dave, erin].find((x) => !ids.includes(x.uid))!;
      await sleep(QUIET_MS);
      assert.equal(matchedCount(left), 0, 'the other solo player still waits');
      await leave([alice, bob, carol, dave, erin], p.members);
    });

    test('party_matchmaker_remove takes the ticket out: no match until the leader adds it again', async () => {
      const mode = unique('removed');
      const [alice, bob, carol, dave] = [await player(), await player(), await player(), await player()];
      const p = await party([alice, bob]);
      const ticket = await partyAdd(p, ticketOf(mode));
      // Only the leader removes, and only the party's own ticket.
      p.members[1]!.room.send('party_matchmaker_remove', { party_id: p.id, ticket });
      assert.equal((await p.members[1]!.box.take('error')).message, 'Error removing party matchmaker ticket: party leader only');
      p.leader.room.send('party_matchmaker_remove', { party_id: p.id, ticket: 'no-such-ticket' });
      assert.equal((await p.leader.box.take('error')).status, 5, 'an unknown ticket is NOT_FOUND');
      p.leader.room.send('party_matchmaker_remove', { party_id: p.id, ticket });
      await p.leader.box.none('error', () => true, 300);

      await soloAdd(carol, ticketOf(mode));
      await soloAdd(dave, ticketOf(mode));
      await sleep(QUIET_MS);
      for (const x of [alice, bob, carol, dave]) assert.equal(matchedCount(x), 0, `${x.uid} was matched after the removal`);

      // The same party and players match once the ticket is back.
      const again = await partyAdd(p, ticketOf(mode));
      assert.notEqual(again, ticket);
      for (const x of [alice, bob, carol, dave]) await matched(x);
      await leave([alice, bob, carol, dave], p.members);
    });

    test('a member joining or leaving withdraws the party ticket', async () => {
      const joinMode = unique('joined');
      const [alice, bob, carol, dave, erin] = [await player(), await player(), await player(), await player(), await player()];
      const p = await party([alice, bob]);
      await partyAdd(p, ticketOf(joinMode));
      // Carol joins: the ticket named alice and bob only, so it goes.
      const c = await carol.client.joinById(partyRoomId(p.id));
      const cbox = inbox(c, PARTY_MESSAGES);
      await cbox.take('party');
      await sleep(300);
      await soloAdd(dave, ticketOf(joinMode));
      await soloAdd(erin, ticketOf(joinMode));
      await sleep(QUIET_MS);
      for (const x of [alice, bob, carol, dave, erin]) assert.equal(matchedCount(x), 0, `matched after a join: ${x.uid}`);

      // The party of 3 queues again; carol leaves: withdrawn again, so one solo player finds no one.
      const leaveMode = unique('left');
      const [frank] = [await player()];
      await partyAdd(p, ticketOf(leaveMode));
      await c.leave();
      await p.leader.box.take('party_presence_event', (e) => e.leaves?.[0]?.user_id === carol.uid);
      await sleep(300);
      await soloAdd(frank, ticketOf(leaveMode));
      await sleep(QUIET_MS);
      for (const x of [alice, bob, carol, frank]) assert.equal(matchedCount(x), 0, `matched after a leave: ${x.uid}`);
      await leave([alice, bob, carol, dave, erin, frank], p.members);
    });

    test('only the leader adds the party, with valid counts', async () => {
      const [alice, bob] = [await player(), await player()];
      const p = await party([alice, bob]);
      const member = p.members[1]!;
      const add = {
        party_id: p.id,
        min_count: 2,
        max_count: 4,
        query: '+properties.region:eu',
        string_properties: { region: 'eu' },
        count_multiple: 2,
      };
      member.room.send('party_matchmaker_add', add);
      assert.deepEqual(await member.box.take('error'), {
        code: 3,
        status: 7,
        message: 'Error adding party to matchmaker: party leader only',
        type: 'party_matchmaker_add',
      });
      p.leader.room.send('party_matchmaker_add', { ...add, min_count: 1 });
      assert.deepEqual(await p.leader.box.take('error'), {
        code: 3,
        status: 3,
        message: 'Invalid minimum count, must be >= 2',
        type: 'party_matchmaker_add',
      });
      p.leader.room.send('party_matchmaker_add', { ...add, max_count: 5 });
      assert.equal((await p.leader.box.take('error')).message, 'Invalid count multiple for maximum count, must divide');
      await member.box.none('party_matchmaker_ticket', () => true, 200);
      assert.equal(p.leader.box.messages.filter((m) => m.type === 'party_matchmaker_ticket').length, 0, 'no ticket was opened');
      await leave([alice, bob], p.members);
    });

    test('no party or matchmaker room logged a failure', () => {
      const failures = s.logs.filter((l) => (l.level as number) >= 50 && (l.room === PARTY_ROOM || l.scope === 'matchmaker'));
      assert.deepEqual(failures, []);
    });
  });
}
