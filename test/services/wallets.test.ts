/** Wallets, the ledger and multiUpdate through the server's own `nk`, on PostgreSQL. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { http, newDevice, startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let db: pg.Client;
before(async () => {
  s = await startTestServer({}, { db: 'postgres' });
  db = new pg.Client({ connectionString: s.databaseUrl });
  await db.connect();
});
after(async () => {
  await db?.end();
  await s?.stop();
});

const nk = () => s.runtime.nk;
let n = 0;
/** A new user: its id and bearer header. */
async function newUser() {
  const d = await newDevice(s.url, `wallet-${process.pid}-${Date.now()}-${++n}`);
  const me = await http(s.url, 'GET', '/v2/account', { auth: d.bearer });
  return { id: me.body.user.id as string, bearer: d.bearer };
}
const wallet = async (userId: string) => (await nk().accountGetId(userId)).wallet;
const ledgerRows = async (userId: string) =>
  (await db.query('select count(*)::int as n from wallet_ledger where user_id = $1', [userId])).rows[0].n as number;

/** Every ledger item of a user, following cursors. */
async function allLedger(userId: string, limit: number) {
  const items = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await nk().walletLedgerList(userId, limit, cursor);
    assert.ok(page.items.length <= limit);
    items.push(...page.items);
    cursor = page.cursor;
    if (!cursor) break;
  }
  return items;
}

describe('walletUpdate', () => {
  test('adds and subtracts; previous and updated come back', async () => {
    const u = await newUser();
    assert.deepEqual(await wallet(u.id), {});
    const r1 = await nk().walletUpdate(u.id, { gold: 100, gems: 5 });
    assert.deepEqual(r1, { previous: {}, updated: { gold: 100, gems: 5 } });
    const r2 = await nk().walletUpdate(u.id, { gold: -30, gems: 0 });
    assert.deepEqual(r2, { previous: { gold: 100, gems: 5 }, updated: { gold: 70, gems: 5 } });
    assert.deepEqual(await wallet(u.id), { gold: 70, gems: 5 });
    // Without updateLedger nothing is recorded.
    assert.equal(await ledgerRows(u.id), 0);
  });

  test('a change that would go negative is rejected with code 9 and changes nothing', async () => {
    const u = await newUser();
    await nk().walletUpdate(u.id, { gold: 10, gems: 3 }, {}, true);
    await assert.rejects(nk().walletUpdate(u.id, { gold: 5, gems: -4 }, {}, true), (err: { code?: number }) => err.code === 9);
    await assert.rejects(nk().walletUpdate(u.id, { silver: -1 }), (err: { code?: number }) => err.code === 9);
    assert.deepEqual(await wallet(u.id), { gold: 10, gems: 3 });
    assert.equal(await ledgerRows(u.id), 1);
  });

  test('bad input: a non-integer change, an unknown user', async () => {
    const u = await newUser();
    await assert.rejects(nk().walletUpdate(u.id, { gold: 1.5 }), (err: { code?: number }) => err.code === 3);
    await assert.rejects(nk().walletUpdate(u.id, { gold: 'lots' as unknown as number }), (err: { code?: number }) => err.code === 3);
    await assert.rejects(
      nk().walletUpdate('00000000-0000-4000-8000-000000000001', { gold: 1 }),
      (err: { code?: number }) => err.code === 5,
    );
    assert.deepEqual(await wallet(u.id), {});
  });

  test('int64 precision: 2^60+1 stays exact over HTTP and in nk', async () => {
    const u = await newUser();
    const big = (2n ** 60n + 1n).toString();
    assert.equal(big, '1152921504606846977');
    const r = await nk().walletUpdate(u.id, { gold: big, small: 7 }, { why: 'precision' }, true);
    assert.deepEqual(r.updated, { gold: big, small: 7 });
    const account = await http(s.url, 'GET', '/v2/account', { auth: u.bearer });
    assert.equal(typeof account.body.wallet, 'string');
    assert.match(account.body.wallet, /"gold":\s*1152921504606846977\b/);
    assert.equal((await nk().accountGetId(u.id)).wallet.gold, big);
    // One more step past it is exact too, and so is the ledger.
    await nk().walletUpdate(u.id, { gold: 1 }, {}, true);
    assert.equal((await nk().accountGetId(u.id)).wallet.gold, '1152921504606846978');
    const items = await allLedger(u.id, 10);
    assert.deepEqual(
      items.map((i) => i.changeset.gold),
      [1, big],
    );
    // Past int64 is refused, and changes nothing.
    await assert.rejects(nk().walletUpdate(u.id, { gold: (2n ** 63n).toString() }));
    await assert.rejects(nk().walletUpdate(u.id, { gold: (2n ** 63n - 1n).toString() }), (err: { code?: number }) => err.code === 9);
    assert.equal((await nk().accountGetId(u.id)).wallet.gold, '1152921504606846978');
  });

  test('1,000 concurrent +1/-1 updates on one user: none is lost, the ledger adds up', async () => {
    const u = await newUser();
    await nk().walletUpdate(u.id, { coins: 5 }, { start: true }, true);
    const deltas = Array.from({ length: 1000 }, (_, i) => (i % 7 < 3 ? -1 : 1));
    const results = await Promise.allSettled(deltas.map((d, i) => nk().walletUpdate(u.id, { coins: d }, { i }, true)));
    let expected = 5;
    let ok = 0;
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') {
        expected += deltas[i]!;
        ok++;
        assert.equal((r.value.updated.coins as number) - ((r.value.previous.coins as number | undefined) ?? 0), deltas[i]);
      } else {
        // The only acceptable failure is a debit that would have gone negative. (A 'timeout exceeded
        // when trying to connect' here is the pool's 3 s checkout limit giving up under the burst.)
        assert.equal((r.reason as { code?: number }).code, 9, `update ${i} (${deltas[i]}) failed: ${String(r.reason)}`);
        assert.equal(deltas[i], -1);
      }
    }
    assert.ok(ok >= 900, `only ${ok} succeeded`);
    assert.equal((await wallet(u.id)).coins, expected);
    // Each success started from the balance the one before it left: the (previous → updated) steps
    // form one walk from 5 to the final balance, so every value is left as often as it is reached.
    const net = new Map<number, number>();
    const bump = (v: number, by: number) => net.set(v, (net.get(v) ?? 0) + by);
    for (const r of results) {
      if (r.status !== 'fulfilled') continue;
      bump((r.value.previous.coins as number | undefined) ?? 0, 1);
      bump(r.value.updated.coins as number, -1);
    }
    bump(5, -1);
    bump(expected, 1);
    assert.deepEqual(
      [...net.entries()].filter(([, c]) => c !== 0),
      [],
    );
    const items = await allLedger(u.id, 100);
    assert.equal(items.length, ok + 1);
    assert.equal(new Set(items.map((i) => i.id)).size, items.length);
    assert.equal(
      items.reduce((sum, i) => sum + (i.changeset.coins as number), 0),
      expected,
    );
    const successIndexes = new Set(results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : [])));
    assert.deepEqual(new Set(items.flatMap((i) => (typeof i.metadata.i === 'number' ? [i.metadata.i] : []))), successIndexes);
  });
});

