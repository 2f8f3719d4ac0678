/**
 * Finding or creating accounts by device id, custom id, email or username (Nakama's
 * `core_authenticate.go`). Creation races are settled by unique keys: of two concurrent creations
 * for one device exactly one inserts, the other finds the winner.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AppError, Code, denied, exists, notFound, unauthenticated } from '../errors.js';
import { queryOne, sql, toDate, transaction, uniqueViolation, type Em } from './db.js';
import type { PasswordHasher } from './ports.js';
import { USER_COLUMNS, type UserRow } from './users.js';

/** The outcome of an authentication. */
export interface Authenticated {
  user: UserRow;
  created: boolean;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** A random 10-letter username, as Nakama generates. */
export function generateUsername(): string {
  const b = randomBytes(10);
  let s = '';
  for (const x of b) s += LETTERS[x % LETTERS.length];
  return s;
}

function checkEnabled(user: UserRow): UserRow {
  if (user.disable_time && toDate(user.disable_time).getTime() > 0) throw denied('User account banned.');
  return user;
}

type Identity = { kind: 'device'; id: string } | { kind: 'custom'; id: string } | { kind: 'email'; email: string; passwordHash: string };

async function findBy(em: Em, identity: Identity): Promise<UserRow | undefined> {
  switch (identity.kind) {
    case 'device':
      return queryOne<UserRow>(
        em,
        sql`select ${USER_COLUMNS} from user_device d join users u on u.id = d.user_id where d.id = ${identity.id}`,
      );
    case 'custom':
      return queryOne<UserRow>(em, sql`select ${USER_COLUMNS} from users u where u.custom_id = ${identity.id}`);
    case 'email':
      return queryOne<UserRow>(em, sql`select ${USER_COLUMNS} from users u where u.email = ${identity.email}`);
  }
}

/** Inserts a user with the identity; undefined when the identity was taken meanwhile. */
async function insertWith(em: Em, identity: Identity, username: string): Promise<UserRow | undefined> {
  const id = randomUUID();
  if (identity.kind === 'device') {
    return transaction(em, async (tx) => {
      const user = await queryOne<UserRow>(
        tx,
        sql`insert into users as u (id, username) values (${id}, ${username}) returning ${USER_COLUMNS}`,
      );
      const device = await queryOne(
        tx,
        sql`insert into user_device (id, user_id) values (${identity.id}, ${id}) on conflict (id) do nothing returning id`,
      );
      if (!device) throw new LostRace();
      return user;
    }).catch((err: unknown) => {
      if (err instanceof LostRace) return undefined;
      throw err;
    });
  }
  const custom = identity.kind === 'custom' ? identity.id : null;
  const email = identity.kind === 'email' ? identity.email : null;
  const hash = identity.kind === 'email' ? identity.passwordHash : null;
  try {
    return await queryOne<UserRow>(
      em,
      sql`insert into users as u (id, username, custom_id, email, password)
          values (${id}, ${username}, ${custom}, ${email}, ${hash}) returning ${USER_COLUMNS}`,
    );
  } catch (err) {
    const c = uniqueViolation(err);
    if (c === 'users_custom_id_unique' || c === 'users_email_unique') return undefined;
    throw err;
  }
}

class LostRace extends Error {}

/**
 * Finds the account with an identity, or creates it when `create` is set. `username` is used only
 * for a new account; without one a random name is generated (and regenerated on collision).
 */
async function findOrCreate(em: Em, identity: Identity, create: boolean, username: string | undefined): Promise<Authenticated> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const found = await findBy(em, identity);
    if (found) return { user: checkEnabled(found), created: false };
    if (!create) throw notFound('User account not found.');
    try {
      const user = await insertWith(em, identity, username ?? generateUsername());
      if (user) return { user, created: true };
    } catch (err) {
      if (uniqueViolation(err) !== 'users_username_unique') throw err;
      if (username !== undefined) throw exists('Username is already in use.');
    }
  }
  throw new AppError(Code.ABORTED, 'Could not create the account, try again.');
}

export function authenticateDevice(em: Em, id: string, create: boolean, username?: string): Promise<Authenticated> {
  return findOrCreate(em, { kind: 'device', id }, create, username);
}

export function authenticateCustom(em: Em, id: string, create: boolean, username?: string): Promise<Authenticated> {
  return findOrCreate(em, { kind: 'custom', id }, create, username);
}

/** Email and password; a wrong password and an unknown account look alike only when `create` is off. */
export async function authenticateEmail(
  em: Em,
  hasher: PasswordHasher,
  emailAddress: string,
  password: string,
  create: boolean,
  username?: string,
): Promise<Authenticated> {
  const email = emailAddress.toLowerCase();
  const found = await findBy(em, { kind: 'email', email, passwordHash: '' });
  if (found) return { user: checkEnabled(await checkPassword(hasher, found, password)), created: false };
  if (!create) throw notFound('User account not found.');
  const passwordHash = await hasher.hash(password);
  const result = await findOrCreate(em, { kind: 'email', email, passwordHash }, true, username);
  // Lost a creation race to another request: that account's password decides.
  if (!result.created) await checkPassword(hasher, result.user, password);
  return result;
}

/** Username and password, for accounts that have an email and password linked. */
export async function authenticateUsername(em: Em, hasher: PasswordHasher, username: string, password: string): Promise<Authenticated> {
  const found = await queryOne<UserRow>(em, sql`select ${USER_COLUMNS} from users u where u.username = ${username}`);
  if (!found) throw notFound('User account not found.');
  return { user: checkEnabled(await checkPassword(hasher, found, password)), created: false };
}

async function checkPassword(hasher: PasswordHasher, user: UserRow, password: string): Promise<UserRow> {
  if (!user.password || !(await hasher.verify(user.password, password))) throw unauthenticated('Invalid credentials.');
  return user;
}

/** Reads a user for token refresh: it must still exist and not be banned. */
export async function getEnabledUser(em: Em, userId: string): Promise<UserRow> {
  const user = await queryOne<UserRow>(em, sql`select ${USER_COLUMNS} from users u where u.id = ${userId}`);
  if (!user) throw notFound('User account not found.');
  return checkEnabled(user);
}
