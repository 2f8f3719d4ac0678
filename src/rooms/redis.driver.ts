/**
 * Tavern's Colyseus room registry (`MatchMakerDriver`) on Redis, shared by every process.
 *
 * Why not `@colyseus/redis-driver`: it has no insert-if-absent (two processes creating the same
 * preset room id both "win"), and every `query`/`findOne` reads every listing of the fleet
 * (HGETALL). Here every write keeps indexes up to date in one Lua script
 * (src/rooms/redis-driver-scripts.ts), so a query reads only the rooms it can match.
 *
 * Key layout (all under `keyPrefix`, default `tavern:mm:`):
 *   rooms                  hash  roomId → listing JSON (`maxClients: Infinity` is left out so it
 *                                reads back as Infinity instead of JSON's null)
 *   idx                    hash  roomId → JSON array of the index sets below the room is in now
 *   name:<name>            set   roomIds of one room name
 *   proc:<processId>       set   roomIds of one process
 *   avail:<name>           set   roomIds of one name that are joinable: `locked` and `private` both
 *                                false (`unlisted` rooms stay joinable: `findOneRoomAvailable` does
 *                                not filter on it)
 *   availf:<json>          set   joinable rooms by the handler's `filterBy` values; <json> is
 *                                JSON.stringify([name, filterFields, values]), a value being the
 *                                listing's top-level field if present, else `metadata[field]`.
 *                                Rooms lacking a field, or whose value is not a string, boolean,
 *                                null or finite number, are only in avail:<name> (such a room can
 *                                never equal a primitive condition anyway).
 *   procs                  set   registered process ids
 *   hb:<processId>         string heartbeat, expires after `processTtlMs`
 *
 * Query routing (then filtered and sorted in JS with the stock Query semantics):
 *   roomId              → one HGET
 *   name, locked:false, private:false, and the other keys exactly the handler's filterBy fields
 *                       → availf:<json>  (what `findOneRoomAvailable` asks for)
 *   name, locked:false, private:false, other keys → avail:<name>
 *   name                → name:<name>
 *   processId           → proc:<processId>
 *   none of those       → every listing (HGETALL: a full read, only for admin/tools).
 * Every index read is one Lua script (SMEMBERS + HMGET), a consistent snapshot.
 *
 * Processes: `boot()` registers the process (procs + hb with a TTL) and refreshes the heartbeat
 * every `heartbeatMs`; every `sweepMs` a survivor sweeps registered processes whose heartbeat is
 * gone with one atomic script (heartbeat re-checked, rooms and registration dropped, listings
 * returned), so of several survivors exactly one calls `onProcessGone`. A process that finds at its
 * heartbeat that it was swept (a long pause) re-registers and re-publishes its rooms
 * (`matchMaker.restoreMissingRoomCaches()`). Every filterBy-aware key assumes all processes define
 * the same `filterBy` for a room name.
 *
 * All scripts touch several keys: use a single Redis (or a hash tag in keyPrefix on a Cluster).
 */
import { logger, matchMaker, type IRoomCache, type MatchMakerDriver, type SortOptions } from '@colyseus/core';
import { Redis } from 'ioredis';
import {
  decode,
  encode,
  hasOwn,
  indexable,
  lookup,
  matchesConditions,
  sortRooms,
  type Conditions,
  type Listing,
} from './redis-driver-listing.js';
import { SCRIPTS, type ScriptName } from './redis-driver-scripts.js';

export { matchesConditions, sortRooms };

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

export interface TavernRedisDriverOptions {
  url: string;
  /** Prefix of every key; default `tavern:mm:`. */
  keyPrefix?: string;
  /** Heartbeat refresh period; default 1000 ms. */
  heartbeatMs?: number;
  /** Heartbeat lifetime: a process silent this long is swept; default 5000 ms. */
  processTtlMs?: number;
  /** Period of the dead-process sweep; default 2000 ms. */
  sweepMs?: number;
  /** Called once fleet-wide (by the survivor that swept it) with a dead process's removed rooms. */
  onProcessGone?: (processId: string, rooms: IRoomCache[]) => void | Promise<void>;
  /** Errors of timers, callbacks, the connection and fire-and-forget removals; default: Colyseus logger. */
  onError?: (err: unknown) => void;
  /** Process id registered at `boot()`; default `matchMaker.processId`. */
  processId?: string;
  /** The `filterBy` fields of a room name; default the handler registered with `matchMaker`. */
  filterFields?: (roomName: string) => readonly string[];
  /** Re-publishes this process's rooms after it found itself swept; default `matchMaker.restoreMissingRoomCaches`. */
  restoreRooms?: () => void | Promise<void>;
}

