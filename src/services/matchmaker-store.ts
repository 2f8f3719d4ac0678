/**
 * What matchmaker queues share across processes, in Redis (or in memory for a single process):
 *
 * - a **lease** per queue: the one process that forms matches for it (the queue's room holds it and
 *   renews it every interval; a frozen or dead holder loses it when it expires);
 * - the queue's **tickets**, so whichever process takes the lease next rebuilds the pool;
 * - **user claims**: a user in a forming match is claimed (all of a match's users at once, or none),
 *   so no user lands in two matches formed by two queues at the same time;
 * - each queue's **stats** for `GET /v2/matchmaker/stats`.
 *
 * Presence offers no set-if-absent, so this keeps its own Redis connection with small Lua scripts.
 */
import { Redis } from 'ioredis';

/** A queue's numbers, published by its lease holder every interval. */
export interface QueueStats {
  queue: string;
  ticketCount: number;
  /** Create time (ms) of the oldest waiting ticket, if any. */
  oldestTicketMs?: number;
  /** Recent completions: ticket create and match times (ms). */
  completions: { createMs: number; completeMs: number }[];
  /** When these numbers were published (ms). */
  atMs: number;
}

/** The fleet's matchmaker numbers (Nakama's `MatchmakerStats`). */
export interface MatchmakerStats {
  ticketCount: number;
  oldestTicketCreateMs?: number;
  /** The most recent completions, newest first. */
  completions: { createMs: number; completeMs: number }[];
}

/** Sums every queue's stats; keeps the `limit` newest completions. */
export function aggregateStats(list: readonly QueueStats[], limit = 100): MatchmakerStats {
  let ticketCount = 0;
  let oldest: number | undefined;
  const completions: MatchmakerStats['completions'] = [];
  for (const q of list) {
    ticketCount += q.ticketCount;
    if (q.oldestTicketMs !== undefined && (oldest === undefined || q.oldestTicketMs < oldest)) oldest = q.oldestTicketMs;
    completions.push(...q.completions);
  }
  completions.sort((a, b) => b.completeMs - a.completeMs);
  return { ticketCount, ...(oldest !== undefined ? { oldestTicketCreateMs: oldest } : {}), completions: completions.slice(0, limit) };
}

