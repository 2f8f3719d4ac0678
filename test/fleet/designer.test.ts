/**
 * A designer room (`GameRoom` from a runtime module) in a fleet of two processes: players
 * matchmaking through different processes by `joinOrCreate` meet in one room, wherever it was
 * placed, see each other's moves, and find it in `GET /v2/match` on either process.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Room } from '@colyseus/sdk';
import { fleetClient, hostOf, startFleet, within, type Fleet, type FleetProcess } from '../support/fleet.js';
import { eventually } from '../support/realtime.js';
import { http, newDevice } from '../support/server.js';

const modules = path.join(import.meta.dirname, '..', 'fixtures', 'designer-modules');

describe('designer rooms on a fleet of two processes', () => {
  let fleet: Fleet;
  let p0: FleetProcess;
  let p1: FleetProcess;
  before(async () => {
    fleet = await startFleet({ count: 2, runtimePath: modules, env: { TAVERN_SHUTDOWN_GRACE_SEC: '1' } });
    [p0, p1] = fleet.processes as [FleetProcess, FleetProcess];
  });
  after(async () => {
    await fleet?.stop();
  });

  const tokens = (room: Room) => (room.state as { tokens?: Map<string, { x: number }> }).tokens;

  test('players matchmaking through different processes meet in one room and see each other move', async () => {
    const mode = `fleet${Date.now()}`;
    const [a, b] = [await newDevice(p0.url), await newDevice(p1.url)];
    const ca = fleetClient(p0.url, a.token);
    const cb = fleetClient(p1.url, b.token);
    const ra = await within(ca.joinOrCreate('counter', { mode }), 'join through p0');
    const rb = await within(cb.joinOrCreate('counter', { mode }), 'join through p1');
    assert.equal(rb.roomId, ra.roomId);
    const host = hostOf(fleet, ca, ra);
    assert.ok(host, 'hosted by a fleet process');
    assert.equal(hostOf(fleet, cb, rb), host);
    await eventually(() => assert.equal(tokens(rb)?.size, 2));
    ra.send('move', { dx: 7, dy: 0 });
    await eventually(() => assert.equal(tokens(rb)?.get(ra.sessionId)?.x, 7));
    for (const p of [p0, p1]) {
      const listed = await http(p.url, 'GET', '/v2/match?limit=100&authoritative=true', { auth: `Bearer ${a.token}` });
      const m = listed.body.matches?.find((x: { match_id: string }) => x.match_id === ra.roomId);
      assert.ok(m, `listed on ${p.nodeName}`);
      assert.equal(m.size, 2);
      assert.equal(JSON.parse(m.label).mode, mode);
    }
    for (const r of [ra, rb]) await r.leave();
  });
});
