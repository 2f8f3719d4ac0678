/**
 * Wallets: a map of currency → int64 on the account, changed only by server code. Updates lock the
 * account rows (in id order when several) and compute with BigInt, so concurrent updates never
 * lose one another and no balance goes negative; the optional ledger records each change.
 */
import { randomUUID } from 'node:crypto';
import { AppError, Code, invalid, notFound } from '../errors.js';
import { query, queryOne, run, sql, toDate, type Em } from './db.js';
import { inTransaction } from './tx.js';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

export type Amount = number | bigint | string;
export type Wallet = Record<string, bigint>;

export interface WalletUpdate {
  userId: string;
  changeset: Record<string, Amount>;
  metadata?: Record<string, unknown>;
}

export interface WalletUpdateResult {
  userId: string;
  updated: Wallet;
  previous: Wallet;
}

export interface LedgerItem {
  id: string;
  userId: string;
  changeset: Record<string, bigint>;
  metadata: Record<string, unknown>;
  createTime: Date;
  updateTime: Date;
}

function toBigInt(v: Amount, key: string): bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw invalid(`Wallet change for '${key}' must be an integer.`);
    b = BigInt(v);
  } else if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) b = BigInt(v);
  else throw invalid(`Wallet change for '${key}' must be an integer.`);
  if (b > INT64_MAX || b < INT64_MIN) throw invalid(`Wallet change for '${key}' is out of range.`);
  return b;
}

/** A wallet (or changeset) as JSON text with exact int64 numbers. */
export function walletJson(w: Record<string, bigint>): string {
  return `{${Object.entries(w)
    .map(([k, v]) => `${JSON.stringify(k)}:${v.toString()}`)
    .join(',')}}`;
}

/** Parses JSON text of an object of integers without losing int64 precision. */
export function parseWalletJson(text: string): Wallet {
  const out: Wallet = {};
  const obj = JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"')) as Record<string, unknown>;
  for (const [k, v] of Object.entries(obj)) out[k] = BigInt(typeof v === 'number' ? Math.trunc(v) : String(v));
  return out;
}

function checkChangeset(changeset: Record<string, Amount>): Record<string, bigint> {
  if (typeof changeset !== 'object' || changeset === null) throw invalid('Wallet changeset must be an object.');
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(changeset)) {
    if (k.length === 0 || k.length > 128) throw invalid('Wallet keys must be 1-128 characters.');
    out[k] = toBigInt(v, k);
  }
  return out;
}

function apply(userId: string, wallet: Wallet, changeset: Record<string, bigint>): Wallet {
  const next: Wallet = { ...wallet };
  for (const [k, delta] of Object.entries(changeset)) {
    const value = (next[k] ?? 0n) + delta;
    if (value < 0n)
      throw new AppError(Code.FAILED_PRECONDITION, `Wallet update rejected: '${k}' would become negative for user ${userId}.`);
    if (value > INT64_MAX)
      throw new AppError(Code.FAILED_PRECONDITION, `Wallet update rejected: '${k}' would overflow for user ${userId}.`);
    next[k] = value;
  }
  return next;
}

/**
 * Applies changesets to wallets in one transaction: all or nothing. Accounts are locked in id
 * order; several updates for one user apply in turn.
 */
