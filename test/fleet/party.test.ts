/**
 * Parties on a fleet of two processes (one PostgreSQL, one Redis): a party created through one
 * process may live on the other; users joining through either process end in its one room; the
 * listing of either process shows every party of the fleet.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Room } from '@colyseus/sdk';
import { fleetClient, hostOf, startFleet, within, type Fleet, type FleetProcess } from '../support/fleet.js';
import { fleetUser } from '../support/fleet-clients.js';
import { eventually, inbox } from '../support/realtime.js';
import { http } from '../support/server.js';

const PARTY = ['party', 'party_presence_event', 'party_leader', 'party_join_request', 'party_data', 'party_close', 'error'];

describe('parties on a fleet of two processes', () => {
  let fleet: Fleet;
  let p0: FleetProcess;
  let p1: FleetProcess;
  before(async () => {
    fleet = await startFleet({ count: 2, env: { TAVERN_SHUTDOWN_GRACE_SEC: '1' } });
    [p0, p1] = fleet.processes as [FleetProcess, FleetProcess];
  });
  after(async () => {
    await fleet?.stop();
  });

  const user = fleetUser;
  type User = Awaited<ReturnType<typeof user>>;
  const presenceOf = (u: User) => ({ user_id: u.uid, session_id: u.sid, username: u.username });

  /** Creates parties through `via` until one lives on `host` (rooms go to the least loaded process). */
  async function partyOn(host: FleetProcess, via: FleetProcess, options: Record<string, unknown>) {
    const spare: Room[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const leader = await user(via);
        const client = fleetClient(via.url, leader.token);
        const room = await within(client.create('party', options), `a party through ${via.nodeName}`);
        const box = inbox(room, PARTY);
        if (hostOf(fleet, client, room) === host) return { leader, room, box, id: (await box.take('party')).party_id as string };
        spare.push(room);
      }
      throw new Error(`no party landed on ${host.nodeName}`);
    } finally {
      for (const r of spare) await r.leave();
    }
  }

  test('created through one process, hosted on the other; joined and listed through either', async () => {
    const a = await partyOn(p0, p1, { open: true, max_size: 3, label: '{"fleet":"yes"}' });
    const bob = await user(p1);
    const bobClient = fleetClient(p1.url, bob.token);
    const b = await within(bobClient.joinById(a.room.roomId), 'joining through the other process');
    assert.equal(hostOf(fleet, bobClient, b), p0, 'the client was sent to the process that owns the room');
    const bbox = inbox(b, PARTY);
    assert.deepEqual((await bbox.take('party')).presences, [presenceOf(a.leader), presenceOf(bob)]);
    await a.box.take('party_presence_event', (e) => e.joins?.[0]?.user_id === bob.uid);

    b.send('party_data_send', { op_code: 2, data: 'eA==' });
    assert.equal((await a.box.take('party_data')).presence.user_id, bob.uid);

    for (const p of [p0, p1]) {
      await eventually(async () => {
        const res = await http(p.url, 'GET', `/v2/party?query=${encodeURIComponent('+label.fleet:yes')}`, { auth: bob.bearer });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(res.body.parties, [{ party_id: a.id, open: true, max_size: 3, label: '{"fleet":"yes"}', size: 2 }]);
      });
    }

    a.room.send('party_close', { party_id: a.id });
    assert.deepEqual(await bbox.take('party_close'), { party_id: a.id });
    for (const p of [p0, p1]) {
      await eventually(async () => {
        const res = await http(p.url, 'GET', `/v2/party?query=${encodeURIComponent('+label.fleet:yes')}`, { auth: bob.bearer });
        assert.equal(res.body.parties, undefined);
      });
    }
  });

  test('a closed party on one process: a requester joining through the other is accepted by the leader', async () => {
    const a = await partyOn(p1, p0, { open: false, max_size: 2 });
    const carol = await user(p0);
    const c = await within(fleetClient(p0.url, carol.token).joinById(a.room.roomId), 'requesting through the other process');
    const cbox = inbox(c, PARTY);
    assert.deepEqual(await a.box.take('party_join_request'), { party_id: a.id, presences: [presenceOf(carol)] });
    a.room.send('party_accept', { party_id: a.id, presence: presenceOf(carol) });
    assert.deepEqual((await cbox.take('party')).leader, presenceOf(a.leader));
    await a.room.leave();
    assert.deepEqual(await cbox.take('party_leader'), { party_id: a.id, presence: presenceOf(carol) });
    await c.leave();
  });
});