const defaultFilterFields = (name: string): readonly string[] =>
  (matchMaker.getAllHandlers()[name]?.filterOptions as readonly string[] | undefined) ?? [];

export class TavernRedisDriver implements MatchMakerDriver {
  /** The driver's own connection, exposed for diagnostics and tests: never write through it. */
  readonly client: Redis;
  private readonly prefix: string;
  private readonly heartbeatMs: number;
  private readonly processTtlMs: number;
  private readonly sweepMs: number;
  private readonly filterFields: (roomName: string) => readonly string[];
  private readonly reportError: (err: unknown) => void;
  private processId: string | undefined;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(private readonly options: TavernRedisDriverOptions) {
    this.prefix = options.keyPrefix ?? 'tavern:mm:';
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.processTtlMs = options.processTtlMs ?? 5000;
    this.sweepMs = options.sweepMs ?? 2000;
    this.filterFields = options.filterFields ?? defaultFilterFields;
    this.reportError = options.onError ?? ((err) => logger.error('[tavern redis driver]', err));
    this.client = new Redis(options.url);
    this.client.on('error', (err) => this.reportError(err));
    for (const [name, lua] of Object.entries(SCRIPTS)) this.client.defineCommand(name, { lua });
  }

  // ---- keys ----------------------------------------------------------------------------------

  private get roomsKey(): string {
    return `${this.prefix}rooms`;
  }
  private get idxKey(): string {
    return `${this.prefix}idx`;
  }
  private get procsKey(): string {
    return `${this.prefix}procs`;
  }
  private hbKey(pid: string): string {
    return `${this.prefix}hb:${pid}`;
  }
  private procKey(pid: string): string {
    return `${this.prefix}proc:${pid}`;
  }
  private nameKey(name: string): string {
    return `${this.prefix}name:${name}`;
  }
  private availKey(name: string): string {
    return `${this.prefix}avail:${name}`;
  }
  private availByKey(name: string, fields: readonly string[], values: unknown[]): string {
    return `${this.prefix}availf:${JSON.stringify([name, fields, values])}`;
  }

  /** The index sets a listing (as it reads back from Redis) belongs to. */
  private indexKeys(room: IRoomCache): string[] {
    const keys: string[] = [];
    if (typeof room.processId === 'string') keys.push(this.procKey(room.processId));
    if (typeof room.name !== 'string') return keys;
    keys.push(this.nameKey(room.name));
    if (room.locked !== false || room.private !== false) return keys;
    keys.push(this.availKey(room.name));
    const fields = this.filterFields(room.name);
    if (fields.length === 0) return keys;
    const values: unknown[] = [];
    for (const field of fields) {
      const got = lookup(room as Listing, field);
      if (!got.found || !indexable(got.value)) return keys;
      values.push(got.value);
    }
    keys.push(this.availByKey(room.name, fields, values));
    return keys;
  }

  /** The one index set holding every room that can match `conditions`, or undefined for a full read. */
  private candidateSet(c: Conditions): string | undefined {
    if (typeof c.name === 'string') {
      if (c.locked !== false || c.private !== false) return this.nameKey(c.name);
      const fields = this.filterFields(c.name);
      const rest = Object.keys(c).filter((k) => k !== 'name' && k !== 'locked' && k !== 'private');
      const exact = fields.length > 0 && rest.length === fields.length && fields.every((f) => hasOwn(c, f) && indexable(c[f]));
      return exact
        ? this.availByKey(
            c.name,
            fields,
            fields.map((f) => c[f]),
          )
        : this.availKey(c.name);
    }
    if (typeof c.processId === 'string') return this.procKey(c.processId);
    return undefined;
  }

