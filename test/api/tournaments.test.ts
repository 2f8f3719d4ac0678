/**
 * Tournaments over REST with nakama-js, under a clock the test controls: active windows, max size
 * under concurrent joins and writes, join required, max num score, listing filters, and end / reset
 * hooks that run once per period.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client, type Session } from '@heroiclabs/nakama-js';
import type { Em } from '../../src/services/db.js';
import { LeaderboardScheduler, type PeriodHandlers } from '../../src/services/leaderboard-scheduler.js';
import { LocalRankCache } from '../../src/services/rank-cache.js';
import { http, startTestServer, type TestServer } from '../support/server.js';
import { assertError, uniq } from '../support/wire.js';

const at = (iso: string) => Date.parse(iso) / 1000;
const clock = {
  t: Date.parse('2031-01-01T00:00:00Z'),
  now() {
    return this.t;
  },
};
const setClock = (sec: number) => {
  clock.t = sec * 1000;
};

let s: TestServer;
let client: Client;
before(async () => {
  s = await startTestServer({}, { clock, schedulerIntervalMs: 0 });
  client = new Client('defaultkey', '127.0.0.1', String(s.port), false, 7000, false);
});
after(async () => {
  await s?.stop();
});

const nk = () => s.runtime.nk;
const player = () => client.authenticateDevice(uniq('tn-device-'), true, uniq('tn_'));
const write = (p: Session, id: string, score: number) =>
  http(s.url, 'POST', `/v2/tournament/${id}`, { auth: `Bearer ${p.token}`, body: { score: String(score) } });
const join = (p: Session, id: string) => http(s.url, 'POST', `/v2/tournament/${id}/join`, { auth: `Bearer ${p.token}` });

interface Spec {
  duration?: number;
  schedule?: string | null;
  start?: number;
  end?: number;
  maxSize?: number;
  maxNumScore?: number;
  joinRequired?: boolean;
  category?: number;
  authoritative?: boolean;
}

async function tournament(spec: Spec = {}): Promise<string> {
  const id = uniq('tn-');
  await nk().tournamentCreate(
    id,
    spec.authoritative ?? false,
    'descending',
    'best',
    spec.duration ?? 3600,
    spec.schedule ?? null,
    { t: 1 },
    `title ${id}`,
    'a tournament',
    spec.category ?? 0,
    spec.start ?? 0,
    spec.end ?? 0,
    spec.maxSize ?? 0,
    spec.maxNumScore ?? 0,
    spec.joinRequired ?? false,
  );
  return id;
}

describe('active window', () => {
  test('scores only between start and start + duration', async () => {
    setClock(at('2031-01-01T00:00:00Z'));
    const id = await tournament({ start: at('2031-01-01T01:00:00Z'), duration: 600 });
    const p = await player();
    assertError(await write(p, id, 1), 400, 9, 'Tournament is not active and cannot accept new scores.');
    setClock(at('2031-01-01T01:00:10Z'));
    const ok = await write(p, id, 5);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.score, '5');
    setClock(at('2031-01-01T01:10:00Z'));
    assertError(await write(p, id, 9), 400, 9);
    assert.equal(await client.writeTournamentRecord(p, id, { score: '1' }).catch((r: Response) => r.status), 400);
  });

  test('with a reset schedule: a window at each reset, records per period', async () => {
    setClock(at('2031-02-01T00:00:00Z'));
    const id = await tournament({ schedule: '0 12 * * *', duration: 3600 });
    const p = await player();
    setClock(at('2031-02-01T12:30:00Z'));
    const first = await client.writeTournamentRecord(p, id, { score: '10' });
    assert.equal(first.score, 10);
    assert.equal(first.expiry_time, '2031-02-02T12:00:00Z');
    setClock(at('2031-02-01T13:30:00Z'));
    assertError(await write(p, id, 20), 400, 9);
    setClock(at('2031-02-02T12:10:00Z'));
    const second = await client.writeTournamentRecord(p, id, { score: '3' });
    assert.equal(second.score, 3, 'a new period starts from scratch');
    assert.equal(second.num_score, 1);
    const old = await client.listTournamentRecords(p, id, [p.user_id!], 10, undefined, String(at('2031-02-02T12:00:00Z')));
    assert.equal(old.owner_records![0]!.score, 10);
    const list = await client.listTournaments(p, 0, 127, undefined, undefined, 100);
    const t = list.tournaments!.find((x) => x.id === id)!;
    assert.equal(t.can_enter, true);
    assert.equal(t.start_active, at('2031-02-02T12:00:00Z'));
    assert.equal(t.end_active, at('2031-02-02T13:00:00Z'));
    assert.equal(t.next_reset, at('2031-02-03T12:00:00Z'));
  });
});

describe('limits', () => {
  test('max size holds under concurrent joins', async () => {
    setClock(at('2031-03-01T00:00:00Z'));
    const id = await tournament({ maxSize: 5, joinRequired: true });
    const players = await Promise.all(Array.from({ length: 20 }, player));
    const results = await Promise.all(players.map((p) => join(p, id)));
    assert.equal(results.filter((r) => r.status === 200).length, 5);
    for (const r of results.filter((x) => x.status !== 200))
      assertError(r, 400, 3, 'Tournament cannot be joined as it has reached its max size.');
    const joined = players.filter((_, i) => results[i]!.status === 200);
    assert.equal((await join(joined[0]!, id)).status, 200, 'joining again is a no-op, not a new member');
    const [t] = await nk().tournamentsGetId([id]);
    assert.equal(t!.size, 5);
    assert.equal(t!.canEnter, false);
  });

  test('max size holds under concurrent first writes (no join required)', async () => {
    setClock(at('2031-03-02T00:00:00Z'));
    const id = await tournament({ maxSize: 3 });
    const players = await Promise.all(Array.from({ length: 12 }, player));
    const results = await Promise.all(players.map((p, i) => write(p, id, i)));
    assert.equal(results.filter((r) => r.status === 200).length, 3);
    for (const r of results.filter((x) => x.status !== 200)) assertError(r, 400, 9, 'Tournament has reached max size.');
    const list = await client.listTournamentRecords(players[0]!, id, undefined, 100);
    assert.equal(list.records!.length, 3);
  });

  test('join required: no score before joining', async () => {
    setClock(at('2031-03-03T00:00:00Z'));
    const id = await tournament({ joinRequired: true });
    const p = await player();
    assertError(await write(p, id, 1), 400, 9, 'Must join tournament before attempting to write value.');
    assert.equal(await client.joinTournament(p, id), true);
    const r = await client.writeTournamentRecord(p, id, { score: '4' });
    assert.deepEqual([r.score, r.num_score], [4, 1]);
  });

  test('max num score caps writes; tournamentAddAttempt grants more', async () => {
    setClock(at('2031-03-04T00:00:00Z'));
    const id = await tournament({ maxNumScore: 2 });
    const p = await player();
    assert.equal((await write(p, id, 1)).status, 200);
    const second = await write(p, id, 2);
    assert.equal(second.body.max_num_score, 2);
    assertError(await write(p, id, 3), 400, 9, 'Reached allowed max number of score attempts.');
    await nk().tournamentAddAttempt(id, p.user_id!, 1);
    const third = await write(p, id, 3);
    assert.equal(third.status, 200);
    assert.equal(third.body.score, '3');
    assert.equal(third.body.num_score, 3);
  });

  test('authoritative tournaments refuse client writes', async () => {
    setClock(at('2031-03-05T00:00:00Z'));
    const id = await tournament({ authoritative: true });
    const p = await player();
    assertError(await write(p, id, 1), 403, 7);
    const r = await nk().tournamentRecordWrite(id, p.user_id!, p.username!, 8);
    assert.equal(r.rank, 1);
    const around = await client.listTournamentRecordsAroundOwner(p, id, p.user_id!, 5);
    assert.equal(around.records![0]!.score, 8);
  });
});

describe('listing', () => {
  test('category, start and end filters, and cursors', async () => {
    setClock(at('2031-04-01T00:00:00Z'));
    const base = at('2031-04-01T00:00:00Z');
    const c1 = await tournament({ category: 101, start: base + 10 });
    const c2 = await tournament({ category: 102, start: base + 20, end: base + 86_400 });
    const c5 = await tournament({ category: 105, start: base + 30, end: base + 7 * 86_400 });
    const ended = await tournament({ category: 102, start: base - 7200, end: base - 3600, duration: 600 });
    const p = await player();
    const ids = async (q: string) =>
      ((await http(s.url, 'GET', `/v2/tournament?${q}`, { auth: `Bearer ${p.token}` })).body.tournaments ?? []).map((t: any) => t.id);
    assert.deepEqual(await ids('category_start=101&category_end=102'), [c1, c2], 'ended tournaments are left out by default');
    assert.deepEqual(await ids('category_start=101&category_end=105&end_time=0'), [c1], 'end_time=0: only tournaments without an end');
    assert.deepEqual(await ids(`category_start=101&category_end=105&end_time=${base + 2 * 86_400}`), [ended, c2]);
    assert.deepEqual(await ids(`category_start=101&category_end=105&start_time=${base + 15}`), [c2, c5]);
    const first = await client.listTournaments(p, 101, 105, undefined, undefined, 2);
    assert.deepEqual(
      first.tournaments!.map((t) => t.id),
      [c1, c2],
    );
    const next = await client.listTournaments(p, 101, 105, undefined, undefined, 2, first.cursor);
    assert.deepEqual(
      next.tournaments!.map((t) => t.id),
      [c5],
    );
    const wire = (await http(s.url, 'GET', '/v2/tournament?category_start=105&category_end=105', { auth: `Bearer ${p.token}` })).body
      .tournaments[0];
    assert.equal(wire.category, 105);
    assert.equal(wire.sort_order, 1);
    assert.equal(wire.operator, 1);
    assert.equal(wire.duration, 3600);
    assert.equal(wire.metadata, '{"t": 1}');
    assert.equal(wire.title, `title ${c5}`);
    assert.equal(wire.end_time, new Date((base + 7 * 86_400) * 1000).toISOString().replace('.000Z', 'Z'));
    assertError(await http(s.url, 'GET', '/v2/tournament?category_end=200', { auth: `Bearer ${p.token}` }), 400, 3);
    assertError(await http(s.url, 'GET', '/v2/tournament?category_start=5&category_end=2', { auth: `Bearer ${p.token}` }), 400, 3);
    assertError(await http(s.url, 'GET', `/v2/tournament/${ended}`, { auth: `Bearer ${p.token}` }), 404, 5, 'Tournament has ended.');
  });
});

describe('end and reset hooks', () => {
  test('each runs once per period, however many schedulers check at once', async () => {
    const start = at('2031-05-01T00:00:00Z');
    setClock(start);
    const id = await tournament({ start, duration: 60, end: start + 3600 });
    await nk().tournamentRecordWrite(id, randomUUID(), 'x', 1);
    const ends: [number, number][] = [];
    const resets: [number, number][] = [];
    s.runtime.registry.tournamentEnd.push({
      module: 'test',
      fn: (_c, _l, _n, t, end, reset) => void (t.id === id && ends.push([end, reset])),
    });
    s.runtime.registry.tournamentReset.push({
      module: 'test',
      fn: (_c, _l, _n, t, end, reset) => void (t.id === id && resets.push([end, reset])),
    });
    let elsewhere = 0;
    const counting: PeriodHandlers = {
      leaderboardReset: async () => undefined,
      tournamentEnd: async (b) => void (b.id === id && elsewhere++),
      tournamentReset: async (b) => void (b.id === id && elsewhere++),
    };
    const em = () => s.orm.em.fork() as unknown as Em;
    const others = Array.from(
      { length: 3 },
      () =>
        new LeaderboardScheduler({
          em,
          ports: { clock, ranks: new LocalRankCache() },
          handlers: counting,
          intervalMs: 0,
          onError: () => undefined,
        }),
    );
    const runAll = () =>
      Promise.all([s.leaderboards.scheduler.runDue(), s.leaderboards.scheduler.runDue(), ...others.map((o) => o.runDue())]);

    setClock(start + 30);
    await runAll();
    assert.equal(ends.length + resets.length + elsewhere, 0);
    setClock(start + 61);
    await runAll();
    await runAll();
    assert.equal(ends.length + elsewhere, 1, 'one end');
    if (ends.length) assert.deepEqual(ends[0], [start + 60, start + 3600]);
    setClock(start + 3601);
    await runAll();
    await runAll();
    assert.equal(ends.length + resets.length + elsewhere, 2, 'then one reset at the end time, and no second end');
    if (resets.length) assert.deepEqual(resets[0], [start + 60, start + 3600]);
  });
});
