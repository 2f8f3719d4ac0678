/**
 * TavernRedisDriver on a real Redis: atomic insert, indexes kept exact on every write, queries that
 * read only matching rooms, and the dead-process sweep (with real SIGKILL / SIGSTOP of a child).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test, type TestContext } from 'node:test';
import { initializeRoomCache, matchMaker, Room, type IRoomCache } from '@colyseus/core';
import { RedisDriver } from '@colyseus/redis-driver';
import { Redis, type Command } from 'ioredis';
import { TavernRedisDriver, type TavernRedisDriverOptions } from '../../src/rooms/redis.driver.js';
import { redisUrl } from '../support/server.js';

const root = path.resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fresh key prefix per test, and drivers that are cleared and shut down after it. */
function fixture(t: TestContext) {
  const prefix = `t:${randomUUID()}:`;
  const drivers: TavernRedisDriver[] = [];
  const driver = (opts: Partial<TavernRedisDriverOptions> = {}) => {
    const d = new TavernRedisDriver({ url: redisUrl(), keyPrefix: prefix, ...opts });
    drivers.push(d);
    return d;
  };
  t.after(async () => {
    await drivers[0]?.clear();
    for (const d of drivers) await d.shutdown();
  });
  return { prefix, driver };
}

let n = 0;
const listing = (name: string, extra: Partial<IRoomCache> = {}): IRoomCache =>
  initializeRoomCache({ roomId: `r${++n}`, name, processId: 'p1', maxClients: 4, ...extra });

async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  return (await client.keys(`${prefix}*`)).sort();
}

/** Counts the room listings (and bytes) the client receives: what a query really read. */
function spyReplies(client: Redis) {
  const seen = { rows: 0, bytes: 0 };
  const measure = (v: unknown): void => {
    if (typeof v === 'string' || Buffer.isBuffer(v)) {
      seen.bytes += v.length;
      if (v.toString().startsWith('{"')) seen.rows++;
    } else if (Array.isArray(v)) v.forEach(measure);
    else if (v && typeof v === 'object') Object.values(v).forEach(measure);
  };
  const original = client.sendCommand.bind(client);
  client.sendCommand = ((command: Command, ...rest: never[]) => {
    command.promise.then(measure, () => {});
    return original(command, ...rest);
  }) as typeof client.sendCommand;
  return seen;
}

test('50 concurrent inserts of one id from two processes: exactly one wins, indexes stay single', async (t) => {
  const { driver } = fixture(t);
  const a = driver();
  const b = driver();
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).insert(listing('duel', { roomId: 'same', processId: i % 2 ? 'pa' : 'pb' }))),
  );
  assert.equal(results.filter(Boolean).length, 1);
  const rooms = await a.query({ name: 'duel' });
  assert.equal(rooms.length, 1);
  const winner = results.indexOf(true) % 2 ? 'pa' : 'pb';
  assert.equal(rooms[0]!.processId, winner);
  assert.equal((await b.query({ processId: winner === 'pa' ? 'pb' : 'pa' })).length, 0);
  assert.equal(await a.insert(listing('duel', { roomId: 'same' })), false);
});

test('remove clears every index; persist(create=false) and update never resurrect', async (t) => {
  const { driver, prefix } = fixture(t);
  const d = driver({ filterFields: () => ['mode'] });
  const room = listing('arena', { metadata: { mode: 'duel' } });
  assert.equal(await d.insert(room), true);
  assert.equal(await d.has(room.roomId), true);
  assert.equal((await d.findOne({ roomId: room.roomId }))?.roomId, room.roomId);
  assert.equal(await d.remove(room.roomId), true);
  assert.equal(await d.remove(room.roomId), false);

  assert.equal(await d.has(room.roomId), false);
  assert.equal(await d.findOne({ roomId: room.roomId }), undefined);
  assert.deepEqual(await d.query({ name: 'arena' }), []);
  assert.deepEqual(await d.query({ processId: 'p1' }), []);
  assert.equal(await d.findOne({ name: 'arena', locked: false, private: false, mode: 'duel' }), undefined);
  assert.deepEqual(await keysUnder(d.client, prefix), [], 'no index set keeps the id');

  assert.equal(await d.persist(room), false);
  assert.equal(await d.update(room, { $inc: { clients: 1 } }), false);
  assert.equal(room.clients, 1, 'update applies to the object in place');
  assert.equal(await d.has(room.roomId), false);
  assert.deepEqual(await keysUnder(d.client, prefix), []);
  // create=true is the restore path: an upsert.
  assert.equal(await d.persist(room, true), true);
  assert.equal((await d.query({ name: 'arena', clients: 1 })).length, 1);
  assert.deepEqual((await d.findByIds([room.roomId, 'nope'])).get(room.roomId)?.clients, 1);
});

