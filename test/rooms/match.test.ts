/**
 * The `match` room through real SDK clients against a real server, on local presence and on
 * Redis presence: relayed matches (data to targets only, joins and leaves as state and events, a
 * dropped client keeping its seat), listing through REST and `nk` with label queries, and
 * `match_join` from the session room. Authoritative matches are in match-authoritative.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { b64, joinMatch, matchUser, MESSAGES, overridesFor, presences, text } from '../support/matches.js';
import { eventually, inbox, sdk, serverSocketOf } from '../support/realtime.js';
import { http, startTestServer, type TestServer } from '../support/server.js';

for (const kind of presences) {
  describe(`matches on ${kind} presence`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(overridesFor(kind));
    });
    after(async () => {
      await s?.stop();
    });

    const user = () => matchUser(s.url);
    const join = (token: string, matchId: string, options?: Record<string, unknown>) => joinMatch(s.url, token, matchId, options);
    const arena = (params: Record<string, unknown> = {}) => s.runtime.nk.matchCreate('arena', params);

    test('relayed: joins and leaves are state and events; data reaches the others, or only its targets', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      const ra = await sdk(s.url, a.token).create('match', {});
      const boxA = inbox(ra, MESSAGES);
      const welcomeA = await boxA.take('match');
      assert.equal(welcomeA.match_id, ra.roomId);
      assert.equal(welcomeA.authoritative, false);
      assert.equal(welcomeA.size, 1);
      assert.deepEqual(welcomeA.self, { user_id: a.uid, session_id: welcomeA.self.session_id, username: a.username });

      const jb = await join(b.token, ra.roomId);
      assert.equal(jb.welcome.size, 2);
      assert.deepEqual(jb.welcome.presences.map((p: { user_id: string }) => p.user_id).sort(), [a.uid, b.uid].sort());
      const joinB = await boxA.take('match_presence_event');
      assert.deepEqual(joinB, { match_id: ra.roomId, joins: [{ user_id: b.uid, session_id: jb.sessionId, username: b.username }] });
      const jc = await join(c.token, ra.roomId);
      await boxA.take('match_presence_event', (e) => e.joins?.[0]?.user_id === c.uid);
      await jb.box.take('match_presence_event', (e) => e.joins?.[0]?.user_id === c.uid);
      for (const room of [ra, jb.room, jc.room]) await eventually(() => assert.equal((room.state as any).presences.size, 3));
      assert.equal((ra.state as any).presences.get(jc.sessionId).username, c.username);

      ra.send('match_data_send', { op_code: 1, data: b64('hello all') });
      for (const box of [jb.box, jc.box]) {
        const data = await box.take('match_data');
        assert.deepEqual(data, {
          match_id: ra.roomId,
          presence: { user_id: a.uid, session_id: welcomeA.self.session_id, username: a.username },
          op_code: 1,
          data: b64('hello all'),
          reliable: true,
        });
      }
      ra.send('match_data_send', { op_code: 2, data: b64('psst'), presences: [jb.sessionId], reliable: false });
      assert.equal(text((await jb.box.take('match_data', (d) => d.op_code === 2)).data), 'psst');
      jc.room.send('match_data_send', { op_code: '3', presences: [{ session_id: welcomeA.self.session_id, user_id: a.uid }] });
      assert.equal((await boxA.take('match_data')).op_code, 3);
      await jc.box.none('match_data', (d) => d.op_code === 2, 200);
      await jb.box.none('match_data', (d) => d.op_code === 3, 0);
      await boxA.none('match_data', (d) => d.op_code !== 3, 0);

      await jc.room.leave();
      const leave = await boxA.take('match_presence_event', (e) => e.leaves !== undefined);
      assert.deepEqual(leave.leaves, [{ user_id: c.uid, session_id: jc.sessionId, username: c.username }]);
      await jb.box.take('match_presence_event', (e) => e.leaves?.[0]?.user_id === c.uid);
      await eventually(() => assert.equal((ra.state as any).presences.size, 2));
      await ra.leave();
      await jb.room.leave();
    });

    test('relayed: oversized or malformed data gets an error and the match lives on', async () => {
      const [a, b] = [await user(), await user()];
      const ra = await sdk(s.url, a.token).create('match', {});
      const boxA = inbox(ra, MESSAGES);
      await boxA.take('match');
      const jb = await join(b.token, ra.roomId);
      ra.send('match_data_send', { op_code: 1, data: 'A'.repeat(5000) });
      const tooLarge = await boxA.take('error');
      assert.equal(tooLarge.code, 3);
      assert.equal(tooLarge.type, 'match_data_send');
      assert.match(tooLarge.message, /too large/);
      ra.send('match_data_send', { op_code: 'one' });
      assert.equal((await boxA.take('error')).code, 3);
      ra.send('match_data_send', { op_code: 1, data: 'not base64!' });
      assert.equal((await boxA.take('error')).code, 3);
      ra.send('match_data_send', { match_id: 'elsewhere', op_code: 1 });
      assert.equal((await boxA.take('error')).code, 4);
      ra.send('match_data_send', { op_code: 7, data: b64('fine') });
      assert.equal((await jb.box.take('match_data')).op_code, 7);
      await ra.leave();
      await jb.room.leave();
    });

    test('a dropped client that reconnects within the window keeps its seat', async () => {
      const [a, b] = [await user(), await user()];
      const ra = await sdk(s.url, a.token).create('match', {});
      const boxA = inbox(ra, MESSAGES);
      await boxA.take('match');
      const jb = await join(b.token, ra.roomId);
      await boxA.take('match_presence_event');
      jb.room.reconnection.minUptime = 0; // the SDK otherwise gives up on rooms joined < 5 s ago
      const reconnected = new Promise<void>((resolve) => jb.room.onReconnect(() => resolve()));
      serverSocketOf(jb.room).terminate();
      await reconnected;
      ra.send('match_data_send', { op_code: 5, data: b64('still there?'), presences: [jb.sessionId] });
      assert.equal(text((await jb.box.take('match_data')).data), 'still there?');
      await boxA.none('match_presence_event', () => true, 200);
      assert.equal((ra.state as any).presences.size, 2);
      await jb.room.leave();
      await boxA.take('match_presence_event', (e) => e.leaves?.[0]?.user_id === b.uid);
      await ra.leave();
    });

    test('listing: REST and nk select by label, query (+, -, ranges, phrases, arrays), size and authority', async () => {
      const a = await user();
      const suite = `list-${kind}-${Date.now()}`;
      const labels = {
        r1: { suite, mode: 'ranked', level: 10, region: 'eu', tags: ['pvp'], name: 'the big one' },
        r2: { suite, mode: 'ranked', level: 25, region: 'us', tags: ['pvp', 'night'], name: 'late' },
        c1: { suite, mode: 'casual', level: 3, region: 'eu', tags: ['pve'], name: 'the big one' },
      };
      const ids: Record<string, string> = {};
      for (const [k, label] of Object.entries(labels)) {
        ids[k] = await arena({ label });
        await sleep(5); // distinct creation times: newest first
      }
      const j = await join(a.token, ids.r2!);
      await eventually(async () => assert.equal((await s.runtime.nk.matchGet(ids.r2!))?.size, 1));
      const list = async (query: string) => {
        const res = await http(s.url, 'GET', `/v2/match?${query}`, { auth: a.bearer });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return ((res.body.matches ?? []) as { match_id: string }[]).map(
          (m) => Object.entries(ids).find(([, id]) => id === m.match_id)?.[0] ?? m.match_id,
        );
      };
      const q = (query: string) => list(`limit=100&authoritative=true&query=${encodeURIComponent(`+label.suite:${suite} ${query}`)}`);
      assert.deepEqual(await q('+label.mode:ranked'), ['r2', 'r1']);
      assert.deepEqual(await q('+mode:ranked -region:us'), ['r1']);
      assert.deepEqual(await q('+label.level:>=10 +label.level:<20'), ['r1']);
      assert.deepEqual(await q('+label.level:>5'), ['r2', 'r1']);
      assert.deepEqual(await q('+label.name:"the big one"'), ['c1', 'r1']);
      assert.deepEqual(await q('+label.tags:night'), ['r2']);
      assert.deepEqual(await q('region:eu^3 mode:ranked'), ['r1', 'c1', 'r2'], 'optional terms rank, boosts weigh');
      assert.deepEqual(await list(`limit=100&min_size=1&query=${encodeURIComponent(`+label.suite:${suite}`)}`), ['r2']);
      assert.deepEqual(await list(`limit=100&maxSize=0&query=${encodeURIComponent(`+label.suite:${suite}`)}`), ['c1', 'r1']);
      assert.deepEqual(await list(`limit=100&label=${encodeURIComponent(JSON.stringify(labels.c1))}`), ['c1']);
      assert.deepEqual(await q('+mode:ranked').then((x) => x.length), 2);
      assert.deepEqual((await list(`limit=1&query=${encodeURIComponent(`+label.suite:${suite}`)}`)).length, 1);

      const res = await http(s.url, 'GET', `/v2/match?limit=100&query=${encodeURIComponent(`+label.suite:${suite} +label.mode:casual`)}`, {
        auth: a.bearer,
      });
      assert.deepEqual(res.body, {
        matches: [{ match_id: ids.c1, authoritative: true, label: JSON.stringify(labels.c1), tick_rate: 10, handler_name: 'arena' }],
      });

      // Relayed matches are listed when authority is not asked for, or asked to be false.
      const relayed = await sdk(s.url, a.token).create('match', {});
      await eventually(async () => {
        assert.ok((await list('limit=100')).includes(relayed.roomId));
        assert.ok((await list('limit=100&authoritative=false')).includes(relayed.roomId));
        assert.ok(!(await list('limit=100&authoritative=true')).includes(relayed.roomId));
      });
      const relayedWire = (await http(s.url, 'GET', '/v2/match?limit=100&authoritative=false', { auth: a.bearer })).body.matches.find(
        (m: { match_id: string }) => m.match_id === relayed.roomId,
      );
      assert.deepEqual(relayedWire, { match_id: relayed.roomId, size: 1 });

      // Errors follow Nakama.
      const bad = async (query: string, message: string | RegExp) => {
        const r = await http(s.url, 'GET', `/v2/match?${query}`, { auth: a.bearer });
        assert.equal(r.status, 400, query);
        if (typeof message === 'string') assert.equal(r.body.message, message);
        else assert.match(r.body.message, message);
      };
      await bad('limit=0', 'Invalid limit - limit must be between 1 and 100.');
      await bad('limit=abc', 'Invalid limit - limit must be between 1 and 100.');
      await bad('authoritative=false&label=x', 'Label filtering is not supported for non-authoritative matches.');
      await bad('authoritative=false&query=*', 'Query filtering is not supported for non-authoritative matches.');
      await bad('min_size=3&max_size=2', 'Maximum size must be greater than or equal to minimum size when both are specified.');
      await bad(`query=${encodeURIComponent('+mode:"open')}`, /unterminated quote/);
      assert.equal((await http(s.url, 'GET', '/v2/match')).status, 401);

      // nk: Nakama's argument order; limit defaults to 1.
      const nk = s.runtime.nk;
      assert.deepEqual(
        (await nk.matchList(10, true, null, null, null, `+label.suite:${suite} +label.tags:pvp`)).map((m) => m.matchId),
        [ids.r2, ids.r1],
      );
      assert.equal((await nk.matchList(undefined, true, null, null, null, `+label.suite:${suite}`)).length, 1);
      const got = await nk.matchGet(ids.r1!);
      assert.deepEqual(got, {
        matchId: ids.r1,
        authoritative: true,
        label: JSON.stringify(labels.r1),
        size: 0,
        tickRate: 10,
        handlerName: 'arena',
      });
      assert.equal(await nk.matchGet('nosuchmatch'), null);
      await assert.rejects(nk.matchList(0), /Invalid limit/);

      await j.room.leave();
      await relayed.leave();
      for (const id of Object.values(ids)) await nk.matchSignal(id, 'stop');
    });

    test('match_join from the session room answers with a seat reservation the client consumes', async () => {
      const a = await user();
      const client = sdk(s.url, a.token);
      const session = await client.create('session');
      const box = inbox(session, ['match_reservation', 'error']);
      const matchId = await arena({ label: { suite: `seat-${kind}` } });
      session.send('match_join', { match_id: matchId });
      const { match_id, reservation } = await box.take('match_reservation');
      assert.equal(match_id, matchId);
      const room = await client.consumeSeatReservation(reservation);
      const mbox = inbox(room, MESSAGES);
      const welcome = await mbox.take('match');
      assert.equal(welcome.match_id, matchId);
      assert.equal(welcome.self.user_id, a.uid);

      session.send('match_join', { match_id: matchId, metadata: { reject: 'true' } });
      const refused = await box.take('match_reservation');
      await assert.rejects(client.consumeSeatReservation(refused.reservation), (err: { code?: number }) => err.code === 5);

      session.send('match_join', { match_id: 'nosuchmatch' });
      const err = await box.take('error');
      assert.equal(err.code, 4);
      assert.equal(err.type, 'match_join');
      await room.leave();
      await session.leave();
      await s.runtime.nk.matchSignal(matchId, 'stop');
    });
  });
}
