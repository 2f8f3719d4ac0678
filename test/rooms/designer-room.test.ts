/**
 * Designer rooms (`GameRoom` subclasses registered by a runtime module) through real SDK clients:
 * matchmaking by name and `filterBy`, state sync, validation errors and thrown errors answered
 * while the room lives on, `nk` from inside the room, the match listing, creation from a module,
 * the matchmaker seating matched players in one, and a reload that changes new rooms only.
 * Runs on local presence and again on Redis (test/run.ts).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Room } from '@colyseus/sdk';
import { matchUser, overridesFor, presences } from '../support/matches.js';
import { eventually, inbox, sdk } from '../support/realtime.js';
import { http, startTestServer, type TestServer } from '../support/server.js';

const fixture = path.join(import.meta.dirname, '..', 'fixtures', 'designer-modules');
const TYPES = ['error', 'saved'];

for (const kind of presences) {
  describe(`designer rooms on ${kind} presence`, () => {
    let s: TestServer;
    let dir: string;
    before(async () => {
      // A copy of the module: the reload test rewrites it.
      dir = mkdtempSync(path.join(tmpdir(), 'tavern-designer-'));
      cpSync(fixture, dir, { recursive: true });
      writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
      s = await startTestServer({
        ...overridesFor(kind),
        runtimePath: dir,
        matchmakerIntervalMs: 100,
        runtimeEnv: '{"COUNTER_DEFAULT_MODE":"from-env"}',
      });
    });
    after(async () => {
      await s?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const state = (room: Room) =>
      room.state as { version: number; mode: string; tokens: Map<string, { x: number; y: number; name: string }> };

    test('joinOrCreate by name and filterBy; a move syncs to everyone; bad input and thrown errors are answered and the room lives on', async () => {
      const [a, b, c] = [await matchUser(s.url), await matchUser(s.url), await matchUser(s.url)];
      const mode = `m${Date.now()}`;
      const ra = await sdk(s.url, a.token).joinOrCreate('counter', { mode });
      const rb = await sdk(s.url, b.token).joinOrCreate('counter', { mode });
      const rc = await sdk(s.url, c.token).joinOrCreate('counter', { mode: `${mode}-other` });
      assert.equal(rb.roomId, ra.roomId, 'same mode: same room');
      assert.notEqual(rc.roomId, ra.roomId, 'another mode: another room');
      await eventually(() => assert.equal(state(rb).tokens.size, 2));
      assert.equal(state(rb).mode, mode);
      assert.equal(state(rb).tokens.get(ra.sessionId)?.name, a.username, 'client.auth carries the verified user');

      ra.send('move', { dx: 3, dy: -2 });
      await eventually(() => assert.deepEqual([state(rb).tokens.get(ra.sessionId)?.x, state(rb).tokens.get(ra.sessionId)?.y], [3, -2]));

      const box = inbox(ra, TYPES);
      ra.send('move', { dx: 99, dy: 0 });
      const bad = await box.take('error');
      assert.equal(bad.code, 3);
      assert.equal(bad.status, 3);
      assert.equal(bad.type, 'move');
      ra.send('boom', {});
      const boom = await box.take('error');
      assert.equal(boom.status, 13);
      assert.equal(boom.message, 'Internal server error.');
      await eventually(() => assert.ok(s.logs.some((l) => (l.err as { message?: string })?.message === 'kaboom')));
      // A timer that throws is logged too; the room goes on.
      ra.send('tick_boom', {});
      await eventually(() => assert.ok(s.logs.some((l) => JSON.stringify(l.err ?? '').includes('tick kaboom'))));
      ra.send('move', { dx: 1, dy: 0 });
      await eventually(() => assert.equal(state(rb).tokens.get(ra.sessionId)?.x, 4));
      assert.ok(
        s.logs.some((l) => l.msg === 'counter joined' && l.module !== undefined),
        'the room logs through its module logger',
      );
      for (const r of [ra, rb, rc]) await r.leave();
    });

    test('the room writes storage through nk; it is listed as an authoritative match with its metadata as label', async () => {
      const a = await matchUser(s.url);
      const label = `l${Date.now()}`;
      const room = await sdk(s.url, a.token).create('counter', { mode: 'listed', label });
      const box = inbox(room, TYPES);
      room.send('move', { dx: 5, dy: 5 });
      room.send('save', { key: 'pos' });
      await box.take('saved');
      const read = await http(s.url, 'POST', '/v2/storage', {
        auth: `Bearer ${a.token}`,
        body: { object_ids: [{ collection: 'counter', key: 'pos', user_id: a.uid }] },
      });
      assert.deepEqual(JSON.parse(read.body.objects[0].value), { x: 5, y: 5 });

      const listed = await http(s.url, 'GET', `/v2/match?limit=100&authoritative=true&query=%2Blabel.label:${label}`, {
        auth: `Bearer ${a.token}`,
      });
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.equal(listed.body.matches.length, 1);
      assert.equal(listed.body.matches[0].match_id, room.roomId);
      assert.equal(listed.body.matches[0].handler_name, 'counter');
      assert.equal(listed.body.matches[0].size, 1);
      assert.deepEqual(JSON.parse(listed.body.matches[0].label), { mode: 'listed', label });
      await room.leave();
    });

    test('a module creates one (nk.matchCreate); match_join seats a client in it; the matchmaker hook seats matched players in one', async () => {
      const a = await matchUser(s.url);
      const rpc = await http(s.url, 'POST', '/v2/rpc/counter_create', { auth: `Bearer ${a.token}`, body: JSON.stringify({ mode: 'rpc' }) });
      assert.equal(rpc.status, 200, JSON.stringify(rpc.body));
      const roomId = rpc.body.payload as string;
      const session = await sdk(s.url, a.token).create('session', {});
      const sbox = inbox(session, ['match_reservation', 'matchmaker_ticket', 'matchmaker_matched', 'error']);
      session.send('match_join', { match_id: roomId });
      const { reservation } = await sbox.take('match_reservation');
      const room = await sdk(s.url, a.token).consumeSeatReservation(reservation);
      assert.equal(room.roomId, roomId);
      await eventually(() => assert.equal(state(room).mode, 'rpc'));
      // Without a mode option the room falls back to a server setting (this.env, the modules' ctx.env).
      const plain = await sdk(s.url, a.token).create('counter', {});
      await eventually(() => assert.equal(state(plain).mode, 'from-env'));
      await plain.leave();
      await room.leave();

      const b = await matchUser(s.url);
      const bsession = await sdk(s.url, b.token).create('session', {});
      const bbox = inbox(bsession, ['match_reservation', 'matchmaker_ticket', 'matchmaker_matched', 'error']);
      const ticket = { min_count: 2, max_count: 2, query: '+properties.mode:counter', string_properties: { mode: 'counter' } };
      session.send('matchmaker_add', ticket);
      bsession.send('matchmaker_add', ticket);
      const ma = await sbox.take('matchmaker_matched', undefined, 10_000);
      const mb = await bbox.take('matchmaker_matched', undefined, 10_000);
      assert.equal(ma.match_id, mb.match_id);
      const ra = await sdk(s.url, a.token).joinById(ma.match_id);
      const rb = await sdk(s.url, b.token).joinById(mb.match_id);
      await eventually(() => assert.equal(state(rb).tokens.size, 2));
      assert.equal(state(ra).mode, 'matched');
      for (const r of [ra, rb, session, bsession]) await r.leave();
    });

    test('a reload gives new rooms the new class; running rooms keep theirs', async () => {
      const a = await matchUser(s.url);
      const old = await sdk(s.url, a.token).create('counter', { mode: 'reload' });
      await eventually(() => assert.equal(state(old).version, 1));
      const file = path.join(dir, 'counter.ts');
      writeFileSync(file, readFileSync(file, 'utf8').replace('const VERSION = 1;', 'const VERSION = 2;'));
      await s.runtime.load();
      const fresh = await sdk(s.url, a.token).create('counter', { mode: 'reload2' });
      await eventually(() => assert.equal(state(fresh).version, 2));
      old.send('move', { dx: 1, dy: 1 });
      await eventually(() => assert.equal(state(old).tokens.get(old.sessionId)?.x, 1));
      assert.equal(state(old).version, 1);
      await sleep(50);
      for (const r of [old, fresh]) await r.leave();
    });
  });
}
