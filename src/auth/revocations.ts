/**
 * Revoked sessions. PostgreSQL holds the truth (so revocation survives a restart); every process
 * keeps the live rows in memory for O(1) checks, loads them at boot and hears of new ones through
 * the Presence pub/sub channel, so a logout on one process is seen by all of them.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { RevocationKind } from '../entities/index.js';
import { issuedAtMs, type TokenClaims } from './tokens.js';

/** The slice of Colyseus's Presence this store needs. */
export interface PubSub {
  subscribe(channel: string, cb: (data: unknown) => void): Promise<unknown> | unknown;
  unsubscribe(channel: string, cb?: (data: unknown) => void): unknown;
  publish(channel: string, data: unknown): unknown;
}

const CHANNEL = 'tavern:revocations';

interface Entry {
  id: string;
  kind: RevocationKind;
  /** Milliseconds since the epoch; only for USER rows: sessions issued up to then are revoked. */
  notBefore?: number;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export class RevocationStore {
  /** `${kind}:${id}` → entry. */
  private readonly entries = new Map<string, Entry>();
  private pruneTimer?: NodeJS.Timeout;
  private readonly onMessage = (data: unknown) => {
    try {
      this.remember(data as Entry);
    } catch (err) {
      this.log.error({ err }, 'bad revocation message');
    }
  };

  constructor(
    private readonly em: () => EntityManager,
    private readonly pubsub: PubSub,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Loads live revocations and starts listening for new ones. */
  async start(): Promise<void> {
    await this.pubsub.subscribe(CHANNEL, this.onMessage);
    const rows = await this.em().execute<{ id: string; kind: number; not_before: Date | string | null; expires_at: Date | string }[]>(
      'select id, kind, not_before, expires_at from token_revocation where expires_at > now()',
    );
    for (const r of rows) {
      this.remember({
        id: r.id,
        kind: r.kind as RevocationKind,
        ...(r.not_before ? { notBefore: new Date(r.not_before).getTime() } : {}),
        expiresAt: new Date(r.expires_at).getTime(),
      });
    }
    this.pruneTimer = setInterval(() => void this.prune(), 60_000);
    this.pruneTimer.unref();
  }

  stop(): void {
    clearInterval(this.pruneTimer);
    // Presence may already be shut down at this point of a shutdown: nothing left to unsubscribe from.
    Promise.resolve()
      .then(() => this.pubsub.unsubscribe(CHANNEL, this.onMessage))
      .catch(() => undefined);
  }

  /** Whether a session token with these claims was revoked. */
  isSessionRevoked(c: TokenClaims): boolean {
    return this.entries.has(`${RevocationKind.SESSION}:${c.tid}`) || this.userRevoked(c);
  }

  /** Whether a refresh token with these claims can no longer be used. */
  isRefreshRevoked(c: TokenClaims): boolean {
    return (
      this.entries.has(`${RevocationKind.SESSION}:${c.tid}`) ||
      this.entries.has(`${RevocationKind.REFRESH}:${c.tid}`) ||
      this.userRevoked(c)
    );
  }

  /** Revokes a whole session (logout). */
  async revokeSession(tid: string, expiresAtSec: number): Promise<void> {
    await this.insert({ id: tid, kind: RevocationKind.SESSION, expiresAt: expiresAtSec * 1000 });
  }

  /**
   * Marks a refresh token as spent. Returns false when it was already spent: of two concurrent
   * refreshes with the same token exactly one wins, decided by the primary key.
   */
  async spendRefresh(tid: string, expiresAtSec: number): Promise<boolean> {
    return this.insert({ id: tid, kind: RevocationKind.REFRESH, expiresAt: expiresAtSec * 1000 });
  }

  /** Revokes every token of a user issued up to now (account deleted or banned). */
  async revokeUser(uid: string, refreshTokenExpirySec: number, em?: EntityManager): Promise<void> {
    const nowMs = this.now();
    const entry: Entry = {
      id: uid,
      kind: RevocationKind.USER,
      notBefore: nowMs,
      expiresAt: nowMs + refreshTokenExpirySec * 1000,
    };
    await (em ?? this.em()).execute(
      `insert into token_revocation (id, kind, not_before, expires_at) values (?, ?, ?, ?)
       on conflict (id, kind) do update set not_before = excluded.not_before, expires_at = excluded.expires_at`,
      [entry.id, entry.kind, new Date(entry.notBefore!), new Date(entry.expiresAt)],
    );
    this.announce(entry);
  }

  private async insert(entry: Entry): Promise<boolean> {
    const res = await this.em().execute<{ id: string }[]>(
      `insert into token_revocation (id, kind, expires_at) values (?, ?, ?)
       on conflict (id, kind) do nothing returning id`,
      [entry.id, entry.kind, new Date(entry.expiresAt)],
    );
    this.announce(entry);
    return res.length === 1;
  }

  private announce(entry: Entry): void {
    this.remember(entry);
    this.pubsub.publish(CHANNEL, { ...entry });
  }

  private userRevoked(c: TokenClaims): boolean {
    const e = this.entries.get(`${RevocationKind.USER}:${c.uid}`);
    // Milliseconds, not `iat` seconds: a login right after a logout-all in the same second must work.
    return e !== undefined && issuedAtMs(c) <= (e.notBefore ?? 0);
  }

  private remember(e: Entry): void {
    if (typeof e?.id !== 'string' || typeof e.kind !== 'number' || typeof e.expiresAt !== 'number') {
      throw new Error('malformed revocation');
    }
    if (e.expiresAt <= this.now()) return;
    const key = `${e.kind}:${e.id}`;
    const prev = this.entries.get(key);
    if (prev && e.kind === RevocationKind.USER && (prev.notBefore ?? 0) > (e.notBefore ?? 0)) return;
    this.entries.set(key, { ...e });
  }

  private async prune(): Promise<void> {
    const now = this.now();
    for (const [key, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(key);
    try {
      await this.em().execute('delete from token_revocation where expires_at <= now()');
    } catch (err) {
      this.log.warn({ err }, 'could not prune expired revocations');
    }
  }
}