export async function updateWallets(em: Em, updates: readonly WalletUpdate[], updateLedger: boolean): Promise<WalletUpdateResult[]> {
  if (updates.length === 0) return [];
  const checked = updates.map((u) => ({ ...u, changes: checkChangeset(u.changeset), metadata: u.metadata ?? {} }));
  const ids = [...new Set(checked.map((u) => u.userId))].sort();
  return inTransaction(em, async (tx) => {
    const rows = await query<{ id: string; wallet: string }>(
      tx,
      sql`select id, wallet::text as wallet from users where id = any(${ids}::uuid[]) order by id for update`,
    );
    const wallets = new Map(rows.map((r) => [r.id, parseWalletJson(r.wallet)]));
    const missing = ids.find((id) => !wallets.has(id));
    if (missing) throw notFound(`User ${missing} not found.`);
    const results: WalletUpdateResult[] = [];
    for (const u of checked) {
      const previous = wallets.get(u.userId)!;
      const updated = apply(u.userId, previous, u.changes);
      wallets.set(u.userId, updated);
      results.push({ userId: u.userId, updated, previous });
      if (updateLedger) {
        await run(
          tx,
          sql`insert into wallet_ledger (id, user_id, changeset, metadata)
              values (${randomUUID()}, ${u.userId}, ${walletJson(u.changes)}::jsonb, ${JSON.stringify(u.metadata)}::jsonb)`,
        );
      }
    }
    for (const id of ids)
      await run(tx, sql`update users set wallet = ${walletJson(wallets.get(id)!)}::jsonb, update_time = now() where id = ${id}`);
    return results;
  });
}

/** One user's wallet. */
export async function getWallet(em: Em, userId: string): Promise<Wallet> {
  const row = await queryOne<{ wallet: string }>(em, sql`select wallet::text as wallet from users where id = ${userId}`);
  if (!row) throw notFound('User account not found.');
  return parseWalletJson(row.wallet);
}

interface LedgerRow {
  id: string;
  user_id: string;
  changeset: string;
  metadata: string;
  create_time: Date | string;
  update_time: Date | string;
}

const toItem = (r: LedgerRow): LedgerItem => ({
  id: r.id,
  userId: r.user_id,
  changeset: parseWalletJson(r.changeset),
  metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  createTime: toDate(r.create_time),
  updateTime: toDate(r.update_time),
});

const LEDGER_COLUMNS = sql`id, user_id, changeset::text as changeset, metadata::text as metadata, create_time, update_time`;

/** A user's ledger, newest first, with a cursor for the next page. */
export async function listLedger(em: Em, userId: string, limit = 100, cursor?: string): Promise<{ items: LedgerItem[]; cursor?: string }> {
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalid('Limit must be between 1 and 100.');
  let after = sql``;
  if (cursor) {
    let c: { t: string; i: string };
    try {
      c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { t: string; i: string };
    } catch {
      throw invalid('Malformed cursor was used.');
    }
    if (typeof c?.t !== 'string' || typeof c.i !== 'string') throw invalid('Malformed cursor was used.');
    after = sql`and (create_time, id) < (${c.t}::timestamptz, ${c.i}::uuid)`;
  }
  const rows = await query<LedgerRow>(
    em,
    sql`select ${LEDGER_COLUMNS} from wallet_ledger where user_id = ${userId} ${after} order by create_time desc, id desc limit ${limit + 1}`,
  );
  const items = rows.slice(0, limit).map(toItem);
  const last = rows.length > limit ? rows[limit - 1] : undefined;
  return {
    items,
    // The database's own timestamp text keeps its microseconds, so the cursor is exact.
    ...(last
      ? {
          cursor: Buffer.from(
            JSON.stringify({ t: String(last.create_time instanceof Date ? last.create_time.toISOString() : last.create_time), i: last.id }),
          ).toString('base64url'),
        }
      : {}),
  };
}

/** Replaces a ledger item's metadata. */
export async function updateLedgerItem(em: Em, itemId: string, metadata: Record<string, unknown>): Promise<LedgerItem> {
  const row = await queryOne<LedgerRow>(
    em,
    sql`update wallet_ledger set metadata = ${JSON.stringify(metadata)}::jsonb, update_time = now() where id = ${itemId} returning ${LEDGER_COLUMNS}`,
  );
  if (!row) throw notFound('Wallet ledger item not found.');
  return toItem(row);
}

/** Removes a user's ledger (account deletion). */
export async function deleteUserLedger(em: Em, userId: string): Promise<void> {
  await run(em, sql`delete from wallet_ledger where user_id = ${userId}`);
}
