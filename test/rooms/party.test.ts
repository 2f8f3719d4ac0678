/**
 * Parties through real SDK clients against a real server, on local and on Redis presence: open
 * and closed parties, leader actions, data, leaving and handing over, closing, and
 * `GET /v2/party`. Party matchmaking runs against the real matchmaker in party-matchmaking.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { matchMaker } from '@colyseus/core';
import { CloseCode, MatchMakeError, type Room } from '@colyseus/sdk';
import { PARTY_ROOM, partyRoomId } from '../../src/rooms/party.room.js';
import { eventually, inbox, sdk, serverSocketOf } from '../support/realtime.js';
import { http, newDevice, redisUrl, startTestServer, type TestServer } from '../support/server.js';
import { decodeJwt } from '../support/wire.js';

const presences = process.env.TAVERN_TEST_PRESENCE ? [process.env.TAVERN_TEST_PRESENCE] : ['local', 'redis'];
const TYPES = ['party', 'party_presence_event', 'party_leader', 'party_join_request', 'party_data', 'party_close', 'party_update', 'error'];

for (const kind of presences) {
  describe(`parties on ${kind} presence`, () => {
    let s: TestServer;

    before(async () => {
      s = await startTestServer({ reconnectWindowSec: 1, ...(kind === 'redis' ? { redisUrl: redisUrl() } : {}) });
    });
    after(async () => {
      await s?.stop();
    });

    async function user() {
      const d = await newDevice(s.url);
      const claims = decodeJwt(d.token);
      return { ...d, uid: claims.uid as string, sid: claims.tid as string, username: claims.usn as string };
    }
    type User = Awaited<ReturnType<typeof user>>;
    const presenceOf = (u: User) => ({ user_id: u.uid, session_id: u.sid, username: u.username });
    async function create(u: User, options: Record<string, unknown>) {
      const room = await sdk(s.url, u.token).create(PARTY_ROOM, options);
      const box = inbox(room, TYPES);
      const party = await box.take('party');
      return { room, box, party, id: party.party_id as string };
    }
    async function join(u: User, partyId: string) {
      const room = await sdk(s.url, u.token).joinById(partyRoomId(partyId));
      return { room, box: inbox(room, TYPES) };
    }
    const refusal = (code: number, message: string) => (err: { code?: number; message?: string }) => {
      assert.equal(err.message, message);
      assert.equal(err.code, code);
      return true;
    };
    const gone = (roomId: string) => eventually(async () => assert.equal(await matchMaker.getRoomById(roomId), undefined));
    const left = (room: Room) => new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));

    test('an open party: create, join, data, promote, leave hands over, the last leave ends it', async () => {
      const [alice, bob, carol] = [await user(), await user(), await user()];
      const a = await create(alice, { open: true, max_size: 3, label: '{"mode":"coop"}' });
      assert.match(a.id, /^[0-9a-f-]{36}$/);
      assert.equal(a.room.roomId, partyRoomId(a.id));
      assert.deepEqual(a.party, {
        party_id: a.id,
        open: true,
        max_size: 3,
        self: presenceOf(alice),
        leader: presenceOf(alice),
        presences: [presenceOf(alice)],
        label: '{"mode":"coop"}',
      });
      const b = await join(bob, a.id);
      const bobParty = await b.box.take('party');
      assert.deepEqual(bobParty.presences, [presenceOf(alice), presenceOf(bob)]);
      assert.deepEqual(bobParty.leader, presenceOf(alice));
      assert.deepEqual((await a.box.take('party_presence_event', (e) => e.joins?.[0]?.user_id === bob.uid)).joins, [presenceOf(bob)]);

      b.room.send('party_data_send', { party_id: a.id, op_code: 5, data: Buffer.from('hi').toString('base64') });
      assert.deepEqual(await a.box.take('party_data'), { party_id: a.id, presence: presenceOf(bob), op_code: 5, data: 'aGk=' });
      await b.box.none('party_data', () => true, 200);

      b.room.send('party_promote', { party_id: a.id, presence: presenceOf(alice) });
      const denied = await b.box.take('error');
      assert.deepEqual(denied, {
        code: 3,
        status: 7,
        message: 'Error promoting new party leader: party leader only',
        type: 'party_promote',
      });
      a.room.send('party_promote', { party_id: a.id, presence: presenceOf(bob) });
      for (const box of [a.box, b.box]) assert.deepEqual(await box.take('party_leader'), { party_id: a.id, presence: presenceOf(bob) });

      const c = await join(carol, a.id);
      await c.box.take('party');
      b.room.send('party_leave', { party_id: a.id });
      for (const box of [a.box, c.box]) {
        assert.deepEqual((await box.take('party_presence_event', (e) => e.leaves)).leaves, [presenceOf(bob)]);
        assert.deepEqual(await box.take('party_leader'), { party_id: a.id, presence: presenceOf(alice) }, 'the oldest member leads');
      }
      await c.room.leave();
      await a.room.leave();
      await gone(a.room.roomId);
    });

    test('a closed party: requesters see nothing until accepted; remove kicks or declines', async () => {
      const [alice, bob, carol, dave] = [await user(), await user(), await user(), await user()];
      const a = await create(alice, { open: false, max_size: 4 });
      const b = await join(bob, a.id);
      assert.deepEqual(await a.box.take('party_join_request'), { party_id: a.id, presences: [presenceOf(bob)] });
      b.room.send('party_data_send', { op_code: 1, data: '' });
      assert.equal((await b.box.take('error')).message, 'Error sending party data: party member not found');
      b.room.send('party_join_request_list', {});
      assert.equal((await b.box.take('error')).status, 7);
      const c = await join(carol, a.id);
      await a.box.take('party_join_request');
      a.room.send('party_join_request_list', { party_id: a.id });
      assert.deepEqual((await a.box.take('party_join_request')).presences, [presenceOf(bob), presenceOf(carol)]);
      assert.equal(b.box.messages.length + c.box.messages.length, 0, 'requesters heard nothing of the party');

      a.room.send('party_accept', { party_id: a.id, presence: presenceOf(bob) });
      assert.deepEqual((await b.box.take('party')).presences, [presenceOf(alice), presenceOf(bob)]);
      for (const box of [a.box, b.box])
        assert.deepEqual((await box.take('party_presence_event', (e) => e.joins?.[0]?.user_id === bob.uid)).joins, [presenceOf(bob)]);

      const carolLeft = left(c.room);
      a.room.send('party_remove', { party_id: a.id, presence: presenceOf(carol) });
      assert.deepEqual(await c.box.take('party_close'), { party_id: a.id });
      await carolLeft;
      const bobLeft = left(b.room);
      a.room.send('party_remove', { party_id: a.id, presence: presenceOf(bob) });
      assert.deepEqual(await b.box.take('party_close'), { party_id: a.id });
      await bobLeft;
      assert.deepEqual((await a.box.take('party_presence_event', (e) => e.leaves)).leaves, [presenceOf(bob)]);
      a.room.send('party_remove', { presence: presenceOf(alice) });
      assert.equal((await a.box.take('error')).message, 'Error removing party member or join request: party cannot remove self');
      a.room.send('party_accept', { presence: { user_id: dave.uid } });
      assert.equal((await a.box.take('error')).message, 'presence: Invalid presence');
      a.room.send('party_close', { party_id: 'another-party' });
      assert.equal((await a.box.take('error')).message, 'party not found');

      const d = await join(dave, a.id);
      await a.box.take('party_join_request');
      const daveLeft = left(d.room);
      a.room.send('party_close', { party_id: a.id });
      assert.deepEqual(await a.box.take('party_close'), { party_id: a.id });
      assert.deepEqual(await d.box.take('party_close'), { party_id: a.id });
      await daveLeft;
      await gone(a.room.roomId);
    });

    test('a dropped member stays within the reconnection window and leaves after it', async () => {
      const [alice, bob] = [await user(), await user()];
      const a = await create(alice, { open: true, max_size: 2 });
      const b = await join(bob, a.id);
      await b.box.take('party');
      b.room.reconnection.minUptime = 0;
      const reconnected = new Promise<void>((resolve) => b.room.onReconnect(() => resolve()));
      serverSocketOf(b.room).terminate();
      await reconnected;
      a.room.send('party_data_send', { op_code: 1, data: '' });
      assert.equal((await b.box.take('party_data')).presence.user_id, alice.uid, 'still a member after reconnecting');
      await a.box.none('party_presence_event', (e) => e.leaves, 100);

      b.room.reconnection.enabled = false;
      b.room.connection.close(CloseCode.MAY_TRY_RECONNECT);
      assert.deepEqual((await a.box.take('party_presence_event', (e) => e.leaves, 5000)).leaves, [presenceOf(bob)]);
      await a.room.leave();
      await gone(a.room.roomId);
    });

    test('refused joins and creations', async () => {
      const [alice, bob, carol] = [await user(), await user(), await user()];
      const client = sdk(s.url, alice.token);
      for (const [options, message] of [
        [{ open: true, max_size: 0 }, 'max_size: Invalid party max size, must be 1-256'],
        [{ open: true, max_size: 257 }, 'max_size: Invalid party max size, must be 1-256'],
        [{ open: true }, 'max_size: Invalid party max size, must be 1-256'],
        [{ max_size: 2, label: '[1]' }, 'Error creating party: failed to unmarshal party label: the label must be a JSON object'],
        [{ max_size: 2, label: JSON.stringify({ x: 'y'.repeat(2050) }) }, 'Error creating party: party label too long'],
      ] as const) {
        await assert.rejects(client.create(PARTY_ROOM, options), refusal(400, message), JSON.stringify(options).slice(0, 80));
      }
      const a = await create(alice, { open: true, max_size: 2 });
      await assert.rejects(
        sdk(s.url, (await newDevice(s.url, alice.deviceId)).token).joinById(a.room.roomId),
        refusal(409, 'Error joining party: party join request already member'),
      );
      const b = await join(bob, a.id);
      await b.box.take('party');
      await assert.rejects(sdk(s.url, carol.token).joinById(a.room.roomId), refusal(429, 'Error joining party: party full'));
      // `join`/`joinOrCreate` never pick someone's party.
      await assert.rejects(sdk(s.url, carol.token).join(PARTY_ROOM, {}), (err: unknown) => err instanceof MatchMakeError);
      await a.room.leave();
      await b.room.leave();
      await gone(a.room.roomId);
      await assert.rejects(sdk(s.url, carol.token).joinById(a.room.roomId), (err: unknown) => err instanceof MatchMakeError);
    });

    test('GET /v2/party: open filter, label query, paging, hidden parties never listed; party_update relists', async () => {
      const owner = await user();
      const tag = `t${Date.now()}`;
      const made: Awaited<ReturnType<typeof create>>[] = [];
      for (const [open, mode, hidden] of [
        [true, 'ranked', false],
        [false, 'ranked', false],
        [true, 'casual', false],
        [true, 'ranked', true],
      ] as const) {
        const u = await user();
        made.push(await create(u, { open, max_size: 4, hidden, ...(hidden ? {} : { label: JSON.stringify({ tag, mode }) }) }));
      }
      const list = async (q: string) => {
        const res = await http(s.url, 'GET', `/v2/party?${q}`, { auth: owner.bearer });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body as { parties?: any[]; cursor?: string };
      };
      const mine = `query=${encodeURIComponent(`+label.tag:${tag}`)}`;
      await eventually(async () => assert.equal((await list(`${mine}&limit=10`)).parties?.length, 3));
      const all = (await list(`${mine}&limit=10`)).parties!;
      assert.deepEqual(
        all.map((p) => p.party_id),
        made.slice(0, 3).map((m) => m.id),
        'oldest first',
      );
      assert.deepEqual(all[0], { party_id: made[0]!.id, open: true, max_size: 4, label: JSON.stringify({ mode: 'ranked', tag }), size: 1 });
      assert.equal(all[1].open, undefined, 'closed: open omitted');
      assert.deepEqual(
        (await list(`${mine}&open=false`)).parties!.map((p) => p.party_id),
        [made[1]!.id],
      );
      assert.deepEqual(
        (await list(`query=${encodeURIComponent(`+label.tag:${tag} +label.mode:ranked`)}`)).parties!.map((p) => p.party_id),
        [made[0]!.id, made[1]!.id],
      );
      const page1 = await list(`${mine}&limit=2`);
      assert.equal(page1.parties!.length, 2);
      const page2 = await list(`${mine}&limit=2&cursor=${page1.cursor}`);
      assert.deepEqual(
        page2.parties!.map((p) => p.party_id),
        [made[2]!.id],
      );
      assert.equal(page2.cursor, undefined);
      assert.equal((await http(s.url, 'GET', `/v2/party?${mine}&limit=3&cursor=${page1.cursor}`, { auth: owner.bearer })).status, 400);
      assert.equal(
        (await http(s.url, 'GET', '/v2/party?limit=0', { auth: owner.bearer })).body.message,
        'Invalid limit - limit must be between 1 and 100.',
      );
      assert.equal((await http(s.url, 'GET', '/v2/party')).status, 401);
      const all2 = await list('limit=100');
      assert.ok(!all2.parties?.some((p) => p.party_id === made[3]!.id), 'hidden parties are never listed');

      const first = made[0]!;
      first.room.send('party_update', { party_id: first.id, label: JSON.stringify({ tag, mode: 'casual' }), open: false });
      assert.deepEqual(await first.box.take('party_update'), {
        party_id: first.id,
        open: false,
        hidden: false,
        label: JSON.stringify({ mode: 'casual', tag }),
      });
      await eventually(async () =>
        assert.deepEqual(
          (await list(`query=${encodeURIComponent(`+label.tag:${tag} +label.mode:casual`)}`)).parties!.map((p) => [p.party_id, p.open]),
          [
            [first.id, undefined],
            [made[2]!.id, true],
          ],
        ),
      );
      for (const m of made) await m.room.leave();
      await eventually(async () => assert.equal((await list(mine)).parties, undefined));
    });

    test('no party room logged a failure', () => {
      const failures = s.logs.filter((l) => (l.level as number) >= 50 && l.room === PARTY_ROOM);
      assert.deepEqual(failures, []);
    });
  });
}
