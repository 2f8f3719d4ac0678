/**
 * Authoritative matches in the `match` room through real SDK clients against a real server, on
 * local presence and on Redis presence, with the `arena` test module: join rejection, signals,
 * loop messages, schema state sync with per-client views, a throwing handler ending only its
 * match, the loop ending a match, and termination on shutdown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { b64, joinMatch, leftWith, matchUser, overridesFor, presences, text } from '../support/matches.js';
import { eventually, sdk } from '../support/realtime.js';
import { http, newDevice, startTestServer, type TestServer } from '../support/server.js';

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

    test('authoritative: created by nk or an RPC; joins are asked first and a refusal carries its reason', async () => {
      const a = await user();
      const rpc = await http(s.url, 'POST', '/v2/rpc/arena_create', {
        auth: a.bearer,
        rawBody: JSON.stringify(JSON.stringify({ label: { suite: `join-${kind}` } })),
      });
      assert.equal(rpc.status, 200, JSON.stringify(rpc.body));
      const matchId = rpc.body.payload as string;
      await assert.rejects(
        sdk(s.url, a.token).joinById(matchId, { metadata: { reject: true } }),
        (err: { code?: number; message?: string }) => {
          assert.equal(err.code, 5);
          assert.equal(err.message, 'no entry for you');
          return true;
        },
      );
      const ja = await join(a.token, matchId);
      assert.equal(ja.welcome.authoritative, true);
      assert.equal(ja.welcome.label, JSON.stringify({ suite: `join-${kind}` }));
      assert.equal(ja.welcome.size, 1);
      await eventually(async () => assert.equal((await s.runtime.nk.matchGet(matchId))?.size, 1));
      await assert.rejects(s.runtime.nk.matchCreate('no_such_handler', {}), (err: { code?: number; message?: string }) => {
        assert.equal(err.code, 5);
        assert.equal(err.message, 'Match handler "no_such_handler" not found.');
        return true;
      });
      const noisy = s.logs.filter((l) => (l.level as number) >= 50 && (l.roomId === matchId || /no_such_handler/.test(JSON.stringify(l))));
      assert.deepEqual(noisy, [], 'refused joins and unknown handlers are not server errors');
      await ja.room.leave();
    });

    test('authoritative: the loop gets messages and answers with broadcasts, deferred echoes, label updates and kicks', async () => {
      const [a, b] = [await user(), await user()];
      const matchId = await arena({ label: { suite: `loop-${kind}` } });
      const ja = await join(a.token, matchId);
      const jb = await join(b.token, matchId);
      ja.room.send('match_data_send', { op_code: 1, data: b64('echo') });
      for (const j of [ja, jb]) {
        const echo = await j.box.take('match_data', (d) => d.op_code === 101);
        assert.equal(text(echo.data), 'echo');
        assert.equal(echo.presence.user_id, a.uid);
      }
      jb.room.send('match_data_send', { op_code: 2, data: b64('back to me') });
      assert.equal(text((await jb.box.take('match_data', (d) => d.op_code === 102)).data), 'back to me');
      await ja.box.none('match_data', (d) => d.op_code === 102, 200);
      ja.room.send('match_data_send', { op_code: 3, data: b64('{"mode":"relabelled"}') });
      await eventually(async () => assert.equal((await s.runtime.nk.matchGet(matchId))?.label, '{"mode":"relabelled"}'));
      const kicked = leftWith(jb.room);
      jb.room.send('match_data_send', { op_code: 4 });
      assert.equal(await kicked, 4000);
      await ja.box.take('match_presence_event', (e) => e.leaves?.[0]?.user_id === b.uid);
      await ja.room.leave();
    });

    test('authoritative: signals round-trip through the room; unknown and relayed matches are not found', async () => {
      const a = await user();
      const matchId = await arena({ label: { suite: `signal-${kind}` } });
      assert.equal(await s.runtime.nk.matchSignal(matchId, 'ping'), 'pong:ping:ok');
      // As after a dev reload without the handler: the running match keeps the object it started with.
      const registered = s.runtime.registry.matches.get('arena')!;
      s.runtime.registry.matches.delete('arena');
      try {
        assert.equal(await s.runtime.nk.matchSignal(matchId, 'still'), 'pong:still:ok');
        await assert.rejects(arena(), (err: { code?: number }) => err.code === 5);
      } finally {
        s.runtime.registry.matches.set('arena', registered);
      }
      await assert.rejects(s.runtime.nk.matchSignal('nosuchmatch', 'ping'), (err: { code?: number }) => err.code === 5);
      const relayed = await sdk(s.url, a.token).create('match', {});
      await assert.rejects(s.runtime.nk.matchSignal(relayed.roomId, 'ping'), (err: { code?: number }) => err.code === 5);
      await relayed.leave();
      assert.equal(await s.runtime.nk.matchSignal(matchId, 'stop'), '');
      await eventually(async () => assert.equal(await s.runtime.nk.matchGet(matchId), null));
    });

    test('authoritative: a schema state is synchronised as the loop moves it, and views hide what is not yours', async () => {
      const [a, b] = [await user(), await user()];
      const matchId = await arena({ schema: true, label: { suite: `schema-${kind}` } });
      const ja = await join(a.token, matchId);
      const jb = await join(b.token, matchId);
      const state = () => ja.room.state as any;
      await eventually(() => assert.ok(state()?.entity?.x > 2));
      const x = state().entity.x as number;
      await eventually(() => assert.ok(state().entity.x >= x + 3, `entity stuck at ${state().entity.x}`));
      await eventually(() => {
        assert.equal(state().players.size, 2);
        assert.equal(state().players.get(ja.sessionId).secret, `secret of ${a.username}`);
        assert.equal(state().players.get(jb.sessionId).name, b.username);
        assert.notEqual(state().players.get(jb.sessionId).secret, `secret of ${b.username}`);
        assert.equal((jb.room.state as any).players.get(jb.sessionId).secret, `secret of ${b.username}`);
        assert.notEqual((jb.room.state as any).players.get(ja.sessionId).secret, `secret of ${a.username}`);
      });
      await jb.room.leave();
      await eventually(() => assert.equal(state().players.size, 1));
      await ja.room.leave();
    });

    test('a handler that throws is logged and ends only its own match', async () => {
      const [a, b] = [await user(), await user()];
      const doomed = await arena({ failAtTick: 5, label: { suite: `fail-${kind}` } });
      const healthy = await arena({ schema: true, label: { suite: `fail-${kind}` } });
      const ja = await join(a.token, doomed);
      const jb = await join(b.token, healthy);
      const left = leftWith(ja.room);
      assert.equal(await left, 4002);
      await eventually(() => {
        const line = s.logs.find((l) => l.msg === 'match handler failed: ending its match' && l.matchId === doomed);
        assert.ok(line, 'the failure is logged');
        assert.equal(line.level, 50);
        assert.equal(line.hook, 'matchLoop');
        assert.match(String((line.err as { message?: string }).message), /arena exploded/);
      });
      assert.equal(await s.runtime.nk.matchGet(doomed), null);
      assert.equal(await s.runtime.nk.matchSignal(healthy, 'alive'), 'pong:alive:ok');
      const x = (jb.room.state as any).entity.x as number;
      await eventually(() => assert.ok((jb.room.state as any).entity.x > x + 1));
      // A message that makes the loop throw ends that match too; the process is fine.
      const again = await arena({ label: { suite: `fail-${kind}` } });
      const jc = await join(a.token, again);
      const gone = leftWith(jc.room);
      jc.room.send('match_data_send', { op_code: 9 });
      assert.equal(await gone, 4002);
      assert.equal((await http(s.url, 'GET', '/healthcheck')).status < 500, true);
      await jb.room.leave();
    });

    test('a loop that returns null ends the match; its clients leave', async () => {
      const a = await user();
      const matchId = await arena({ endAfter: 4, label: { suite: `end-${kind}` } });
      const ja = await join(a.token, matchId);
      assert.equal(await leftWith(ja.room), 4000);
      assert.equal(await s.runtime.nk.matchGet(matchId), null);
    });
  });

  // Its own server, after the suite's one stopped: Colyseus's matchmaker is one per process.
  describe(`match shutdown on ${kind} presence`, () => {
    test('shutdown: matchTerminate gets the grace period, then the match closes', async () => {
      const own = await startTestServer(overridesFor(kind));
      let stopped = false;
      try {
        const d = await newDevice(own.url);
        const matchId = await own.runtime.nk.matchCreate('arena', { label: { suite: 'shutdown' } });
        const room = await sdk(own.url, d.token).joinById(matchId);
        const left = leftWith(room);
        const started = Date.now();
        await own.stop();
        stopped = true;
        assert.equal(await left, 4001);
        assert.ok(Date.now() - started >= 900, 'the match ran through its grace period');
        const line = own.logs.find((l) => l.msg === 'arena terminating');
        assert.equal(line?.graceSeconds, 1);
        assert.ok(own.logs.some((l) => l.msg === 'match ended' && l.matchId === matchId && l.reason === 'terminated'));
      } finally {
        if (!stopped) await own.stop();
      }
    });
  });
}
