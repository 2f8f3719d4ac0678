/**
 * Leaderboard writes over REST with the real nakama-js client: operators and sort orders, the
 * wire shape of a record, authoritative boards, deletes (account deletion included), and hooks.
 * Ranks, ties, cursors and records around an owner are in leaderboards-lists.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client, Session } from '@heroiclabs/nakama-js';
import { leaderboardHelpers, rejection, startLeaderboardsServer } from '../support/leaderboards.js';
import { http, type TestServer } from '../support/server.js';
import { assertError, RFC3339 } from '../support/wire.js';

let s: TestServer;
let client: Client;

before(async () => {
  ({ s, client } = await startLeaderboardsServer());
});
after(async () => {
  await s?.stop();
});

const { nk, player, board, fill, get } = leaderboardHelpers(() => ({ s, client }));

describe('operators and sort orders', () => {
  const write = async (session: Session, id: string, score: number, subscore = 0) =>
    client.writeLeaderboardRecord(session, id, { score: String(score), subscore: String(subscore) });

  test('best on a descending board keeps the highest (score, subscore); num_score counts writes', async () => {
    const id = await board();
    const p = await player();
    assert.equal((await write(p, id, 50, 1)).score, 50);
    const r = await write(p, id, 40, 9);
    assert.equal(r.score, 50);
    assert.equal(r.subscore, 1);
    assert.equal(r.num_score, 2);
    const better = await write(p, id, 50, 2);
    assert.deepEqual([better.score, better.subscore, better.num_score, better.rank], [50, 2, 3, 1]);
  });

  test('best on an ascending board keeps the lowest', async () => {
    const id = await board({ sort: 'ascending' });
    const p = await player();
    await write(p, id, 50);
    assert.equal((await write(p, id, 70)).score, 50);
    assert.equal((await write(p, id, 20)).score, 20);
  });

  test('set replaces, incr adds, decr subtracts and stops at zero', async () => {
    const set = await board({ operator: 'set' });
    const incr = await board({ operator: 'incr' });
    const decr = await board({ operator: 'decr' });
    const p = await player();
    await write(p, set, 50);
    assert.equal((await write(p, set, 7)).score, 7);
    await write(p, incr, 5, 1);
    const inc = await write(p, incr, 6, 1);
    assert.deepEqual([inc.score, inc.subscore], [11, 2]);
    assert.equal((await write(p, decr, 10)).score, 0, 'a first decrement writes 0');
    await nk().leaderboardRecordWrite(decr, p.user_id!, null, 10, 0, null, 'set');
    assert.equal((await write(p, decr, 3)).score, 7);
    assert.equal((await write(p, decr, 30)).score, 0);
  });

  test('ascending boards rank the lowest first whatever the operator (incr, decr, set)', async () => {
    for (const operator of ['incr', 'decr', 'set']) {
      const id = await board({ sort: 'ascending', operator });
      const [a, b] = [randomUUID(), randomUUID()];
      await nk().leaderboardRecordWrite(id, a, null, 5, 0, null, 'set');
      await nk().leaderboardRecordWrite(id, b, null, 3, 0, null, 'set');
      assert.deepEqual(
        (await nk().leaderboardRecordsList(id, null, 10)).records.map((r) => r.ownerId),
        [b, a],
      );
      const moved = await nk().leaderboardRecordWrite(id, b, null, operator === 'decr' ? 1 : 9, 0);
      assert.equal(moved.score, { incr: 12, decr: 2, set: 9 }[operator]);
      assert.equal(moved.rank, operator === 'decr' ? 1 : 2);
    }
  });

  test("a write's operator overrides the board's (api.Operator numbers)", async () => {
    const id = await board();
    const p = await player();
    await write(p, id, 50);
    const res = await http(s.url, 'POST', `/v2/leaderboard/${id}`, { auth: `Bearer ${p.token}`, body: { score: '10', operator: 2 } });
    assert.equal(res.status, 200);
    assert.equal(res.body.score, '10');
    const inc = await http(s.url, 'POST', `/v2/leaderboard/${id}`, {
      auth: `Bearer ${p.token}`,
      body: { score: '5', operator: 'INCREMENT' },
    });
    assert.equal(inc.body.score, '15');
  });

  test('negative and non-integer scores are refused; a missing board is 404', async () => {
    const id = await board();
    const p = await player();
    const auth = { auth: `Bearer ${p.token}` };
    assertError(await http(s.url, 'POST', `/v2/leaderboard/${id}`, { ...auth, body: { score: '-1' } }), 400, 3);
    assertError(await http(s.url, 'POST', `/v2/leaderboard/${id}`, { ...auth, body: { score: 1.5 } }), 400, 3);
    assertError(await http(s.url, 'POST', `/v2/leaderboard/${id}`, { ...auth, body: { score: 1, metadata: '[1]' } }), 400, 3);
    assertError(await http(s.url, 'POST', `/v2/leaderboard/nope-${id}`, { ...auth, body: { score: 1 } }), 404, 5, 'Leaderboard not found.');
    const big = await http(s.url, 'POST', `/v2/leaderboard/${id}`, { ...auth, body: { score: '9223372036854775807' } });
    assert.equal(big.body.score, '9223372036854775807', 'int64 travels as a string, exactly');
    const incr = await board({ operator: 'incr' });
    await nk().leaderboardRecordWrite(incr, p.user_id!, null, '9223372036854775807', 0);
    await assert.rejects(nk().leaderboardRecordWrite(incr, p.user_id!, null, 1, 0), /overflow/);
    assertError(await http(s.url, 'POST', `/v2/leaderboard/${incr}`, { ...auth, body: { score: '1' } }), 400, 3);
  });
});

describe('wire shape', () => {
  test("Nakama's LeaderboardRecord: snake_case, int64 strings, JSON metadata, times, zero values omitted", async () => {
    const id = await board();
    const p = await player();
    const res = await http(s.url, 'POST', `/v2/leaderboard/${id}`, {
      auth: `Bearer ${p.token}`,
      body: { score: 12, metadata: '{"lvl":3}' },
    });
    assert.equal(res.status, 200);
    const r = res.body;
    assert.deepEqual(Object.keys(r).sort(), [
      'create_time',
      'leaderboard_id',
      'metadata',
      'num_score',
      'owner_id',
      'rank',
      'score',
      'update_time',
      'username',
    ]);
    assert.equal(r.leaderboard_id, id);
    assert.equal(r.owner_id, p.user_id);
    assert.equal(r.username, p.username);
    assert.equal(r.score, '12');
    assert.equal(r.metadata, '{"lvl": 3}');
    assert.equal(r.num_score, 1);
    assert.equal(r.rank, '1');
    assert.match(r.create_time, RFC3339);
    const list = await get(p, `/v2/leaderboard/${id}?owner_ids=${p.user_id}`);
    assert.deepEqual(Object.keys(list.body).sort(), ['owner_records', 'rank_count']);
    assert.equal(list.body.owner_records[0].rank, '1');
    const one = await get(p, `/v2/leaderboard/${id}`);
    assert.equal(one.body.records.length, 1, "Nakama's default page is one record");
    assertError(await get(p, `/v2/leaderboard/${id}?limit=1001`), 400, 3, /Invalid limit - limit must be between 1 and 1000\./);
    assertError(await get(p, `/v2/leaderboard/${id}?owner_ids=nope`), 400, 3, 'One or more owner IDs are invalid.');
  });
});

describe('authoritative boards and deletes', () => {
  test('clients cannot write or delete (403, code 7); server code can', async () => {
    const id = await board({ authoritative: true });
    const p = await player();
    const refused = await rejection(client.writeLeaderboardRecord(p, id, { score: '1' }));
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 7);
    const rec = await nk().leaderboardRecordWrite(id, p.user_id!, p.username!, 5, 0);
    assert.equal(rec.score, 5);
    assertError(await http(s.url, 'DELETE', `/v2/leaderboard/${id}`, { auth: `Bearer ${p.token}` }), 403, 7);
    await nk().leaderboardRecordDelete(id, p.user_id!);
    assert.equal((await nk().leaderboardRecordsList(id, [p.user_id!])).ownerRecords.length, 0);
  });

  test('a client deletes its own record; ranks close up', async () => {
    const id = await board();
    const [a] = await fill(id, [[100]]);
    const p = await player();
    await client.writeLeaderboardRecord(p, id, { score: '50' });
    assert.equal((await client.listLeaderboardRecords(p, id, [p.user_id!])).owner_records![0]!.rank, 2);
    // nakama-js 2.8 has no client method for it: its REST call.
    assert.equal((await http(s.url, 'DELETE', `/v2/leaderboard/${id}`, { auth: `Bearer ${p.token}` })).status, 200);
    const list = await client.listLeaderboardRecords(p, id, undefined, 10);
    assert.deepEqual(
      list.records!.map((r) => r.owner_id),
      [a],
    );
    assert.equal(list.rank_count, 1);
  });

  test('deleting an account removes its records and its ranks', async () => {
    const id = await board();
    const p = await player();
    const q = await player();
    await client.writeLeaderboardRecord(p, id, { score: '100' });
    await client.writeLeaderboardRecord(q, id, { score: '50' });
    assert.equal((await http(s.url, 'DELETE', '/v2/account', { auth: `Bearer ${p.token}` })).status, 200);
    const list = await client.listLeaderboardRecords(q, id, [q.user_id!], 10);
    assert.deepEqual(
      list.records!.map((r) => [r.owner_id, r.rank]),
      [[q.user_id, 1]],
    );
    assert.equal(list.owner_records![0]!.rank, 1);
    assert.equal(list.rank_count, 1);
    const around = await client.listLeaderboardRecordsAroundOwner(q, id, q.user_id!, 10);
    assert.deepEqual(
      around.records!.map((r) => r.owner_id),
      [q.user_id],
    );
    await nk().accountDeleteId(q.user_id!);
    assert.equal((await nk().leaderboardRecordsList(id, null, 10)).rankCount, 0);
  });
});

describe('hooks', () => {
  test('before and after hooks see the wire request and response of WriteLeaderboardRecord', async () => {
    const id = await board();
    const seen: unknown[] = [];
    s.runtime.registry.registerBefore('WriteLeaderboardRecord', (_ctx, request) => {
      const r = request as { leaderboard_id: string; record: { score?: string } };
      if (r.leaderboard_id !== id) return request;
      return { ...r, record: { ...r.record, score: String(Number(r.record.score) * 2) } };
    });
    s.runtime.registry.registerAfter('WriteLeaderboardRecord', (_ctx, response) => {
      if ((response as { leaderboard_id?: string }).leaderboard_id === id) seen.push(response);
    });
    const p = await player();
    const r = await client.writeLeaderboardRecord(p, id, { score: '21' });
    assert.equal(r.score, 42);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal((seen[0] as { score: string }).score, '42');
  });
});
