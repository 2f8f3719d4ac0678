/**
 * The storage engine (Nakama's core_storage): JSON objects keyed by collection, key and owner,
 * with optimistic versions and read/write permissions. A batch is one transaction: any rejected
 * write or delete rolls back the whole batch. Every condition is in the SQL statement itself
 * (`ON CONFLICT … WHERE`, `UPDATE … WHERE version = …`), rows are touched in key order so
 * concurrent batches cannot deadlock, and serialization failures are retried.
 */
import { createHash } from 'node:crypto';
import { AppError, Code, invalid } from '../errors.js';
import { query, queryOne, run, sql, toDate, type Em } from './db.js';
import { inTransaction } from './tx.js';

/** The owner of objects that belong to the server. */
export const SYSTEM_USER_ID = '00000000-0000-0000-0000-000000000000';

/** Read: 0 no one but the server, 1 the owner, 2 everyone. Write: 0 only the server, 1 the owner. */
export type ReadPermission = 0 | 1 | 2;
export type WritePermission = 0 | 1;

export interface StorageWrite {
  collection: string;
  key: string;
  /** Owner; the system user when absent. */
  userId?: string;
  /** A JSON object, as text (clients send text) or as an object (server code). */
  value: string | Record<string, unknown>;
  /** `""`/absent: overwrite; `"*"`: only if absent; a hash: only if unchanged. */
  version?: string;
  permissionRead?: ReadPermission;
  permissionWrite?: WritePermission;
}

export interface StorageObjectId {
  collection: string;
  key: string;
  userId?: string;
  /** For deletes: only if the stored version matches. */
  version?: string;
}

export interface StorageObject {
  collection: string;
  key: string;
  userId: string;
  /** The value as JSON text. */
  value: string;
  version: string;
  permissionRead: ReadPermission;
  permissionWrite: WritePermission;
  createTime: Date;
  updateTime: Date;
}

export interface StorageAck {
  collection: string;
  key: string;
  userId: string;
  version: string;
  createTime: Date;
  updateTime: Date;
}

/** Who is asking: a user (permissions apply) or the server (they don't). */
export type Caller = { userId: string } | 'server';

export const REJECTED_VERSION = 'Storage write rejected - version check failed.';
export const REJECTED_PERMISSION = 'Storage write rejected - permission denied.';
export const REJECTED_DELETE = 'Storage delete rejected - not found, version check failed, or permission denied.';

const MAX_NAME = 128;
const MAX_BATCH = 1000;

function checkId(collection: string, key: string): void {
  if (!collection || !key) throw invalid('Invalid collection or key value supplied. They must be set.');
  if (collection.length > MAX_NAME || key.length > MAX_NAME) throw invalid('Collection and key must be at most 128 characters.');
}

