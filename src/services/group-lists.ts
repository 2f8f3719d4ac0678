/**
 * Group listings (Nakama's ListGroups, ListGroupUsers, ListUserGroups) with keyset cursors: every
 * page is an index range scan that starts after the last row of the previous page.
 */
import { invalid } from '../errors.js';
import { query, sql, type Em } from './db.js';
import { GROUP_COLUMNS, GroupRole, toGroup, type Group, type GroupRow } from './groups.js';
import { toUser, USER_COLUMNS, type User, type UserRow } from './users.js';

const MALFORMED = 'Malformed cursor was used.';

function encode(c: object): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decode<T>(cursor: string, valid: (c: Record<string, unknown>) => boolean, message = MALFORMED): T {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (typeof c === 'object' && c !== null && valid(c as Record<string, unknown>)) return c as T;
  } catch {
    // fall through
  }
  throw invalid(message);
}

const isUuid = (x: unknown) => typeof x === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(x);

export interface GroupFilter {
  /** Case-insensitive match on the name; a trailing `%` makes it a prefix search. Not combinable. */
  name?: string;
  langTag?: string;
  open?: boolean;
  /** Groups with at most this many members, largest first. */
  members?: number;
  limit: number;
  cursor?: string;
}

/** Which ordering a cursor belongs to: by name, by members (descending) or by id (creation order). */
type GroupCursor = { k: 'n'; n: string } | { k: 'm'; e: number; i: string } | { k: 'i'; i: string };

/** Lists groups by name, or by language, open/closed and member count (Nakama's filter rules). */
export async function listGroups(em: Em, f: GroupFilter): Promise<{ groups: Group[]; cursor?: string }> {
  if (!Number.isInteger(f.limit) || f.limit < 1 || f.limit > 100) throw invalid('Invalid limit - limit must be between 1 and 100.');
  if (f.name && (f.langTag || f.open !== undefined || f.members !== undefined))
    throw invalid('name filter cannot be combined with any other filter');
  const kind: GroupCursor['k'] = f.name ? 'n' : f.members !== undefined ? 'm' : 'i';
  const after = f.cursor
    ? decode<GroupCursor>(
        f.cursor,
        (c) => c.k === kind && (kind === 'n' ? typeof c.n === 'string' : isUuid(c.i) && (kind === 'i' || Number.isInteger(c.e))),
      )
    : undefined;
  let where;
  let order;
  if (kind === 'n') {
    // As Nakama: leading wildcards and spaces are dropped, so a search cannot force a full scan
    // from the front; backslashes are escaped so a pattern cannot end in a bare escape character.
    const pattern = f.name!.replace(/^[%\s]+/, '').replace(/\\/g, '\\\\');
    where = [sql`g.name ilike ${pattern}`, ...(after?.k === 'n' ? [sql`g.name > ${after.n}`] : [])];
    order = sql`g.name`;
  } else {
    where = [
      ...(f.open !== undefined ? [sql`g.state = ${f.open ? 0 : 1}`] : []),
      ...(f.langTag ? [sql`g.lang_tag = ${f.langTag}`] : []),
      ...(kind === 'm' ? [sql`g.edge_count <= ${f.members}`] : []),
    ];
    if (after?.k === 'm') where.push(sql`(g.edge_count, g.id) < (${after.e}, ${after.i}::uuid)`);
    if (after?.k === 'i') where.push(sql`g.id > ${after.i}::uuid`);
    order = kind === 'm' ? sql`g.edge_count desc, g.id desc` : sql`g.id`;
  }
  const rows = await query<GroupRow>(
    em,
    sql`select ${GROUP_COLUMNS} from groups g where ${where.length > 0 ? sql.join(where, sql` and `) : sql`true`}
        order by ${order} limit ${f.limit + 1}`,
  );
  const groups = rows.slice(0, f.limit).map(toGroup);
  const last = rows.length > f.limit ? groups[groups.length - 1] : undefined;
  if (!last) return { groups };
  const next: GroupCursor =
    kind === 'n' ? { k: 'n', n: last.name } : kind === 'm' ? { k: 'm', e: last.edgeCount, i: last.id } : { k: 'i', i: last.id };
  return { groups, cursor: encode(next) };
}

