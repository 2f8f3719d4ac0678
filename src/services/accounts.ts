/** Reading, updating and deleting accounts, and linking identities to them (Nakama's core_account / core_link / core_unlink). */
import { denied, exists, invalid, notFound } from '../errors.js';
import { query, queryOne, run, sql, toDate, transaction, uniqueViolation, type Em } from './db.js';
import { removeUserEdges } from './friends.js';
import { removeUserFromGroups } from './group-members.js';
import { deleteUserRecords, forgetUserRanks } from './leaderboard-records.js';
import type { PasswordHasher } from './ports.js';
import { inTransaction } from './tx.js';
import type { RankCache } from './rank-cache.js';
import { deleteUserObjects } from './storage.js';
import { deleteUserLedger, parseWalletJson, type Wallet } from './wallets.js';
import { toUser, USER_COLUMNS, type User, type UserRow } from './users.js';

/** Nakama's `Account`. */
export interface Account {
  user: User;
  wallet: Wallet;
  /** The wallet as JSON text with exact int64 values (what the API sends). */
  walletJson: string;
  email?: string;
  devices: { id: string }[];
  customId?: string;
  verifyTime?: Date;
  disableTime?: Date;
}

export async function getAccount(em: Em, userId: string): Promise<Account> {
  const row = await queryOne<UserRow & { devices: string[] | null; wallet_text: string }>(
    em,
    sql`select ${USER_COLUMNS}, u.wallet::text as wallet_text,
          (select array_agg(d.id order by d.id) from user_device d where d.user_id = u.id) as devices
        from users u where u.id = ${userId}`,
  );
  if (!row) throw notFound('User account not found.');
  return {
    user: toUser(row),
    wallet: parseWalletJson(row.wallet_text),
    walletJson: row.wallet_text,
    ...(row.email ? { email: row.email } : {}),
    devices: (row.devices ?? []).map((id) => ({ id })),
    ...(row.custom_id ? { customId: row.custom_id } : {}),
    ...(row.verify_time ? { verifyTime: toDate(row.verify_time) } : {}),
    ...(row.disable_time ? { disableTime: toDate(row.disable_time) } : {}),
  };
}

/** Fields a client may change; `undefined` leaves a field alone, `""` clears an optional one. */
export interface AccountUpdate {
  username?: string;
  displayName?: string;
  avatarUrl?: string;
  langTag?: string;
  location?: string;
  timezone?: string;
  /** Only server code may set metadata. */
  metadata?: Record<string, unknown>;
}

const COLUMNS: Record<Exclude<keyof AccountUpdate, 'username' | 'metadata'>, string> = {
  displayName: 'display_name',
  avatarUrl: 'avatar_url',
  location: 'location',
  timezone: 'timezone',
  langTag: 'lang_tag',
};

export async function updateAccount(em: Em, userId: string, update: AccountUpdate): Promise<void> {
  const sets = [];
  if (update.username !== undefined) {
    if (update.username === '') throw invalid('Username must not be empty.');
    sets.push(sql`username = ${update.username}`);
  }
  for (const [field, column] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, string][]) {
    const value = update[field];
    if (value === undefined) continue;
    const stored = value === '' ? (field === 'langTag' ? 'en' : null) : value;
    sets.push(sql`${sql.ref(column)} = ${stored}`);
  }
  if (update.metadata !== undefined) sets.push(sql`metadata = ${JSON.stringify(update.metadata)}::jsonb`);
  if (sets.length === 0) return;
  try {
    const n = await run(em, sql`update users set ${sql.join(sets)}, update_time = now() where id = ${userId}`);
    if (n === 0) throw notFound('User account not found.');
  } catch (err) {
    if (uniqueViolation(err) === 'users_username_unique') throw exists('Username is already in use.');
    throw err;
  }
}

/**
 * Deletes an account and everything it owns (devices by cascade; storage objects, the wallet
 * ledger and leaderboard records here), in one transaction, then its ranks from the rank cache
 * when one is given. Returns false when it did not exist.
 */