/** The value as canonical JSON text of an object, and its version (MD5 of the text as written). */
function valueText(value: string | Record<string, unknown>): { text: string; version: string } {
  let text: string;
  if (typeof value === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw invalid('Object value must be JSON.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('Object value must be a JSON object.');
    text = value;
  } else {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('Object value must be a JSON object.');
    text = JSON.stringify(value);
  }
  return { text, version: createHash('md5').update(text).digest('hex') };
}

interface Row {
  collection: string;
  key: string;
  user_id: string;
  value?: unknown;
  version: string;
  read?: number;
  write?: number;
  create_time: Date | string;
  update_time: Date | string;
}

const toAck = (r: Row): StorageAck => ({
  collection: r.collection,
  key: r.key,
  userId: r.user_id,
  version: r.version,
  createTime: toDate(r.create_time),
  updateTime: toDate(r.update_time),
});

const toObject = (r: Row): StorageObject => ({
  ...toAck(r),
  value: typeof r.value === 'string' ? r.value : JSON.stringify(r.value),
  permissionRead: r.read as ReadPermission,
  permissionWrite: r.write as WritePermission,
});

const order = (a: { collection: string; key: string; userId?: string }, b: typeof a) =>
  a.collection.localeCompare(b.collection) || a.key.localeCompare(b.key) || (a.userId ?? '').localeCompare(b.userId ?? '');

/** Writes a batch atomically; acks come back in the order of the request. */
export async function writeObjects(em: Em, caller: Caller, writes: readonly StorageWrite[]): Promise<StorageAck[]> {
  if (writes.length === 0) return [];
  if (writes.length > MAX_BATCH) throw invalid(`At most ${MAX_BATCH} objects per batch.`);
  const ops = writes.map((w, index) => {
    checkId(w.collection, w.key);
    const userId = caller === 'server' ? (w.userId ?? SYSTEM_USER_ID) : caller.userId;
    const read = w.permissionRead ?? 1;
    const write = w.permissionWrite ?? 1;
    if (![0, 1, 2].includes(read)) throw invalid('Invalid Read permission supplied. It must be either 0, 1 or 2.');
    if (![0, 1].includes(write)) throw invalid('Invalid Write permission supplied. It must be either 0 or 1.');
    return { index, collection: w.collection, key: w.key, userId, read, write, expected: w.version ?? '', ...valueText(w.value) };
  });
  const sorted = [...ops].sort(order);
  const acks = await inTransaction(em, async (tx) => {
    const out = new Map<number, StorageAck>();
    for (const op of sorted) out.set(op.index, await writeOne(tx, caller === 'server', op));
    return out;
  });
  return ops.map((op) => acks.get(op.index)!);
}

async function writeOne(
  tx: Em,
  server: boolean,
  op: { collection: string; key: string; userId: string; read: number; write: number; expected: string; text: string; version: string },
): Promise<StorageAck> {
  const { collection, key, userId, read, write, expected, text, version } = op;
  const returning = sql`returning collection, key, user_id, version, create_time, update_time`;
  let row: Row | undefined;
  if (expected === '*') {
    row = await queryOne<Row>(
      tx,
      sql`insert into storage (collection, key, user_id, value, version, read, write)
          values (${collection}, ${key}, ${userId}, ${text}::jsonb, ${version}, ${read}, ${write})
          on conflict (collection, key, user_id) do nothing ${returning}`,
    );
    if (!row) throw new AppError(Code.INVALID_ARGUMENT, REJECTED_VERSION);
    return toAck(row);
  }
  if (expected !== '') {
    row = await queryOne<Row>(
      tx,
      sql`update storage set value = ${text}::jsonb, version = ${version}, read = ${read}, write = ${write}, update_time = now()
          where collection = ${collection} and key = ${key} and user_id = ${userId} and version = ${expected}
          ${server ? sql`` : sql`and write = 1`} ${returning}`,
    );
    if (!row) throw new AppError(Code.INVALID_ARGUMENT, server ? REJECTED_VERSION : await whyRejected(tx, op));
    return toAck(row);
  }
  row = await queryOne<Row>(
    tx,
    sql`insert into storage as s (collection, key, user_id, value, version, read, write)
        values (${collection}, ${key}, ${userId}, ${text}::jsonb, ${version}, ${read}, ${write})
        on conflict (collection, key, user_id) do update
          set value = excluded.value, version = excluded.version, read = excluded.read, write = excluded.write, update_time = now()
          ${server ? sql`` : sql`where s.write = 1`}
        ${returning}`,
  );
  if (!row) throw new AppError(Code.INVALID_ARGUMENT, REJECTED_PERMISSION);
  return toAck(row);
}

/** After a refused conditional update by a client: was it the version or the permission? */
async function whyRejected(tx: Em, op: { collection: string; key: string; userId: string; expected: string }): Promise<string> {
  const cur = await queryOne<{ version: string; write: number }>(
    tx,
    sql`select version, write from storage where collection = ${op.collection} and key = ${op.key} and user_id = ${op.userId}`,
  );
  return cur && cur.version === op.expected && cur.write === 0 ? REJECTED_PERMISSION : REJECTED_VERSION;
}

/** Reads objects the caller may see; objects that don't exist or aren't visible are left out. */
export async function readObjects(em: Em, caller: Caller, ids: readonly StorageObjectId[]): Promise<StorageObject[]> {
  if (ids.length === 0) return [];
  if (ids.length > MAX_BATCH) throw invalid(`At most ${MAX_BATCH} objects per batch.`);
  for (const id of ids) checkId(id.collection, id.key);
  const collections = ids.map((i) => i.collection);
  const keys = ids.map((i) => i.key);
  const users = ids.map((i) => i.userId || SYSTEM_USER_ID);
  const visible = caller === 'server' ? sql`true` : sql`(s.read = 2 or (s.read = 1 and s.user_id = ${caller.userId}))`;
  const rows = await query<Row>(
    em,
    sql`select s.collection, s.key, s.user_id, s.value::text as value, s.version, s.read, s.write, s.create_time, s.update_time
        from storage s
        join unnest(${collections}::text[], ${keys}::text[], ${users}::uuid[]) as q(collection, key, user_id)
          on s.collection = q.collection and s.key = q.key and s.user_id = q.user_id
        where ${visible}`,
  );
  return rows.map(toObject);
}

/**
 * Deletes a batch atomically. Clients delete only their own objects with write permission 1. As in
 * Nakama, a delete that removes nothing rejects the batch (not found, version mismatch or write 0),
 * except an unversioned delete by the server, which is a no-op when there is nothing to delete.
 */
export async function deleteObjects(em: Em, caller: Caller, ids: readonly StorageObjectId[]): Promise<void> {
  if (ids.length === 0) return;
  if (ids.length > MAX_BATCH) throw invalid(`At most ${MAX_BATCH} objects per batch.`);
  for (const id of ids) checkId(id.collection, id.key);
  const ops = ids.map((id) => ({ ...id, userId: caller === 'server' ? (id.userId ?? SYSTEM_USER_ID) : caller.userId })).sort(order);
  await inTransaction(em, async (tx) => {
    for (const op of ops) {
      const versioned = op.version ? sql`and version = ${op.version}` : sql``;
      const writable = caller === 'server' ? sql`` : sql`and write = 1`;
      const n = await run(
        tx,
        sql`delete from storage where collection = ${op.collection} and key = ${op.key} and user_id = ${op.userId} ${versioned} ${writable}`,
      );
      if (n === 0 && (op.version || caller !== 'server')) throw new AppError(Code.INVALID_ARGUMENT, REJECTED_DELETE);
    }
  });
}

export interface ListOptions {
  collection: string;
  /** Whose objects; absent: everyone's public objects. */
  userId?: string;
  limit: number;
  cursor?: string;
}

interface Cursor {
  k: string;
  u: string;
}

function decodeCursor(cursor: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Cursor;
    if (typeof c.k === 'string' && typeof c.u === 'string') return c;
  } catch {
    // fall through
  }
  throw invalid('Malformed cursor was used.');
}