describe('walletsUpdate', () => {
  test('several users in one call, all or nothing', async () => {
    const a = await newUser();
    const b = await newUser();
    await nk().walletsUpdate([
      { userId: a.id, changeset: { gold: 10 } },
      { userId: b.id, changeset: { gold: 1 } },
    ]);
    await assert.rejects(
      nk().walletsUpdate(
        [
          { userId: a.id, changeset: { gold: -5 } },
          { userId: b.id, changeset: { gold: -2 } },
        ],
        true,
      ),
      (err: { code?: number }) => err.code === 9,
    );
    assert.deepEqual(await wallet(a.id), { gold: 10 });
    assert.deepEqual(await wallet(b.id), { gold: 1 });
    assert.equal(await ledgerRows(a.id), 0);
    // Two updates for one user apply in turn.
    const ok = await nk().walletsUpdate(
      [
        { userId: b.id, changeset: { gold: 4 } },
        { userId: a.id, changeset: { gold: -10 } },
        { userId: b.id, changeset: { gold: -5 } },
      ],
      true,
    );
    assert.deepEqual(
      ok.map((r) => [r.userId, r.previous.gold, r.updated.gold]),
      [
        [b.id, 1, 5],
        [a.id, 10, 0],
        [b.id, 5, 0],
      ],
    );
    assert.deepEqual(await wallet(a.id), { gold: 0 });
    assert.deepEqual(await wallet(b.id), { gold: 0 });
    assert.equal(await ledgerRows(b.id), 2);
  });

  test('opposite-order batches on the same two users run concurrently without deadlock or loss', async () => {
    const a = await newUser();
    const b = await newUser();
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        nk().walletsUpdate(
          i % 2
            ? [
                { userId: a.id, changeset: { x: 1 } },
                { userId: b.id, changeset: { x: 2 } },
              ]
            : [
                { userId: b.id, changeset: { x: 2 } },
                { userId: a.id, changeset: { x: 1 } },
              ],
        ),
      ),
    );
    assert.deepEqual(await wallet(a.id), { x: 100 });
    assert.deepEqual(await wallet(b.id), { x: 200 });
  });
});