export async function deleteAccount(em: Em, userId: string, ranks?: RankCache): Promise<boolean> {
  // Retried on deadlock: it locks rows of other users (friends, groups) that live requests lock too.
  const { existed, periods } = await inTransaction(em, async (tx) => {
    // Friend edges first: the other users' edge counts must drop with them.
    await removeUserEdges(tx, userId);
    // Group edges too: counts drop, and a group left without a superadmin passes on or goes.
    await removeUserFromGroups(tx, userId);
    const n = await run(tx, sql`delete from users where id = ${userId}`);
    await deleteUserObjects(tx, userId);
    await deleteUserLedger(tx, userId);
    return { existed: n > 0, periods: await deleteUserRecords(tx, userId) };
  });
  if (ranks) await forgetUserRanks({ ranks }, userId, periods);
  return existed;
}

/** Sets or clears the ban on an account. */
export async function setDisabled(em: Em, userId: string, disabled: boolean): Promise<void> {
  const n = await run(em, sql`update users set disable_time = ${disabled ? sql`now()` : null}, update_time = now() where id = ${userId}`);
  if (n === 0) throw notFound('User account not found.');
}

export async function linkDevice(em: Em, userId: string, deviceId: string): Promise<void> {
  await transaction(em, async (tx) => {
    const inserted = await queryOne(
      tx,
      sql`insert into user_device (id, user_id) values (${deviceId}, ${userId}) on conflict (id) do nothing returning id`,
    );
    if (!inserted) {
      const owner = await queryOne<{ user_id: string }>(tx, sql`select user_id from user_device where id = ${deviceId}`);
      if (owner?.user_id !== userId) throw exists('Device ID already in use.');
    }
    await run(tx, sql`update users set update_time = now() where id = ${userId}`);
  });
}

export async function linkCustom(em: Em, userId: string, customId: string): Promise<void> {
  try {
    const n = await run(em, sql`update users set custom_id = ${customId}, update_time = now() where id = ${userId}`);
    if (n === 0) throw notFound('User account not found.');
  } catch (err) {
    if (uniqueViolation(err) === 'users_custom_id_unique') throw exists('Custom ID is already in use.');
    throw err;
  }
}

export async function linkEmail(em: Em, hasher: PasswordHasher, userId: string, email: string, password: string): Promise<void> {
  const hash = await hasher.hash(password);
  try {
    const n = await run(
      em,
      sql`update users set email = ${email.toLowerCase()}, password = ${hash}, update_time = now() where id = ${userId}`,
    );
    if (n === 0) throw notFound('User account not found.');
  } catch (err) {
    if (uniqueViolation(err) === 'users_email_unique') throw exists('Email is already in use.');
    throw err;
  }
}

const LAST_LINK = 'Cannot unlink last account identifier. Check profile exists and is not last link.';

/** Some other identity remains: the condition that makes an unlink safe, checked in the same statement. */
const otherDevice = (userId: string, except: string | null) =>
  sql`exists (select 1 from user_device d where d.user_id = ${userId} and d.id is distinct from ${except})`;

export async function unlinkDevice(em: Em, userId: string, deviceId: string): Promise<void> {
  await transaction(em, async (tx) => {
    // Lock the account row so two concurrent unlinks cannot both see the other's device remaining.
    await query(tx, sql`select id from users where id = ${userId} for update`);
    const n = await run(
      tx,
      sql`delete from user_device where id = ${deviceId} and user_id = ${userId}
          and (exists (select 1 from users where id = ${userId} and (email is not null or custom_id is not null))
               or ${otherDevice(userId, deviceId)})`,
    );
    if (n === 0) throw denied(LAST_LINK);
    await run(tx, sql`update users set update_time = now() where id = ${userId}`);
  });
}

export async function unlinkCustom(em: Em, userId: string, customId: string): Promise<void> {
  await unlinkColumn(em, userId, sql`custom_id = null`, sql`custom_id = ${customId}`, sql`email is not null`);
}

export async function unlinkEmail(em: Em, userId: string, email: string): Promise<void> {
  await unlinkColumn(em, userId, sql`email = null, password = null`, sql`email = ${email.toLowerCase()}`, sql`custom_id is not null`);
}

async function unlinkColumn(
  em: Em,
  userId: string,
  set: ReturnType<typeof sql>,
  match: ReturnType<typeof sql>,
  otherColumn: ReturnType<typeof sql>,
) {
  await transaction(em, async (tx) => {
    await query(tx, sql`select id from users where id = ${userId} for update`);
    const n = await run(
      tx,
      sql`update users set ${set}, update_time = now() where id = ${userId} and ${match}
          and (${otherColumn} or ${otherDevice(userId, null)})`,
    );
    if (n === 0) throw denied(LAST_LINK);
  });
}
