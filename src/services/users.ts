/** The user record as stored, its public profile, and lookups by id and username. */
import { invalid } from '../errors.js';
import { query, sql, toDate, type Em } from './db.js';
import * as v from './validation.js';

/** A row of `users`. */
export interface UserRow {
  id: string;
  username: string;
  display_name: string | null;
  avatar_url: string | null;
  lang_tag: string;
  location: string | null;
  timezone: string | null;
  metadata: Record<string, unknown>;
  wallet: Record<string, unknown>;
  email: string | null;
  password: string | null;
  custom_id: string | null;
  edge_count: number;
  create_time: Date | string;
  update_time: Date | string;
  verify_time: Date | string | null;
  disable_time: Date | string | null;
}

/** A user's public profile (Nakama's `User`). */
export interface User {
  id: string;
  username: string;
  displayName?: string;
  avatarUrl?: string;
  langTag: string;
  location?: string;
  timezone?: string;
  metadata: Record<string, unknown>;
  edgeCount: number;
  createTime: Date;
  updateTime: Date;
  online: boolean;
}

export function toUser(r: UserRow): User {
  return {
    id: r.id,
    username: r.username,
    ...(r.display_name ? { displayName: r.display_name } : {}),
    ...(r.avatar_url ? { avatarUrl: r.avatar_url } : {}),
    langTag: r.lang_tag,
    ...(r.location ? { location: r.location } : {}),
    ...(r.timezone ? { timezone: r.timezone } : {}),
    metadata: r.metadata,
    edgeCount: r.edge_count,
    createTime: toDate(r.create_time),
    updateTime: toDate(r.update_time),
    online: false,
  };
}

export const USER_COLUMNS = sql.raw(
  'u.id, u.username, u.display_name, u.avatar_url, u.lang_tag, u.location, u.timezone, u.metadata, u.wallet, u.email, u.password, u.custom_id, u.edge_count, u.create_time, u.update_time, u.verify_time, u.disable_time',
);

/** Users by ids and usernames (Nakama's GetUsers); unknown ones are left out. */
export async function getUsers(em: Em, ids: readonly string[], usernames: readonly string[]): Promise<User[]> {
  for (const id of ids) if (!v.uuid.safeParse(id).success) throw invalid(`ID '${id}' is not a valid system ID.`);
  for (const name of usernames) if (!v.usernameQuery.safeParse(name).success) throw invalid('Username must not contain NUL characters.');
  if (ids.length + usernames.length > 1000) throw invalid('At most 1000 users per request.');
  if (ids.length === 0 && usernames.length === 0) return [];
  const rows = await query<UserRow>(
    em,
    sql`select ${USER_COLUMNS} from users u
        where u.id = any(${[...ids]}::uuid[]) or u.username = any(${[...usernames]}::text[])`,
  );
  return rows.map(toUser);
}
