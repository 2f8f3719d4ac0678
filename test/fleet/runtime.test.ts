/**
 * Three Tavern processes on one PostgreSQL and one Redis (a fleet), with the `fleet` test module:
 * an authoritative match created by an RPC on one process is listed, joined, signalled and looked
 * up through the others; every process answers RPCs (HTTP and realtime) with its own node name;
 * leaderboard and tournament period hooks run exactly once per period across the fleet.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Room } from '@colyseus/sdk';
import { fleetClient, hostOf, startFleet, within, problems, type Fleet, type FleetProcess } from '../support/fleet.js';
import { fleetRpc, fleetSession, fleetUser } from '../support/fleet-clients.js';
import { eventually, inbox } from '../support/realtime.js';
import { http } from '../support/server.js';

const modules = path.join(import.meta.dirname, '..', 'fixtures', 'fleet-modules');
const MATCH = ['match', 'match_presence_event', 'match_data', 'error'];
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const text = (s: string) => Buffer.from(s, 'base64').toString();

describe('a fleet of three processes: matches, RPCs and period hooks', () => {
  let fleet: Fleet;
  let p0: FleetProcess;
  let p1: FleetProcess;
  before(async () => {
    fleet = await startFleet({ count: 3, runtimePath: modules, env: { TAVERN_SHUTDOWN_GRACE_SEC: '1' } });
    [p0, p1] = fleet.processes as [FleetProcess, FleetProcess];
  });
  after(async () => {
    await fleet?.stop();
  });

  const user = fleetUser;
  const rpc = fleetRpc;
  const session = fleetSession;

  test('a match created by an RPC on one process is listed, joined, signalled and found through another', async () => {
    const suite = unique('crossing');
    const matchId = await rpc(p0, 'match_create', { label: { suite } });
    assert.ok(matchId, 'match_create returns the match id');

    const [alice, bob] = [await user(p1), await user(p0)];
    const listed = await http(p1.url, 'GET', `/v2/match?limit=10&authoritative=true&query=${encodeURIComponent(`+label.suite:${suite}`)}`, {
      auth: alice.bearer,
    });
    assert.equal(listed.status, 200, `${JSON.stringify(listed.body)}\n${problems(p1)}`);
    assert.equal(listed.body.matches?.length, 1, JSON.stringify(listed.body));
    const [m] = listed.body.matches;
    assert.equal(m.match_id, matchId);
    assert.equal(m.authoritative, true);
    assert.equal(m.handler_name, 'fleet_match');
    const label = JSON.parse(m.label) as { suite: string; node: string };
    assert.equal(label.suite, suite);
    const host = fleet.processes.find((p) => p.nodeName === label.node);
    assert.ok(host, `the label names a fleet node (${label.node})`);

    // Alice, connected to process 1, joins through her session room's match_join.
    const a = await session(p1, alice.token);
    const abox = inbox(a.room, ['match_reservation', 'error']);
    a.room.send('match_join', { match_id: matchId });
    const { reservation } = await abox.take('match_reservation');
    const ra: Room = await within(a.client.consumeSeatReservation(reservation), 'the seat reservation from match_join');
    const ma = inbox(ra, MATCH);
    const welcome = await ma.take('match');
    assert.equal(welcome.match_id, matchId);
    assert.equal(welcome.authoritative, true);
    assert.equal(welcome.self.user_id, alice.uid);
    assert.equal(hostOf(fleet, a.client, ra), host, 'the seat is on the process the label names');

    // Bob, through process 0, joins by id; data flows both ways through the handler.
    const cb = fleetClient(p0.url, bob.token);
    const rb = await within(cb.joinById(matchId), 'joinById through process 0');
    const mb = inbox(rb, MATCH);
    await mb.take('match');
    await ma.take('match_presence_event', (e) => e.joins?.[0]?.user_id === bob.uid);

    ra.send('match_data_send', { op_code: 1, data: b64('from alice') });
    for (const box of [ma, mb]) {
      const echo = await box.take('match_data', (d) => d.op_code === 101);
      assert.equal(text(echo.data), 'from alice');
      assert.equal(echo.presence.user_id, alice.uid);
    }
    rb.send('match_data_send', { op_code: 1, data: b64('from bob') });
    assert.equal(text((await ma.take('match_data', (d) => d.op_code === 101)).data), 'from bob');
    rb.send('match_data_send', { op_code: 2 });
    assert.equal(text((await mb.take('match_data', (d) => d.op_code === 102)).data), label.node, 'the match runs where its label says');

    // nk.matchGet and nk.matchSignal from an RPC on process 1 reach it.
    await eventually(async () => {
      const got = JSON.parse((await rpc(p1, 'match_get', { match_id: matchId }))!) as { matchId: string; size: number; label: string };
      assert.equal(got.matchId, matchId);
      assert.equal(got.label, m.label);
      assert.equal(got.size, 2);
    });
    const answer = JSON.parse((await rpc(p1, 'match_signal', { match_id: matchId, data: 'hello' }))!) as { data: string; node: string };
    assert.deepEqual(answer, { data: 'hello', node: label.node });

    // Ended by a signal from the process that did not create it: gone from every listing.
    const left = new Promise<number>((resolve) => ra.onLeave((code) => resolve(code)));
    const bobLeft = new Promise<number>((resolve) => rb.onLeave((code) => resolve(code)));
    await rpc(p1, 'match_signal', { match_id: matchId, data: 'stop' });
    await within(Promise.all([left, bobLeft]), 'the stopped match to close its clients');
    for (const p of fleet.processes) {
      await eventually(async () => {
        const res = await http(p.url, 'GET', `/v2/match?limit=10&query=${encodeURIComponent(`+label.suite:${suite}`)}`, {
          auth: alice.bearer,
        });
        assert.deepEqual(res.body.matches ?? [], [], `${p.nodeName} no longer lists it`);
      });
    }
    assert.equal(await rpc(p0, 'match_get', { match_id: matchId }), 'null');
    await a.room.leave();
  });

  test('every process answers RPCs over HTTP and over the realtime rpc message with its own node name', async () => {
    for (const p of fleet.processes) {
      const byKey = JSON.parse((await rpc(p, 'whoami'))!) as { node: string; userId: string | null };
      assert.deepEqual(byKey, { node: p.nodeName, userId: null });
      const u = await user(p);
      const res = await http(p.url, 'GET', '/v2/rpc/whoami', { auth: u.bearer });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(JSON.parse(res.body.payload), { node: p.nodeName, userId: u.uid });

      const s = await session(p, u.token);
      assert.equal(hostOf(fleet, s.client, s.room), p, 'the session room is on the process its client asked');
      const box = inbox(s.room, ['rpc', 'error']);
      s.room.send('rpc', { id: 'whoami', payload: '' });
      const answer = await box.take('rpc');
      assert.equal(answer.id, 'whoami');
      assert.deepEqual(JSON.parse(answer.payload), { node: p.nodeName, userId: u.uid });
      await s.room.leave();
    }
  });

  test('leaderboard and tournament period hooks run exactly once per period across the fleet', async (t) => {
    const leaderboard = unique('fleet-lb');
    const tournament = unique('fleet-t');
    // Six-field cron (seconds first) is accepted; 3 divides 60, so resets fall on epoch seconds divisible by 3.
    const period = 3;
    const setup = JSON.parse(
      (await rpc(p0, 'periods_setup', { leaderboard, tournament, schedule: `*/${period} * * * * *`, duration: 2 }))!,
    ) as {
      now: number;
    };
    const created = setup.now;
    // Long enough for at least four periods of each board.
    await sleep((4 * period + 2) * 1000);
    const checked = Math.floor(Date.now() / 1000);
    const runs = JSON.parse((await rpc(fleet.processes[2]!, 'periods_list'))!) as { kind: string; id: string; at: number; node: string }[];
    const ours = runs.filter((r) => r.id === leaderboard || r.id === tournament);

    const byPeriod = new Map<string, typeof ours>();
    for (const r of ours) {
      const k = `${r.kind} ${r.id} ${r.at}`;
      byPeriod.set(k, [...(byPeriod.get(k) ?? []), r]);
    }
    const doubles = [...byPeriod].filter(([, list]) => list.length > 1).map(([k, list]) => `${k}: ${list.map((r) => r.node).join(', ')}`);
    assert.deepEqual(doubles, [], 'no period hook ran twice');

    // Every reset boundary between creation and (a scheduler tick before) the check ran once.
    const boundaries: number[] = [];
    for (let t = created + 1; t <= checked - 2; t++) if (t % period === 0) boundaries.push(t);
    assert.ok(boundaries.length >= 3, `waited over three periods (${boundaries.length})`);
    const ats = (kind: string, id: string) =>
      ours
        .filter((r) => r.kind === kind && r.id === id)
        .map((r) => r.at)
        .sort((x, y) => x - y);
    const lbResets = ats('leaderboard_reset', leaderboard);
    const tResets = ats('tournament_reset', tournament);
    const tEnds = ats('tournament_end', tournament);
    const perNode: Record<string, number> = {};
    for (const r of ours) perNode[r.node] = (perNode[r.node] ?? 0) + 1;
    t.diagnostic(`${ours.length} hook runs over ${boundaries.length} periods, by node: ${JSON.stringify(perNode)}`);
    const summary = JSON.stringify({ created, checked, lbResets, tResets, tEnds, nodes: ours.map((r) => r.node) });
    for (const b of boundaries) {
      assert.ok(lbResets.includes(b), `leaderboard reset at ${b} ran: ${summary}`);
      assert.ok(tResets.includes(b), `tournament reset at ${b} ran: ${summary}`);
    }
    for (const at of [...lbResets, ...tResets, ...tEnds])
      assert.ok(at > created && at <= checked, `no hook for a period outside the wait: ${summary}`);
    // Each full period's active window (2 s) closes once, a second before its reset.
    for (const b of boundaries.slice(0, -1)) assert.ok(tEnds.includes(b + 2), `tournament end at ${b + 2} ran: ${summary}`);
  });
});
