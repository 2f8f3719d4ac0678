/**
 * Leaderboard reset periods under a clock the test controls: records before a reset stay in the
 * old period, reset hooks run exactly once per period even when several "processes" check at once,
 * and the rank cache is rebuilt from the database.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Em } from '../../src/services/db.js';
import { warmRankCache } from '../../src/services/leaderboard-records.js';
import { claim, LeaderboardScheduler, type PeriodHandlers } from '../../src/services/leaderboard-scheduler.js';
import { listRecords, recordsAroundOwner } from '../../src/services/leaderboard-reads.js';
import { mustGetLeaderboard } from '../../src/services/leaderboards.js';
import { LocalRankCache, NoRankCache } from '../../src/services/rank-cache.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { uniq } from '../support/wire.js';

const at = (iso: string) => Date.parse(iso);
const sec = (iso: string) => at(iso) / 1000;
const clock = {
  t: at('2030-01-01T10:30:00Z'),
  now() {
    return this.t;
  },
};

let s: TestServer;
before(async () => {
  s = await startTestServer({}, { clock, schedulerIntervalMs: 0 });
});
after(async () => {
  await s?.stop();
});

const nk = () => s.runtime.nk;
const em = () => s.orm.em.fork() as unknown as Em;

describe('reset periods', () => {
  test('records written before a reset belong to the old period, after it to the new one', async () => {
    clock.t = at('2030-01-01T10:30:00Z');
    const id = uniq('hourly-');
    await nk().leaderboardCreate(id, false, 'descending', 'best', '0 * * * *');
    const [a, b] = [randomUUID(), randomUUID()];
    const first = await nk().leaderboardRecordWrite(id, a, 'a', 10, 0);
    assert.equal(first.expiryTime, sec('2030-01-01T11:00:00Z'));
    assert.equal(first.rank, 1);

    clock.t = at('2030-01-01T11:00:00Z');
    const second = await nk().leaderboardRecordWrite(id, b, 'b', 5, 0);
    assert.equal(second.expiryTime, sec('2030-01-01T12:00:00Z'), 'a write at the reset instant opens the new period');
    assert.equal(second.rank, 1);

    const current = await nk().leaderboardRecordsList(id, [a, b], 10);
    assert.deepEqual(
      current.records.map((r) => r.ownerId),
      [b],
    );
    assert.equal(current.rankCount, 1);
    const old = await nk().leaderboardRecordsList(id, [a, b], 10, null, sec('2030-01-01T11:00:00Z'));
    assert.deepEqual(
      old.records.map((r) => [r.ownerId, r.rank]),
      [[a, 1]],
    );
    const hay = await nk().leaderboardRecordsHaystack(id, a, 5, null, sec('2030-01-01T11:00:00Z'));
    assert.deepEqual(
      hay.records.map((r) => [r.ownerId, r.rank]),
      [[a, 1]],
    );
    const [lb] = await nk().leaderboardsGetId([id]);
    assert.equal(lb!.prevReset, sec('2030-01-01T11:00:00Z'));
    assert.equal(lb!.nextReset, sec('2030-01-01T12:00:00Z'));
  });

  test('the reset hook runs once per period, however many schedulers check at once', async () => {
    clock.t = at('2030-02-01T09:15:00Z');
    const id = uniq('reset-hook-');
    await nk().leaderboardCreate(id, false, 'ascending', 'set', '0 10 * * *', { season: 1 });
    await nk().leaderboardRecordWrite(id, randomUUID(), 'x', 3, 0);
    const calls: { id: string; reset: number; mode: string; sortOrder: string; metadata: unknown }[] = [];
    s.runtime.registry.leaderboardReset.push({
      module: 'test',
      fn: async (ctx, _logger, _nk, leaderboard, reset) => {
        if (leaderboard.id !== id) return;
        await new Promise((r) => setTimeout(r, 20));
        calls.push({
          id: leaderboard.id as string,
          reset,
          mode: ctx.executionMode,
          sortOrder: leaderboard.sortOrder as string,
          metadata: leaderboard.metadata,
        });
      },
    });
    // Other "processes": their own schedulers on the same database, counting what they would run.
    let elsewhere = 0;
    const counting: PeriodHandlers = {
      leaderboardReset: async (board) => {
        if (board.id === id) elsewhere++;
      },
      tournamentReset: async () => undefined,
      tournamentEnd: async () => undefined,
    };
    const others = Array.from(
      { length: 4 },
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

    await runAll();
    assert.equal(calls.length + elsewhere, 0, 'nothing is due before the first reset');

    clock.t = at('2030-02-01T10:00:01Z');
    await runAll();
    await runAll();
    assert.equal(calls.length + elsewhere, 1, 'exactly one run for the 10:00 reset');
    if (calls.length === 1) {
      assert.deepEqual(calls[0], {
        id,
        reset: sec('2030-02-01T10:00:00Z'),
        mode: 'leaderboard_reset',
        sortOrder: 'ascending',
        metadata: { season: 1 },
      });
    }

    clock.t = at('2030-02-02T10:00:30Z');
    await runAll();
    assert.equal(calls.length + elsewhere, 2, 'the next day: one more');
    assert.equal(s.leaderboards.ranks.has(id, sec('2030-02-01T10:00:00Z')), false, "the ended period's ranks were dropped");
  });

  test('claiming a period end: one winner among concurrent claims', async () => {
    const event = { leaderboardId: uniq('claim-'), kind: 'reset' as const, at: 1_900_000_000 };
    const results = await Promise.all(Array.from({ length: 16 }, () => claim(em(), event)));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(await claim(em(), event), false);
  });
});

describe('rank cache', () => {
  test('rebuilt from the database gives the same ranks as the live one', async () => {
    clock.t = at('2030-03-01T00:00:00Z');
    const id = uniq('rebuild-');
    await nk().leaderboardCreate(id, false, 'descending', 'incr', null);
    const owners = Array.from({ length: 300 }, () => randomUUID());
    for (const [i, o] of owners.entries()) await nk().leaderboardRecordWrite(id, o, null, i % 37, i % 5);
    for (const o of owners.slice(0, 50)) await nk().leaderboardRecordWrite(id, o, null, 7, 0);
    const fresh = new LocalRankCache();
    assert.ok((await warmRankCache(em(), { clock, ranks: fresh })) >= 1);
    assert.equal(await fresh.count(id, 0), 300);
    for (const o of owners) assert.equal(await fresh.rankOf(id, 0, o), await s.leaderboards.ranks.rankOf(id, 0, o));
    // And both agree with counting in SQL.
    const list = await nk().leaderboardRecordsList(id, null, 1000);
    assert.deepEqual(
      list.records.map((r) => r.rank),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    for (const r of list.records) assert.equal(await fresh.rankOf(id, 0, r.ownerId), r.rank);
  });

  test('without a cache (several processes until RedisRankCache), SQL gives the same answers', async () => {
    clock.t = at('2030-03-02T00:00:00Z');
    const id = uniq('nocache-');
    await nk().leaderboardCreate(id, false, 'ascending', 'best', null);
    const owners = Array.from({ length: 40 }, () => randomUUID());
    for (const [i, o] of owners.entries()) await nk().leaderboardRecordWrite(id, o, null, i % 7, 0);
    const board = await mustGetLeaderboard(em(), id);
    const cached = { clock, ranks: s.leaderboards.ranks };
    const none = { clock, ranks: new NoRankCache() };
    const strip = (l: Awaited<ReturnType<typeof listRecords>>) => ({
      ...l,
      records: l.records.map((r) => [r.ownerId, r.rank]),
      ownerRecords: l.ownerRecords.map((r) => [r.ownerId, r.rank]),
    });
    const page = { ownerIds: owners.slice(0, 3), limit: 15 };
    assert.deepEqual(strip(await listRecords(em(), none, board, page)), strip(await listRecords(em(), cached, board, page)));
    for (const o of [owners[0]!, owners[20]!, owners[39]!]) {
      assert.deepEqual(
        strip(await recordsAroundOwner(em(), none, board, o, 5)),
        strip(await recordsAroundOwner(em(), cached, board, o, 5)),
      );
    }
  });
});
