/**
 * The listing side of Tavern's Redis room registry: how listings are encoded, and the stock
 * Colyseus query semantics (a condition matches the listing's own field, else `metadata[field]`;
 * sorting by either) applied to the few listings an index read returned.
 */
import { initializeRoomCache, type IRoomCache, type SortOptions } from '@colyseus/core';

export type Conditions = Partial<IRoomCache> & Record<string, unknown>;
export type Listing = IRoomCache & Record<string, unknown>;

export const hasOwn = (o: unknown, field: string): boolean => o != null && Object.prototype.hasOwnProperty.call(o, field);

/** Query semantics: the listing's top-level field if present, else `metadata[field]`, else absent. */
export function lookup(room: Listing, field: string): { found: boolean; value?: unknown } {
  if (hasOwn(room, field)) return { found: true, value: room[field] };
  const metadata = room.metadata as Record<string, unknown> | undefined;
  if (hasOwn(metadata, field)) return { found: true, value: metadata![field] };
  return { found: false };
}

/** Values whose JSON encoding is equal exactly when they are `===`. */
export const indexable = (v: unknown): boolean =>
  typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isFinite(v));

export function matchesConditions(room: IRoomCache, conditions: Conditions): boolean {
  for (const [field, value] of Object.entries(conditions)) {
    const got = lookup(room as Listing, field);
    if (!got.found || got.value !== value) return false;
  }
  return true;
}

/** The stock `@colyseus/redis-driver` Query order: fields in order, top-level value else metadata. */
export function sortRooms(rooms: IRoomCache[], sortOptions?: SortOptions): IRoomCache[] {
  const order = Object.entries(sortOptions ?? {}).map(
    ([field, d]) => [field, d === 1 || d === 'asc' || d === 'ascending' ? 1 : -1] as const,
  );
  if (order.length === 0) return rooms;
  const valueOf = (room: IRoomCache, field: string): unknown =>
    hasOwn(room, field) ? (room as Listing)[field] : (room.metadata as Record<string, unknown> | undefined)?.[field];
  return rooms.sort((a, b) => {
    for (const [field, direction] of order) {
      const v1 = valueOf(a, field) as number;
      const v2 = valueOf(b, field) as number;
      if (v1 > v2) return direction;
      if (v1 < v2) return -direction;
    }
    return 0;
  });
}

export const encode = (room: IRoomCache): string =>
  JSON.stringify(room.maxClients === Infinity ? { ...room, maxClients: undefined } : room);
/**
 * `initializeRoomCache` fills the defaults but its `...initialValues` spread puts the JSON string
 * back over the Date it built (the stock driver returns strings): restore the Date here.
 */
export function decode(json: string): IRoomCache {
  const room = initializeRoomCache(JSON.parse(json) as Partial<IRoomCache>);
  if (room.createdAt !== undefined && !(room.createdAt instanceof Date)) room.createdAt = new Date(room.createdAt);
  return room;
}