test('the available index follows lock, unlock, setPrivate; unlisted rooms stay joinable', async (t) => {
  const { driver } = fixture(t);
  const d = driver();
  const room = listing('lobby');
  await d.insert(room);
  const available = { name: 'lobby', locked: false, private: false } as const;
  assert.equal((await d.findOne(available))?.roomId, room.roomId);

  assert.equal(await d.update(room, { $set: { locked: true } }), true); // Room.lock()
  assert.equal(await d.findOne(available), undefined);
  assert.equal((await d.query({ name: 'lobby' })).length, 1);
  assert.equal((await d.findOne({ name: 'lobby', locked: true }))?.roomId, room.roomId);
  await d.update(room, { $set: { locked: false } }); // Room.unlock()
  assert.equal((await d.findOne(available))?.roomId, room.roomId);

  room.private = true; // Room.setPrivate(): persist without create
  assert.equal(await d.persist(room), true);
  assert.equal(await d.findOne(available), undefined);
  room.private = false;
  room.unlisted = true;
  await d.persist(room);
  assert.equal((await d.findOne(available))?.roomId, room.roomId);
});

test('filterBy: rooms are found only by their own values (handler registered with matchMaker)', async (t) => {
  const { driver } = fixture(t);
  const name = `filtered_${randomUUID()}`;
  const handler = matchMaker.defineRoomType(name, class extends Room {}).filterBy(['mode', 'rank']);
  t.after(() => matchMaker.removeRoomType(name));
  const d = driver(); // default filterFields: the matchMaker handler
  const spy = spyReplies(d.client);
  const duel1 = listing(name, { metadata: { mode: 'duel', rank: 1 } });
  const duel2 = listing(name, { metadata: { mode: 'duel', rank: 2 } });
  const ffa1 = listing(name, { metadata: { mode: 'ffa', rank: 1 } });
  const noRank = listing(name, { metadata: { mode: 'duel' } });
  for (const r of [duel1, duel2, ffa1, noRank]) await d.insert(r);
  // The exact condition object findOneRoomAvailable builds.
  const find = (options: Record<string, unknown>) =>
    d.query({ locked: false, name, private: false, ...handler.getFilterOptions(options) }).then((rs) => rs.map((r) => r.roomId).sort());

  spy.rows = 0;
  assert.deepEqual(await find({ mode: 'duel', rank: 1 }), [duel1.roomId]);
  assert.equal(spy.rows, 1, 'read one listing: the filtered set');
  assert.deepEqual(await find({ mode: 'ffa', rank: 1 }), [ffa1.roomId]);
  assert.deepEqual(await find({ mode: 'duel', rank: '1' }), [], "'1' is not 1");
  assert.deepEqual(await find({ mode: 'ctf', rank: 1 }), []);
  // A client sending only some filter fields: the name's available set, filtered in JS.
  assert.deepEqual(await find({ mode: 'duel' }), [duel1.roomId, duel2.roomId, noRank.roomId].sort());
  assert.deepEqual(await find({}), [duel1.roomId, duel2.roomId, ffa1.roomId, noRank.roomId].sort());

  // A write moves the room between filtered sets.
  duel2.metadata.rank = 1;
  await d.persist(duel2);
  assert.deepEqual(await find({ mode: 'duel', rank: 1 }), [duel1.roomId, duel2.roomId].sort());
  assert.deepEqual(await find({ mode: 'duel', rank: 2 }), []);
  // Top-level fields win over metadata, as in Query.
  const top = listing(name, { maxClients: 8, metadata: { mode: 'ffa', rank: 3, maxClients: 2 } });
  await d.insert(top);
  assert.deepEqual(
    (await d.query({ name, maxClients: 8 })).map((r) => r.roomId),
    [top.roomId],
  );
  assert.deepEqual(
    (await d.query({ name, maxClients: 2 })).map((r) => r.roomId),
    [],
  );
});

