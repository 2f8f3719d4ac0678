/**
 * Colyseus's in-process room cache with an id index. The stock `LocalDriver` finds a room by id
 * and removes a room by scanning every room; with one `session` room per online user that is
 * O(online users) for every connect, reconnect and disconnect. This subclass answers those in
 * O(1) and leaves every other query to the stock implementation.
 */
import { LocalDriver, type IRoomCache } from '@colyseus/core';

type Conditions = Partial<IRoomCache>;

export class IndexedLocalDriver extends LocalDriver {
  private readonly byId = new Map<string, IRoomCache>();
  /** Position of each room in the stock driver's array, for swap-removal. */
  private readonly position = new Map<string, number>();

  private add(room: IRoomCache): void {
    this.position.set(room.roomId, this.rooms.length);
    this.rooms.push(room);
    this.byId.set(room.roomId, room);
  }

  override has(roomId: string): boolean {
    return this.byId.has(roomId);
  }

  override async insert(room: IRoomCache): Promise<boolean> {
    if (this.byId.has(room.roomId)) return false;
    this.add(room);
    return true;
  }

  override persist(room: IRoomCache, create = false): boolean {
    if (!create) return false;
    this.add(room);
    return true;
  }

  override remove(roomId: string): boolean {
    const i = this.position.get(roomId);
    if (i === undefined) return false;
    const last = this.rooms.pop()!;
    if (last.roomId !== roomId) {
      this.rooms[i] = last;
      this.position.set(last.roomId, i);
    }
    this.position.delete(roomId);
    this.byId.delete(roomId);
    return true;
  }

  override findOne(conditions: Conditions, sortOptions?: unknown): Promise<IRoomCache> {
    const keys = Object.keys(conditions);
    if (keys.length === 1 && keys[0] === 'roomId') return Promise.resolve(this.byId.get(conditions.roomId!) as IRoomCache);
    return super.findOne(conditions, sortOptions as never) as unknown as Promise<IRoomCache>;
  }

  override async findByIds(roomIds: string[]): Promise<Map<string, IRoomCache>> {
    const out = new Map<string, IRoomCache>();
    for (const id of roomIds) {
      const room = this.byId.get(id);
      if (room) out.set(id, room);
    }
    return out;
  }

  override clear(): void {
    super.clear();
    this.byId.clear();
    this.position.clear();
  }
}