/** Lists a collection with keyset paging: own objects, a user's public ones, or all public ones. */
export async function listObjects(em: Em, caller: Caller, opts: ListOptions): Promise<{ objects: StorageObject[]; cursor?: string }> {
  if (!opts.collection || opts.collection.length > MAX_NAME) throw invalid('Invalid collection.');
  if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > 100)
    throw invalid('Invalid limit - limit must be between 1 and 100.');
  const after = opts.cursor ? decodeCursor(opts.cursor) : undefined;
  let visible;
  if (caller === 'server') visible = opts.userId ? sql`s.user_id = ${opts.userId}` : sql`true`;
  else if (opts.userId === caller.userId) visible = sql`s.user_id = ${opts.userId} and s.read >= 1`;
  else if (opts.userId) visible = sql`s.user_id = ${opts.userId} and s.read = 2`;
  else visible = sql`s.read = 2`;
  const page = after ? sql`and (s.key, s.user_id) > (${after.k}, ${after.u}::uuid)` : sql``;
  const rows = await query<Row>(
    em,
    sql`select s.collection, s.key, s.user_id, s.value::text as value, s.version, s.read, s.write, s.create_time, s.update_time
        from storage s
        where s.collection = ${opts.collection} and ${visible} ${page}
        order by s.key, s.user_id
        limit ${opts.limit + 1}`,
  );
  const more = rows.length > opts.limit;
  const objects = rows.slice(0, opts.limit).map(toObject);
  const last = objects[objects.length - 1];
  return {
    objects,
    ...(more && last
      ? { cursor: Buffer.from(JSON.stringify({ k: last.key, u: last.userId } satisfies Cursor)).toString('base64url') }
      : {}),
  };
}

/** Removes every object a user owns (account deletion). */
export async function deleteUserObjects(em: Em, userId: string): Promise<void> {
  await run(em, sql`delete from storage where user_id = ${userId}`);
}