describe('ledger', () => {
  test('walletLedgerList pages newest first and returns every item exactly once', async () => {
    const u = await newUser();
    for (let i = 0; i < 25; i++) await nk().walletUpdate(u.id, { gold: i + 1 }, { i }, true);
    for (const limit of [1, 7, 10, 25, 100]) {
      const items = await allLedger(u.id, limit);
      assert.deepEqual(
        items.map((x) => x.metadata.i),
        Array.from({ length: 25 }, (_, k) => 24 - k),
        `limit ${limit}`,
      );
    }
    const first = await nk().walletLedgerList(u.id, 10);
    assert.equal(first.items.length, 10);
    assert.ok(first.cursor);
    const last = await nk().walletLedgerList(u.id, 5, (await nk().walletLedgerList(u.id, 20)).cursor);
    assert.equal(last.items.length, 5);
    assert.equal(last.cursor, undefined);
    await assert.rejects(nk().walletLedgerList(u.id, 10, 'garbage'), (err: { code?: number }) => err.code === 3);
    await assert.rejects(nk().walletLedgerList(u.id, 0), (err: { code?: number }) => err.code === 3);
  });

  test('walletLedgerUpdate replaces the metadata', async () => {
    const u = await newUser();
    await nk().walletUpdate(u.id, { gold: 3 }, { reason: 'quest', extra: 1 }, true);
    const [item] = (await nk().walletLedgerList(u.id)).items;
    assert.deepEqual(item!.metadata, { reason: 'quest', extra: 1 });
    const updated = await nk().walletLedgerUpdate(item!.id, { reason: 'refund' });
    assert.equal(updated.id, item!.id);
    assert.deepEqual(updated.metadata, { reason: 'refund' });
    assert.deepEqual(updated.changeset, { gold: 3 });
    assert.deepEqual((await nk().walletLedgerList(u.id)).items[0]!.metadata, { reason: 'refund' });
    await assert.rejects(nk().walletLedgerUpdate('00000000-0000-4000-8000-000000000002', {}), (err: { code?: number }) => err.code === 5);
  });

  test('deleting an account removes its ledger', async () => {
    const u = await newUser();
    const keep = await newUser();
    await nk().walletUpdate(u.id, { gold: 1 }, {}, true);
    await nk().walletUpdate(u.id, { gold: 1 }, {}, true);
    await nk().walletUpdate(keep.id, { gold: 1 }, {}, true);
    assert.equal(await ledgerRows(u.id), 2);
    await nk().accountDeleteId(u.id);
    assert.equal(await ledgerRows(u.id), 0);
    assert.deepEqual((await nk().walletLedgerList(u.id)).items, []);
    assert.equal(await ledgerRows(keep.id), 1);
  });
});

describe('multiUpdate', () => {
  test('account, storage and wallet changes commit together', async () => {
    const u = await newUser();
    const r = await nk().multiUpdate(
      [{ userId: u.id, displayName: 'Multi', metadata: { level: 2 } }],
      [{ collection: 'multi', key: 'k', userId: u.id, value: { ok: true } }],
      null,
      [{ userId: u.id, changeset: { gold: 50 } }],
      true,
    );
    assert.equal(r.storageWriteAcks.length, 1);
    assert.deepEqual(r.walletUpdateAcks[0]!.updated, { gold: 50 });
    const account = await nk().accountGetId(u.id);
    assert.equal(account.user.displayName, 'Multi');
    assert.deepEqual(account.user.metadata, { level: 2 });
    assert.deepEqual(account.wallet, { gold: 50 });
    assert.deepEqual((await nk().storageRead([{ collection: 'multi', key: 'k', userId: u.id }]))[0]!.value, { ok: true });
    assert.equal(await ledgerRows(u.id), 1);
  });

  test('a failing wallet update applies none of the changes', async () => {
    const u = await newUser();
    await nk().multiUpdate(
      [{ userId: u.id, displayName: 'Before' }],
      [{ collection: 'multi', key: 'kept', userId: u.id, value: { v: 1 } }],
      null,
      [{ userId: u.id, changeset: { gold: 5 } }],
    );
    await assert.rejects(
      nk().multiUpdate(
        [{ userId: u.id, displayName: 'After', metadata: { changed: true } }],
        [
          { collection: 'multi', key: 'new', userId: u.id, value: { v: 2 } },
          { collection: 'multi', key: 'kept', userId: u.id, value: { v: 3 } },
        ],
        [{ collection: 'multi', key: 'kept', userId: u.id }],
        [{ userId: u.id, changeset: { gold: -6 } }],
        true,
      ),
      (err: { code?: number }) => err.code === 9,
    );
    const account = await nk().accountGetId(u.id);
    assert.equal(account.user.displayName, 'Before');
    assert.deepEqual(account.user.metadata, {});
    assert.deepEqual(account.wallet, { gold: 5 });
    const objects = await nk().storageRead([
      { collection: 'multi', key: 'new', userId: u.id },
      { collection: 'multi', key: 'kept', userId: u.id },
    ]);
    assert.deepEqual(
      objects.map((o) => [o.key, o.value]),
      [['kept', { v: 1 }]],
    );
    assert.equal(await ledgerRows(u.id), 0);
  });
});