export interface MatchmakerStore {
  /** Takes or renews the queue's lease for `holder`; false while someone else holds it. */
  acquireLease(queue: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(queue: string, holder: string): Promise<void>;
  /** Claims every user for `holder`, or none when any of them is already claimed. */
  claimUsers(userIds: readonly string[], holder: string, ttlMs: number): Promise<boolean>;
  /** Gives back (after a short linger) the claims `holder` has on these users: the match is formed and announced. */
  releaseUsers(userIds: readonly string[], holder: string): Promise<void>;
  saveTicket(queue: string, id: string, data: string): Promise<void>;
  removeTickets(queue: string, ids: readonly string[]): Promise<void>;
  loadTickets(queue: string): Promise<Map<string, string>>;
  publishStats(stats: QueueStats): Promise<void>;
  /** Every queue's last published stats (queues silent for `staleMs` are left out). */
  allStats(staleMs: number): Promise<QueueStats[]>;
  close(): Promise<void>;
}

/** Set the lease if absent, or renew it if `holder` already has it. */
const LEASE = `
local cur = redis.call('GET', KEYS[1])
if cur == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

/** All or nothing: every key absent (or already ours) → all set. */
const CLAIM = `
for i = 1, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  if cur ~= false and cur ~= ARGV[1] then return 0 end
end
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2]) end
return 1`;

/** Shortens each claim that still holds ARGV[1] to ARGV[2] ms. */
const UNCLAIM = `
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 0`;

/**
 * A released claim lingers this long: another queue may be between forming a group and claiming
 * it, with this match's `remove_users` event not yet applied.
 */
const CLAIM_LINGER_MS = 1000;

export class RedisMatchmakerStore implements MatchmakerStore {
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly prefix = 'tavern:mmq:',
    onError: (err: unknown) => void = () => undefined,
  ) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 2 });
    this.redis.on('error', onError);
  }

  async acquireLease(queue: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(LEASE, 1, `${this.prefix}lease:${queue}`, holder, String(ttlMs))) === 1;
  }

  async releaseLease(queue: string, holder: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, `${this.prefix}lease:${queue}`, holder);
  }

  async claimUsers(userIds: readonly string[], holder: string, ttlMs: number): Promise<boolean> {
    if (userIds.length === 0) return true;
    const keys = userIds.map((id) => `${this.prefix}claim:${id}`);
    return (await this.redis.eval(CLAIM, keys.length, ...keys, holder, String(ttlMs))) === 1;
  }

  async releaseUsers(userIds: readonly string[], holder: string): Promise<void> {
    if (userIds.length === 0) return;
    const keys = userIds.map((id) => `${this.prefix}claim:${id}`);
    await this.redis.eval(UNCLAIM, keys.length, ...keys, holder, String(CLAIM_LINGER_MS));
  }

  async saveTicket(queue: string, id: string, data: string): Promise<void> {
    await this.redis.hset(`${this.prefix}tickets:${queue}`, id, data);
  }

  async removeTickets(queue: string, ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 1000) await this.redis.hdel(`${this.prefix}tickets:${queue}`, ...ids.slice(i, i + 1000));
  }

  async loadTickets(queue: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(`${this.prefix}tickets:${queue}`)));
  }

  async publishStats(stats: QueueStats): Promise<void> {
    await this.redis.hset(`${this.prefix}stats`, stats.queue, JSON.stringify(stats));
  }

  async allStats(staleMs: number): Promise<QueueStats[]> {
    const now = Date.now();
    const out: QueueStats[] = [];
    for (const raw of Object.values(await this.redis.hgetall(`${this.prefix}stats`))) {
      try {
        const s = JSON.parse(raw) as QueueStats;
        if (now - s.atMs <= staleMs) out.push(s);
      } catch {
        // A malformed entry is rewritten by its queue's next publish.
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** One process, nothing shared: every lease and claim is granted unless another holder has it. */
export class LocalMatchmakerStore implements MatchmakerStore {
  private readonly leases = new Map<string, { holder: string; until: number }>();
  private readonly claims = new Map<string, { holder: string; until: number }>();
  private readonly tickets = new Map<string, Map<string, string>>();
  private readonly stats = new Map<string, QueueStats>();

  constructor(private readonly now: () => number = Date.now) {}

  private held(map: Map<string, { holder: string; until: number }>, key: string, holder: string): boolean {
    const cur = map.get(key);
    return cur !== undefined && cur.until > this.now() && cur.holder !== holder;
  }

  acquireLease(queue: string, holder: string, ttlMs: number): Promise<boolean> {
    if (this.held(this.leases, queue, holder)) return Promise.resolve(false);
    this.leases.set(queue, { holder, until: this.now() + ttlMs });
    return Promise.resolve(true);
  }

  releaseLease(queue: string, holder: string): Promise<void> {
    if (this.leases.get(queue)?.holder === holder) this.leases.delete(queue);
    return Promise.resolve();
  }

  claimUsers(userIds: readonly string[], holder: string, ttlMs: number): Promise<boolean> {
    if (userIds.some((id) => this.held(this.claims, id, holder))) return Promise.resolve(false);
    const until = this.now() + ttlMs;
    for (const id of userIds) this.claims.set(id, { holder, until });
    return Promise.resolve(true);
  }

  releaseUsers(userIds: readonly string[], holder: string): Promise<void> {
    const until = this.now() + CLAIM_LINGER_MS;
    for (const id of userIds) {
      const c = this.claims.get(id);
      if (c?.holder === holder) c.until = Math.min(c.until, until);
    }
    return Promise.resolve();
  }

  saveTicket(queue: string, id: string, data: string): Promise<void> {
    let q = this.tickets.get(queue);
    if (!q) this.tickets.set(queue, (q = new Map()));
    q.set(id, data);
    return Promise.resolve();
  }

  removeTickets(queue: string, ids: readonly string[]): Promise<void> {
    const q = this.tickets.get(queue);
    for (const id of ids) q?.delete(id);
    return Promise.resolve();
  }

  loadTickets(queue: string): Promise<Map<string, string>> {
    return Promise.resolve(new Map(this.tickets.get(queue)));
  }

  publishStats(stats: QueueStats): Promise<void> {
    this.stats.set(stats.queue, stats);
    return Promise.resolve();
  }

  allStats(staleMs: number): Promise<QueueStats[]> {
    const now = this.now();
    return Promise.resolve([...this.stats.values()].filter((s) => now - s.atMs <= staleMs));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