test('sorting like the stock Query; createdAt comes back as a Date, maxClients Infinity as Infinity', async (t) => {
  const { driver } = fixture(t);
  const d = driver();
  const t0 = Date.now();
  const rooms = [
    listing('s', { clients: 2, createdAt: new Date(t0 - 3000), metadata: { rating: 5 } }),
    listing('s', { clients: 3, createdAt: new Date(t0 - 1000), metadata: { rating: 1 } }),
    listing('s', { clients: 2, createdAt: new Date(t0 - 2000), metadata: { rating: 9 } }),
    listing('s', { clients: 1, createdAt: new Date(t0), maxClients: Infinity, metadata: { rating: 7 } }),
  ];
  for (const r of rooms) await d.insert(r);
  const ids = (rs: IRoomCache[]) => rs.map((r) => rooms.findIndex((x) => x.roomId === r.roomId));
  assert.deepEqual(ids(await d.query({ name: 's' }, { clients: -1, createdAt: 1 })), [1, 0, 2, 3]);
  assert.deepEqual(ids(await d.query({ name: 's' }, { clients: 'asc', createdAt: 'descending' })), [3, 2, 0, 1]);
  assert.deepEqual(ids(await d.query({ name: 's' }, { rating: 'desc' })), [2, 3, 0, 1]);
  assert.deepEqual(ids([await d.findOne({ name: 's', locked: false, private: false }, { createdAt: 1 })]), [0]);

  const back = (await d.findOne({ roomId: rooms[3]!.roomId }))!;
  assert.ok(back.createdAt instanceof Date);
  assert.equal(back.createdAt.getTime(), t0);
  assert.equal(back.maxClients, Infinity);
  assert.ok((await d.query({ name: 's' })).every((r) => r.createdAt instanceof Date));
  assert.equal((await d.findByIds([rooms[0]!.roomId])).get(rooms[0]!.roomId)?.maxClients, 4);
});

test('a query for one name reads only its rooms with 10,000 rooms of another name present (stock driver reads all)', async (t) => {
  const { driver, prefix } = fixture(t);
  const d = driver({ filterFields: (name) => (name === 'wanted' ? ['mode'] : []) });
  const others = Array.from({ length: 10_000 }, (_, i) => listing('session', { processId: `p${i % 7}`, metadata: { mode: 'a' } }));
  for (let i = 0; i < others.length; i += 1000) await Promise.all(others.slice(i, i + 1000).map((r) => d.insert(r)));
  const wanted = ['a', 'a', 'b'].map((mode) => listing('wanted', { processId: 'px', metadata: { mode } }));
  for (const r of wanted) await d.insert(r);

  const wantB = { locked: false, name: 'wanted', private: false, mode: 'b' }; // what findOneRoomAvailable asks
  const spy = spyReplies(d.client);
  assert.equal((await d.query({ name: 'wanted' })).length, 3);
  assert.equal((await d.findOne(wantB))?.roomId, wanted[2]!.roomId);
  assert.equal((await d.query({ name: 'wanted', clients: 0 }, { createdAt: 1 })).length, 3);
  assert.equal((await d.query({ processId: 'px' })).length, 3);
  assert.ok(spy.rows <= 3 + 1 + 3 + 3, `read ${spy.rows} listings`);
  assert.ok(spy.bytes < 10_000, `read ${spy.bytes} bytes`);

  // The same data and question on @colyseus/redis-driver: it reads every listing.
  const stockClient = new Redis(redisUrl(), { keyPrefix: `${prefix}stock:` });
  const stock = new RedisDriver(stockClient);
  t.after(() => stock.shutdown());
  const all = [...others, ...wanted];
  for (let i = 0; i < all.length; i += 1000) await Promise.all(all.slice(i, i + 1000).map((r) => stock.persist(r, true)));
  const stockSpy = spyReplies(stockClient);
  assert.equal((await stock.findOne(wantB))?.roomId, wanted[2]!.roomId);
  assert.ok(stockSpy.rows >= 10_000, `stock driver read ${stockSpy.rows} listings`);
});

