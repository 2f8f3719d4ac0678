/**
 * Reading leaderboards over REST with the real nakama-js client: ranks and ties in either sort
 * order, cursors forward and back, records around an owner, and `nk`'s lists and haystack.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@heroiclabs/nakama-js';
import { leaderboardHelpers, startLeaderboardsServer } from '../support/leaderboards.js';
import type { TestServer } from '../support/server.js';
import { assertError } from '../support/wire.js';

let s: TestServer;
let client: Client;

before(async () => {
  ({ s, client } = await startLeaderboardsServer());
});
after(async () => {
  await s?.stop();
});

const { nk, player, board, fill, get } = leaderboardHelpers(() => ({ s, client }));

describe('ranks and ties', () => {
  test('descending: score, then subscore, then who got there first; ranks as strings', async () => {
    const id = await board();
    const [a, b, c, d, e] = await fill(id, [[100], [100, 5], [90], [100], [100, 5]]);
    const p = await player();
    const list = await get(p, `/v2/leaderboard/${id}?limit=10`);
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.records.map((r: any) => r.owner_id),
      [b, e, a, d, c],
    );
    assert.deepEqual(
      list.body.records.map((r: any) => r.rank),
      ['1', '2', '3', '4', '5'],
    );
    assert.equal(list.body.rank_count, '5');
  });

  test('ascending: lowest first, ties by time', async () => {
    const id = await board({ sort: 'ascending' });
    const [a, b, c] = await fill(id, [[10], [5], [10]]);
    const list = await client.listLeaderboardRecords(await player(), id, undefined, 10);
    assert.deepEqual(
      list.records!.map((r) => [r.owner_id, r.rank]),
      [
        [b, 1],
        [a, 2],
        [c, 3],
      ],
    );
  });

  test('a better score moves the owner up; an equal one does not change its place', async () => {
    const id = await board();
    const [a, b] = await fill(id, [[10], [10]]);
    await nk().leaderboardRecordWrite(id, a!, null, 10, 0);
    let list = await nk().leaderboardRecordsList(id, null, 10);
    assert.deepEqual(
      list.records.map((r) => r.ownerId),
      [a, b],
      'an equal best write keeps the earlier time',
    );
    await nk().leaderboardRecordWrite(id, b!, null, 11, 0);
    list = await nk().leaderboardRecordsList(id, null, 10);
    assert.deepEqual(
      list.records.map((r) => [r.ownerId, r.rank]),
      [
        [b, 1],
        [a, 2],
      ],
    );
  });
});

describe('cursors', () => {
  test('next pages forward, prev returns the previous page; ranks follow the page', async () => {
    const id = await board();
    await fill(
      id,
      Array.from({ length: 25 }, (_, i) => [1000 - i] as [number]),
    );
    const p = await player();
    const page1 = await client.listLeaderboardRecords(p, id, undefined, 10);
    assert.equal(page1.prev_cursor, undefined);
    assert.deepEqual(
      page1.records!.map((r) => r.rank),
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    const page2 = await client.listLeaderboardRecords(p, id, undefined, 10, page1.next_cursor);
    assert.deepEqual(
      page2.records!.map((r) => r.score),
      Array.from({ length: 10 }, (_, i) => 990 - i),
    );
    assert.equal(page2.records![0]!.rank, 11);
    const page3 = await client.listLeaderboardRecords(p, id, undefined, 10, page2.next_cursor);
    assert.equal(page3.records!.length, 5);
    assert.equal(page3.next_cursor, undefined);
    const back2 = await client.listLeaderboardRecords(p, id, undefined, 10, page3.prev_cursor);
    assert.deepEqual(back2.records, page2.records);
    assert.ok(back2.next_cursor && back2.prev_cursor);
    const back1 = await client.listLeaderboardRecords(p, id, undefined, 10, back2.prev_cursor);
    assert.deepEqual(back1.records, page1.records);
    assert.equal(back1.prev_cursor, undefined);
    const again2 = await client.listLeaderboardRecords(p, id, undefined, 10, back1.next_cursor);
    assert.deepEqual(again2.records, page2.records);
    assertError(await get(p, `/v2/leaderboard/${id}?limit=10&cursor=garbage`), 400, 3, 'Cursor is invalid or expired.');
    const other = await board();
    assertError(await get(p, `/v2/leaderboard/${other}?limit=10&cursor=${page1.next_cursor}`), 400, 3);
  });
});

describe('around an owner', () => {
  test('top, middle and bottom of a board', async () => {
    const id = await board();
    const owners = await fill(
      id,
      Array.from({ length: 21 }, (_, i) => [100 - i] as [number]),
    );
    const p = await player();
    const around = async (owner: string) => {
      const list = await client.listLeaderboardRecordsAroundOwner(p, id, owner, 5);
      return { ranks: list.records!.map((r) => r.rank), list };
    };
    const top = await around(owners[0]!);
    assert.deepEqual(top.ranks, [1, 2, 3, 4, 5]);
    assert.equal(top.list.prev_cursor, undefined);
    assert.ok(top.list.next_cursor);
    const mid = await around(owners[10]!);
    assert.deepEqual(mid.ranks, [9, 10, 11, 12, 13]);
    assert.equal(mid.list.records![2]!.owner_id, owners[10]);
    assert.ok(mid.list.prev_cursor && mid.list.next_cursor);
    const bottom = await around(owners[20]!);
    assert.deepEqual(bottom.ranks, [17, 18, 19, 20, 21]);
    assert.equal(bottom.list.next_cursor, undefined);
    assert.equal(bottom.list.rank_count, 21);
    // The cursors page on from the window.
    const next = await client.listLeaderboardRecordsAroundOwner(p, id, owners[10]!, 5, undefined, mid.list.next_cursor!);
    assert.deepEqual(
      next.records!.map((r) => r.rank),
      [14, 15, 16, 17, 18],
    );
    const none = await client.listLeaderboardRecordsAroundOwner(p, id, randomUUID(), 5);
    assert.equal(none.records?.length ?? 0, 0);
    assertError(await get(p, `/v2/leaderboard/${id}/owner/${owners[0]}?limit=101`), 400, 3);
    assertError(await get(p, `/v2/leaderboard/${id}/owner/not-a-uuid`), 400, 3, 'Invalid owner ID provided.');
  });
});

describe('nk', () => {
  test('leaderboardsGetId, leaderboardList, haystack and delete', async () => {
    const id = await board();
    const [a, b, c] = await fill(id, [[3], [2], [1]]);
    const [got] = await nk().leaderboardsGetId([id, 'missing']);
    assert.equal(got!.id, id);
    assert.equal(got!.sortOrder, 'descending');
    assert.equal(got!.operator, 'best');
    assert.deepEqual(got!.metadata, { kind: 'test' });
    const hay = await nk().leaderboardRecordsHaystack(id, b!, 3);
    assert.deepEqual(
      hay.records.map((r) => r.ownerId),
      [a, b, c],
    );
    let listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await nk().leaderboardList(2, cursor);
      listed = listed.concat(page.leaderboards.map((l) => l.id));
      cursor = page.cursor;
    } while (cursor);
    assert.ok(listed.includes(id));
    await nk().leaderboardDelete(id);
    assert.deepEqual(await nk().leaderboardsGetId([id]), []);
    await assert.rejects(nk().leaderboardRecordWrite(id, a!, null, 1, 0), /Leaderboard not found/);
  });
});