export interface EdgeFilter {
  /** One state (0–4); absent: superadmins, admins, members and join requests (not banned users). */
  state?: number;
  limit: number;
  cursor?: string;
}

interface EdgeCursor {
  s: number;
  p: string;
  i: string;
}

const INVALID_CURSOR = 'Cursor is invalid.';

function edgeRange(f: EdgeFilter, max: number) {
  if (!Number.isInteger(f.limit) || f.limit < 1 || f.limit > max) throw invalid(`Invalid limit - limit must be between 1 and ${max}.`);
  if (f.state !== undefined && (!Number.isInteger(f.state) || f.state < 0 || f.state > 4))
    throw invalid('Invalid state - state must be between 0 and 4.');
  const after = f.cursor
    ? decode<EdgeCursor>(
        f.cursor,
        (c) => Number.isInteger(c.s) && typeof c.p === 'string' && /^-?\d{1,19}$/.test(c.p) && isUuid(c.i),
        INVALID_CURSOR,
      )
    : undefined;
  // A cursor from a listing with another state filter would skip or repeat rows.
  if (after && f.state !== undefined && after.s !== f.state) throw invalid(INVALID_CURSOR);
  const states = f.state !== undefined ? sql`ge.state = ${f.state}` : sql`ge.state between 0 and ${GroupRole.JOIN_REQUEST}`;
  return { states, after };
}

const edgeCursor = (state: number, position: string, id: string) => encode({ s: state, p: position, i: id } satisfies EdgeCursor);

/** A group's users with their states, by state then age (Nakama's GroupUserList). */
export async function listGroupUsers(
  em: Em,
  groupId: string,
  f: EdgeFilter,
  maxLimit = 100,
): Promise<{ groupUsers: { user: User; state: number }[]; cursor?: string }> {
  const { states, after } = edgeRange(f, maxLimit);
  const page = after ? sql`and (ge.state, ge.position, ge.user_id) > (${after.s}, ${after.p}::bigint, ${after.i}::uuid)` : sql``;
  const rows = await query<UserRow & { ge_state: number; ge_position: string }>(
    em,
    sql`select ${USER_COLUMNS}, ge.state as ge_state, ge.position::text as ge_position
        from group_edge ge join users u on u.id = ge.user_id
        where ge.group_id = ${groupId} and ${states} ${page}
        order by ge.state, ge.position, ge.user_id limit ${f.limit + 1}`,
  );
  const groupUsers = rows.slice(0, f.limit).map((r) => ({ user: toUser(r), state: r.ge_state }));
  const last = rows.length > f.limit ? rows[f.limit - 1] : undefined;
  return { groupUsers, ...(last ? { cursor: edgeCursor(last.ge_state, last.ge_position, last.id) } : {}) };
}

/** A user's groups with their state in each, by state then age (Nakama's UserGroupList). */
export async function listUserGroups(
  em: Em,
  userId: string,
  f: EdgeFilter,
): Promise<{ userGroups: { group: Group; state: number }[]; cursor?: string }> {
  const { states, after } = edgeRange(f, 100);
  const page = after ? sql`and (ge.state, ge.position, ge.group_id) > (${after.s}, ${after.p}::bigint, ${after.i}::uuid)` : sql``;
  const rows = await query<GroupRow & { ge_state: number; ge_position: string }>(
    em,
    sql`select ${GROUP_COLUMNS}, ge.state as ge_state, ge.position::text as ge_position
        from group_edge ge join groups g on g.id = ge.group_id
        where ge.user_id = ${userId} and ${states} ${page}
        order by ge.state, ge.position, ge.group_id limit ${f.limit + 1}`,
  );
  const userGroups = rows.slice(0, f.limit).map((r) => ({ group: toGroup(r), state: r.ge_state }));
  const last = rows.length > f.limit ? rows[f.limit - 1] : undefined;
  return { userGroups, ...(last ? { cursor: edgeCursor(last.ge_state, last.ge_position, last.id) } : {}) };
}