test('cleanup removes one process’s rooms from every index', async (t) => {
  const { driver } = fixture(t);
  const d = driver();
  for (let i = 0; i < 20; i++) await d.insert(listing('c', { processId: i % 2 ? 'odd' : 'even' }));
  await d.cleanup('odd');
  assert.equal((await d.query({ processId: 'odd' })).length, 0);
  assert.equal((await d.query({ name: 'c', locked: false, private: false })).length, 10);
  assert.ok((await d.query({})).every((r) => r.processId === 'even'));
});

test('two survivors sweeping at once: each dead process is reported exactly once', async (t) => {
  const { driver, prefix } = fixture(t);
  const gone = new Map<string, number[]>();
  const onProcessGone = (pid: string, rooms: IRoomCache[]) => void gone.set(pid, [...(gone.get(pid) ?? []), rooms.length]);
  const a = driver({ onProcessGone });
  const b = driver({ onProcessGone });
  // What kill -9 leaves behind: a registered process with listed rooms and no heartbeat.
  const dead = Array.from({ length: 20 }, (_, i) => `dead${i}`);
  for (const pid of dead) {
    await a.client.sadd(`${prefix}procs`, pid);
    for (let i = 0; i < 5; i++) await a.insert(listing('z', { processId: pid }));
  }
  const sweeps = await Promise.all([a.sweep(), b.sweep(), a.sweep(), b.sweep()]);
  assert.equal(sweeps.flat().length, 20);
  assert.deepEqual([...gone.keys()].sort(), [...dead].sort());
  assert.ok([...gone.values()].every((counts) => counts.length === 1 && counts[0] === 5));
  assert.equal((await a.query({ name: 'z' })).length, 0);
  assert.deepEqual(await a.liveProcesses(), []);
});

/** A driver in a child process: `kill -9` and `kill -STOP` are real. */
function child(prefix: string, pid: string, rooms: number): { proc: ChildProcess; lines: string[]; until(line: string): Promise<void> } {
  const code = `
    const { TavernRedisDriver } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'src/rooms/redis.driver.ts')).href)});
    const { initializeRoomCache } = await import('@colyseus/core');
    const e = process.env, listings = [];
    const d = new TavernRedisDriver({ url: e.R_URL, keyPrefix: e.R_PREFIX, processId: e.R_PID, heartbeatMs: 100, processTtlMs: 400, sweepMs: 100,
      restoreRooms: async () => { for (const l of listings) await d.persist(l, true); console.log('restored'); } });
    await d.boot();
    for (let i = 0; i < Number(e.R_ROOMS); i++) {
      const l = initializeRoomCache({ roomId: e.R_PID + '_' + i, name: 'crash', processId: e.R_PID, maxClients: 4 });
      listings.push(l);
      await d.insert(l);
    }
    console.log('ready');
    setInterval(() => {}, 1000);`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    env: { ...process.env, R_URL: redisUrl(), R_PREFIX: prefix, R_PID: pid, R_ROOMS: String(rooms) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  proc.stdout!.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  const until = async (line: string) => {
    for (let i = 0; i < 300 && !lines.includes(line); i++) await sleep(50);
    assert.ok(lines.includes(line), `child never printed ${line}`);
  };
  return { proc, lines, until };
}

async function waitFor(check: () => boolean | Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await sleep(20);
  }
  return Date.now() - start;
}