  private run(name: ScriptName, keys: string[], args: (string | number)[] = []): Promise<unknown> {
    const fn = (this.client as unknown as Record<ScriptName, ScriptFn>)[name];
    return fn.call(this.client, keys.length, ...keys, ...args);
  }

  private async write(room: IRoomCache, mode: 'insert' | 'update' | 'upsert'): Promise<boolean> {
    if (!room.roomId || this.closed) return false;
    const json = encode(room);
    const keys = this.indexKeys(decode(json));
    return (await this.run('tavernMmWrite', [this.roomsKey, this.idxKey, ...keys], [room.roomId, json, mode])) === 1;
  }

  // ---- MatchMakerDriver ----------------------------------------------------------------------

  async has(roomId: string): Promise<boolean> {
    if (this.closed) return false;
    return (await this.client.hexists(this.roomsKey, roomId)) === 1;
  }

  /**
   * On a lost race the winner has recorded the room but may not yet listen on the room's IPC
   * channel (Colyseus subscribes it just after the insert); the loser's caller reserves a seat
   * there next, and a request sent before anyone listens is lost (a 2 s timeout, then "already
   * full"). So a loser returns only once the winner's room channel has a subscriber.
   */
  async insert(room: IRoomCache): Promise<boolean> {
    if (await this.write(room, 'insert')) return true;
    await this.untilReachable(room.roomId);
    return false;
  }

