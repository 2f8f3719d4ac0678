/**
 * Processes leaving a fleet. A crash (SIGKILL): within 10 s the survivors drop the dead process's
 * rooms from the listings, a channel it hosted is created afresh on a survivor, its users go
 * offline for their followers, and clients of the survivors keep working. A drain (SIGTERM): the
 * process tells its clients `server_shutdown` with its grace period, runs its matches' terminate
 * handlers, exits with 0, and its matches leave the listings.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Room } from '@colyseus/sdk';
import { fleetClient, hostOf, startFleet, within, problems, type Fleet, type FleetClient, type FleetProcess } from '../support/fleet.js';
import { fleetRpc, fleetSession, fleetUser } from '../support/fleet-clients.js';
import { eventually, inbox } from '../support/realtime.js';
import { http } from '../support/server.js';

const modules = path.join(import.meta.dirname, '..', 'fixtures', 'fleet-modules');
const CHAT = ['channel_message', 'channel_message_ack', 'channel_presence_event', 'error'];
const CRASH_BOUND_MS = 10_000;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

describe('a fleet losing processes: crash and drain', () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await startFleet({ count: 3, runtimePath: modules, env: { TAVERN_SHUTDOWN_GRACE_SEC: '1' } });
  });
  after(async () => {
    await fleet?.stop();
  });

  const running = () => fleet.processes.filter((p) => !p.exited);
  const user = fleetUser;
  const rpc = fleetRpc;
  const session = fleetSession;
  /** Creates a `fleet_match` through `via`; returns its id and the node its label names. */
  async function match(via: FleetProcess, suite: string) {
    const matchId = (await rpc(via, 'match_create', { label: { suite } }))!;
    const got = JSON.parse((await rpc(via, 'match_get', { match_id: matchId }))!) as { label: string };
    return { matchId, node: (JSON.parse(got.label) as { node: string }).node };
  }
  async function listed(p: FleetProcess, bearer: string, suite: string): Promise<string[]> {
    const res = await http(p.url, 'GET', `/v2/match?limit=100&query=${encodeURIComponent(`+label.suite:${suite}`)}`, { auth: bearer });
    assert.equal(res.status, 200, `GET /v2/match on ${p.nodeName}: ${JSON.stringify(res.body)}\n${problems(p)}`);
    return ((res.body.matches ?? []) as { match_id: string }[]).map((m) => m.match_id);
  }

  test('a killed process: its rooms leave the listings within 10 s, its channels move, its users go offline', async (t) => {
    const suite = unique('crash');
    // Rooms go to the least loaded process: make matches and channels until one process hosts both.
    const matches: { matchId: string; node: string }[] = [];
    const channels: { name: string; client: FleetClient; room: Room; host: FleetProcess | undefined }[] = [];
    const hostsBoth = () => running().find((p) => matches.some((m) => m.node === p.nodeName) && channels.some((c) => c.host === p));
    for (let i = 0; i < 9 && !hostsBoth(); i++) {
      const via = running()[i % running().length]!;
      matches.push(await match(via, suite));
      const u = await user(via);
      const client = fleetClient(via.url, u.token);
      const name = unique(`crash${i}`);
      const room = await client.create('chat', { type: 1, target: name });
      channels.push({ name, client, room, host: hostOf(fleet, client, room) });
    }
    const victim = hostsBoth();
    assert.ok(
      victim,
      `no process hosts both a match and a channel: ${JSON.stringify({
        matches: matches.map((m) => m.node),
        channels: channels.map((c) => c.host?.nodeName),
      })}`,
    );
    const survivors = running().filter((p) => p !== victim);
    const survivor = survivors[0]!;
    const doomedMatches = matches.filter((m) => m.node === victim.nodeName).map((m) => m.matchId);
    const doomedChannels = channels.filter((c) => c.host === victim);
    const survivingChannel = channels.find((c) => c.host && c.host !== victim);

    // A user connected to the victim, followed from a survivor.
    const ghost = await user(victim);
    const g = await session(victim, ghost.token);
    assert.equal(hostOf(fleet, g.client, g.room), victim);
    const watcher = await user(survivor);
    const w = await session(survivor, watcher.token);
    const wbox = inbox(w.room, ['status', 'status_presence_event', 'rpc', 'error']);
    w.room.send('status_follow', { user_ids: [ghost.uid] });
    const status = await wbox.take('status');
    assert.deepEqual(
      status.presences.map((x: { user_id: string }) => x.user_id),
      [ghost.uid],
    );

    // A second member in a channel hosted by a survivor, to chat after the crash.
    let talk: { a: Room; b: Room; abox: ReturnType<typeof inbox>; bbox: ReturnType<typeof inbox> } | undefined;
    if (survivingChannel) {
      const other = await user(survivors[1] ?? survivor);
      const abox = inbox(survivingChannel.room, CHAT);
      const b = await fleetClient((survivors[1] ?? survivor).url, other.token).create('chat', { type: 1, target: survivingChannel.name });
      talk = { a: survivingChannel.room, b, abox, bbox: inbox(b, CHAT) };
      await abox.take('channel_presence_event', (e) => e.joins?.[0]?.user_id === other.uid);
    }
    const before = await listed(survivor, watcher.bearer, suite);
    for (const id of doomedMatches) assert.ok(before.includes(id), `${id} is listed before the crash`);

    const killedAt = Date.now();
    await victim.kill();

    // The dead process's matches leave the listings on every survivor within the bound.
    await eventually(async () => {
      for (const p of survivors) {
        const now = await listed(p, watcher.bearer, suite);
        for (const id of doomedMatches)
          assert.ok(!now.includes(id), `${id} still listed on ${p.nodeName} after ${Date.now() - killedAt} ms`);
      }
    }, CRASH_BOUND_MS);
    const elapsed = Date.now() - killedAt;
    assert.ok(elapsed <= CRASH_BOUND_MS + 500, `rooms gone after ${elapsed} ms`);
    t.diagnostic(`${victim.nodeName} killed: its ${doomedMatches.length} match(es) left the listings after ${elapsed} ms`);
    for (const m of matches.filter((x) => x.node !== victim.nodeName)) {
      assert.ok((await listed(survivor, watcher.bearer, suite)).includes(m.matchId), `${m.matchId} on a survivor is still listed`);
    }

    // A channel the dead process hosted is created afresh on a survivor.
    for (const c of doomedChannels) {
      const u = await user(survivor);
      const client = fleetClient(survivor.url, u.token);
      const room = await client.create('chat', { type: 1, target: c.name });
      const host = hostOf(fleet, client, room);
      assert.ok(host && host !== victim && !host.exited, `${c.name} now lives on a survivor (${client.hosts.get(room.roomId)})`);
      await eventually(() =>
        assert.equal((room.state as { members?: Map<string, unknown> })?.members?.size, 1, 'a fresh room: only its new member'),
      );
      await room.leave();
    }

    // The follower on a survivor sees the dead process's user go offline.
    const gone = await wbox.take(
      'status_presence_event',
      (e) => e.leaves?.some((l: { user_id: string }) => l.user_id === ghost.uid),
      15_000,
    );
    assert.equal(gone.leaves[0].user_id, ghost.uid);
    w.room.send('status_follow', { user_ids: [ghost.uid] });
    assert.deepEqual((await wbox.take('status')).presences, [], 'no longer online');

    // Clients of the survivors keep working.
    w.room.send('rpc', { id: 'whoami', payload: '' });
    assert.equal(JSON.parse((await wbox.take('rpc')).payload).node, survivor.nodeName);
    if (talk) {
      talk.a.send('channel_message_send', { content: { after: 'the crash' } });
      const ack = await talk.abox.take('channel_message_ack');
      await talk.bbox.take('channel_message', (m) => m.message_id === ack.message_id);
      await talk.b.leave();
    }
    for (const c of channels) if (c.host !== victim) await c.room.leave().catch(() => undefined);
    await w.room.leave();
    for (const m of matches.filter((x) => x.node !== victim.nodeName))
      await rpc(survivor, 'match_signal', { match_id: m.matchId, data: 'stop' });
  });

  test('a drained process tells its clients, runs its matches terminate handlers, exits with 0 and leaves the listings', async () => {
    const draining = await fleet.add({ TAVERN_SHUTDOWN_GRACE_SEC: '3' });
    const survivor = running().find((p) => p !== draining)!;
    const suite = unique('drain');
    // New rooms go to the least loaded process by room counts each process publishes at most once a
    // second (ties to whichever is listed first). Give every other process a room, wait for the
    // counts, and keep misplaced matches open until the end so each try makes the others busier.
    const others = await Promise.all(
      running()
        .filter((p) => p !== draining)
        .map(async (p) => session(p, (await user(p)).token)),
    );
    let matchId: string | undefined;
    const misplaced: string[] = [];
    for (let i = 0; i < 6 && !matchId; i++) {
      await sleep(1200);
      const m = await match(draining, suite);
      if (m.node === draining.nodeName) matchId = m.matchId;
      else misplaced.push(m.matchId);
    }
    assert.ok(matchId, `no match was placed on ${draining.nodeName} (misplaced: ${misplaced.length})`);

    const player = await user(survivor);
    const pc = fleetClient(survivor.url, player.token);
    const mr = await within(pc.joinById(matchId), 'joining the match on the draining process');
    assert.equal(hostOf(fleet, pc, mr), draining);
    const matchLeft = new Promise<number>((resolve) => mr.onLeave((code) => resolve(code)));
    const mbox = inbox(mr, ['server_shutdown']);
    const resident = await user(draining);
    const s = await session(draining, resident.token);
    assert.equal(hostOf(fleet, s.client, s.room), draining);
    const sbox = inbox(s.room, ['server_shutdown']);
    assert.ok((await listed(survivor, player.bearer, suite)).includes(matchId));

    const code = await draining.stop('SIGTERM', 20_000);
    assert.equal(code, 0, `exit code; output:\n${draining.output()}`);
    const notice = await sbox.take('server_shutdown', () => true, 1000);
    assert.deepEqual(notice, { grace_seconds: 3 });
    assert.deepEqual(await mbox.take('server_shutdown', () => true, 1000), { grace_seconds: 3 }, 'the match player hears it too');
    await within(matchLeft, 'the drained match to close its clients');

    const terminated = JSON.parse((await rpc(survivor, 'terminated', { match_id: matchId }))!) as {
      graceSeconds: number;
      node: string;
    } | null;
    assert.deepEqual(terminated && { graceSeconds: terminated.graceSeconds, node: terminated.node }, {
      graceSeconds: 3,
      node: draining.nodeName,
    });
    await eventually(async () =>
      assert.ok(!(await listed(survivor, player.bearer, suite)).includes(matchId!), 'the match is no longer listed'),
    );
    for (const id of misplaced) await rpc(survivor, 'match_signal', { match_id: id, data: 'stop' });
    await Promise.all(others.map((o) => o.room.leave()));
  });
});