test('kill -9: a survivor removes the dead process’s rooms within ~1 s, reported once across two survivors', async (t) => {
  const { driver, prefix } = fixture(t);
  const calls: [string, string, string[]][] = [];
  const survivor = (me: string) =>
    driver({
      processId: me,
      heartbeatMs: 100,
      processTtlMs: 400,
      sweepMs: 100,
      onProcessGone: (pid, rooms) => void calls.push([me, pid, rooms.map((r) => r.roomId).sort()]),
    });
  const a1 = survivor('a1');
  const a2 = survivor('a2');
  await a1.boot();
  await a2.boot();
  const b = child(prefix, 'b', 8);
  t.after(() => b.proc.kill('SIGKILL'));
  await b.until('ready');
  assert.equal((await a1.query({ processId: 'b' })).length, 8);
  assert.deepEqual((await a1.liveProcesses()).sort(), ['a1', 'a2', 'b']);

  b.proc.kill('SIGKILL');
  const elapsed = await waitFor(async () => (await a1.query({ name: 'crash' })).length === 0, 3000);
  t.diagnostic(`rooms of the killed process removed after ${elapsed} ms`);
  assert.ok(elapsed < 1500, `took ${elapsed} ms`);
  await sleep(400); // both survivors keep sweeping: still one report
  assert.equal(calls.length, 1);
  assert.equal(calls[0]![1], 'b');
  assert.deepEqual(calls[0]![2], Array.from({ length: 8 }, (_, i) => `b_${i}`).sort());
  assert.deepEqual((await a2.liveProcesses()).sort(), ['a1', 'a2']);
});

test('a process swept during a long pause (SIGSTOP) re-registers and republishes its rooms', async (t) => {
  const { driver, prefix } = fixture(t);
  const gone: string[] = [];
  const a = driver({ processId: 'a', heartbeatMs: 100, processTtlMs: 400, sweepMs: 100, onProcessGone: (pid) => void gone.push(pid) });
  await a.boot();
  const c = child(prefix, 'c', 3);
  t.after(() => c.proc.kill('SIGKILL'));
  await c.until('ready');
  c.proc.kill('SIGSTOP');
  await waitFor(() => gone.includes('c'), 3000);
  assert.equal((await a.query({ processId: 'c' })).length, 0);
  assert.deepEqual(await a.liveProcesses(), ['a']);

  c.proc.kill('SIGCONT');
  await c.until('restored');
  await waitFor(async () => (await a.liveProcesses()).includes('c'), 2000);
  assert.equal((await a.query({ processId: 'c' })).length, 3);
  assert.equal((await a.findOne({ name: 'crash', locked: false, private: false }))?.processId, 'c');
});

test('shutdown deregisters; leftover rooms keep the registration for the sweep; timer errors go to onError', async (t) => {
  const { driver, prefix } = fixture(t);
  const errors: unknown[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));
  const reported: string[] = [];
  const sweeper = driver({
    processId: 's',
    heartbeatMs: 50,
    processTtlMs: 200,
    sweepMs: 50,
    onError: (e) => void errors.push(e),
    onProcessGone: async (pid) => {
      reported.push(pid);
      throw new Error('callback failed');
    },
  });
  await sweeper.boot();
  const clean = driver({ processId: 'clean' });
  await clean.boot();
  await clean.shutdown();
  assert.equal(await sweeper.client.sismember(`${prefix}procs`, 'clean'), 0);

  const messy = driver({ processId: 'messy' });
  await messy.boot();
  await messy.insert(listing('m', { processId: 'messy' }));
  await messy.shutdown();
  assert.equal(await sweeper.client.sismember(`${prefix}procs`, 'messy'), 1);
  await waitFor(() => reported.includes('messy'), 2000);
  assert.equal(await sweeper.has(`r${n}`), false);
  assert.deepEqual(reported, ['messy'], 'a cleanly shut down process is never reported');
  await waitFor(() => errors.length > 0, 1000);
  assert.match(String(errors[0]), /callback failed/);
  assert.deepEqual(unhandled, []);
});