  /** Resolves once the room's process listens for calls to the room (at most `timeoutMs`). */
  async untilReachable(roomId: string, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = (await this.client.pubsub('NUMSUB', `$${roomId}`)) as [string, number];
      if (Number(reply[1]) > 0 || Date.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** create=true: upsert (restoring a swept listing); create=false: only while the room is listed. */
  persist(room: IRoomCache, create = false): Promise<boolean> {
    return create ? this.write(room, 'upsert') : this.quietly(this.write(room, 'update'));
  }

  /**
   * Listing updates (joins, leaves, locks, metadata) come from room events that Colyseus does not
   * always await or catch — also while the process shuts down, after this driver closed. A failed
   * update is reported and answers false rather than becoming an unhandled rejection.
   */
  private async quietly(p: Promise<boolean>): Promise<boolean> {
    try {
      return await p;
    } catch (err) {
      if (!this.closed) this.reportError(err);
      return false;
    }
  }

  /** Applies `$set`/`$inc` to `room` in place (like the stock drivers), then writes it if still listed. */
  update(room: IRoomCache, operations: Partial<{ $set: Partial<IRoomCache>; $inc: Partial<IRoomCache> }>): Promise<boolean> {
    const target = room as Listing;
    for (const [field, value] of Object.entries(operations.$set ?? {})) target[field] = value;
    for (const [field, value] of Object.entries(operations.$inc ?? {})) target[field] = (target[field] as number) + (value as number);
    return this.quietly(this.write(room, 'update'));
  }

  /**
   * Never rejects: Colyseus calls `remove` without awaiting it (Room.disconnect, disposeRoom), where
   * a rejection would end the process. Failures go to `onError` and answer false.
   */
  async remove(roomId: string): Promise<boolean> {
    if (this.closed) return false;
    try {
      return (await this.run('tavernMmRemove', [this.roomsKey, this.idxKey], [roomId])) === 1;
    } catch (err) {
      this.reportError(err);
      return false;
    }
  }

  async findByIds(roomIds: string[]): Promise<Map<string, IRoomCache>> {
    const out = new Map<string, IRoomCache>();
    if (roomIds.length === 0 || this.closed) return out;
    const values = await this.client.hmget(this.roomsKey, ...roomIds);
    values.forEach((json, i) => {
      if (json) out.set(roomIds[i]!, decode(json));
    });
    return out;
  }

  private async candidates(c: Conditions): Promise<IRoomCache[]> {
    if (this.closed) return [];
    if (typeof c.roomId === 'string') {
      const json = await this.client.hget(this.roomsKey, c.roomId);
      return json ? [decode(json)] : [];
    }
    const set = this.candidateSet(c);
    const values = set
      ? ((await this.run('tavernMmReadSet', [set, this.roomsKey])) as string[])
      : Object.values(await this.client.hgetall(this.roomsKey));
    return values.map(decode);
  }

  async query(conditions: Conditions, sortOptions?: SortOptions): Promise<IRoomCache[]> {
    const rooms = (await this.candidates(conditions)).filter((room) => matchesConditions(room, conditions));
    return sortRooms(rooms, sortOptions);
  }

  findOne(conditions: Conditions, sortOptions?: SortOptions): Promise<IRoomCache> {
    return this.query(conditions, sortOptions).then((rooms) => rooms[0]) as Promise<IRoomCache>;
  }

  /** Removes every room of a process (its registration, if any, is left to `shutdown`/the sweep). */
  async cleanup(processId: string): Promise<void> {
    await this.run('tavernMmCleanup', [this.roomsKey, this.idxKey, this.procKey(processId)]);
  }

  /** Deletes every key under the prefix. Tests only. */
  async clear(): Promise<void> {
    const pattern = `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await this.client.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  }

  // ---- processes -----------------------------------------------------------------------------

  async boot(): Promise<void> {
    const pid = this.options.processId ?? (matchMaker.processId as string | undefined);
    if (!pid) throw new Error('TavernRedisDriver.boot(): no process id (matchMaker.processId is not set)');
    this.processId = pid;
    await this.run('tavernMmHeartbeat', [this.procsKey, this.hbKey(pid)], [pid, this.processTtlMs]);
    this.every(this.heartbeatMs, () => this.heartbeat());
    this.every(this.sweepMs, () => this.sweep());
  }

  /** Runs `task` every `ms` (unref'ed), never two at once, errors to `onError`. */
  private every(ms: number, task: () => Promise<unknown>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.closed) return;
      running = true;
      task()
        .catch((err: unknown) => this.reportError(err))
        .finally(() => (running = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async heartbeat(): Promise<void> {
    const pid = this.processId!;
    const added = await this.run('tavernMmHeartbeat', [this.procsKey, this.hbKey(pid)], [pid, this.processTtlMs]);
    if (added === 1 && !this.closed) {
      // We had been swept (a pause longer than processTtlMs): our listings are gone, publish them again.
      await (this.options.restoreRooms ?? (() => matchMaker.restoreMissingRoomCaches()))();
    }
  }

  private async listProcesses(): Promise<[string, boolean][]> {
    const flat = (await this.run('tavernMmProcesses', [this.procsKey], [this.hbKey('')])) as (string | number)[];
    const out: [string, boolean][] = [];
    for (let i = 0; i < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1] === 1]);
    return out;
  }

  /** Registered processes whose heartbeat is alive (for placement). */
  async liveProcesses(): Promise<string[]> {
    return (await this.listProcesses()).filter(([, alive]) => alive).map(([pid]) => pid);
  }

  /**
   * Sweeps registered processes (other than this one) whose heartbeat expired, calling
   * `onProcessGone` for those this call removed. Runs on the sweep timer; exposed for tools/tests.
   * Returns the process ids this call swept.
   */
  async sweep(): Promise<string[]> {
    const swept: string[] = [];
    for (const [pid, alive] of await this.listProcesses()) {
      if (alive || pid === this.processId) continue;
      const keys = [this.roomsKey, this.idxKey, this.procsKey, this.hbKey(pid), this.procKey(pid)];
      const removed = (await this.run('tavernMmSweep', keys, [pid])) as string[] | null;
      if (removed == null) continue; // alive again, or another survivor swept it first
      swept.push(pid);
      try {
        await this.options.onProcessGone?.(pid, removed.map(decode));
      } catch (err) {
        this.reportError(err);
      }
    }
    return swept;
  }

  /**
   * Stops the timers, drops the heartbeat and the registration, and closes the connection. If this
   * process still has rooms listed (no graceful `cleanup` ran), the registration stays so that a
   * survivor sweeps them (and reports them through `onProcessGone`) rather than leaving them forever.
   */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    try {
      if (this.processId) {
        const pid = this.processId;
        await this.run('tavernMmDeregister', [this.procsKey, this.hbKey(pid), this.procKey(pid)], [pid]);
      }
    } catch (err) {
      this.reportError(err);
    }
    if (this.client.status === 'end') return;
    await this.client.quit().catch((err: unknown) => this.reportError(err));
  }
}
