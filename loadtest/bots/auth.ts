/**
 * Settings from `BOT_*` environment variables and HTTP device authentication (with session
 * refresh) for the load-test bots; re-exported by common.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';

// ---------------------------------------------------------------------------------------------
// Settings

/** A number from the environment, or `fallback` when unset; throws on anything else. */
export function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}, got "${raw}"`);
  return n;
}

/** A string from the environment, or `fallback` when unset or empty. */
export function envString(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? fallback : raw.trim();
}

/** A boolean from the environment (`1`/`true`/`yes` or `0`/`false`/`no`), or `fallback`. */
export function envBool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'no'].includes(raw)) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

/** The server key bots authenticate with. */
export function serverKeyFrom(env: NodeJS.ProcessEnv): string {
  return envString(env, 'BOT_SERVER_KEY', envString(env, 'TAVERN_SERVER_KEY', 'defaultkey'));
}

/** The HTTP base URL of an endpoint given as ws(s):// or http(s)://, without a trailing slash. */
export function httpBase(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  return u.toString().replace(/\/+$/, '');
}

// ---------------------------------------------------------------------------------------------
// Authentication

interface SessionBody {
  token?: string;
  refresh_token?: string;
}

function claimsOf(token: string): { uid: string; usn: string; exp: number } {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { uid: string; usn: string; exp: number };
}

/** A device-authenticated account: its session token, refreshed before it expires. */
export class Account {
  private refreshing: Promise<void> | undefined;
  private constructor(
    private readonly base: string,
    private readonly serverKey: string,
    private session: { token: string; refreshToken: string; expiresAtMs: number },
    readonly userId: string,
    readonly username: string,
  ) {}

  /** `POST /v2/account/authenticate/device?create=true` with Basic auth (the server key). */
  static async device(endpoint: string, serverKey: string, deviceId: string): Promise<Account> {
    const base = httpBase(endpoint);
    const body = await postWithRetry(`${base}/v2/account/authenticate/device?create=true`, serverKey, { id: deviceId });
    const claims = claimsOf(body.token!);
    return new Account(
      base,
      serverKey,
      { token: body.token!, refreshToken: body.refresh_token ?? '', expiresAtMs: claims.exp * 1000 },
      claims.uid,
      claims.usn,
    );
  }

  /** A session token valid for at least `minValidMs` more (refreshed through the API when needed). */
  async token(minValidMs = 15_000): Promise<string> {
    if (this.session.expiresAtMs - Date.now() < minValidMs && this.session.refreshToken !== '') {
      this.refreshing ??= (async () => {
        const body = await postWithRetry(`${this.base}/v2/account/session/refresh`, this.serverKey, {
          token: this.session.refreshToken,
        });
        this.session = {
          token: body.token!,
          refreshToken: body.refresh_token ?? this.session.refreshToken,
          expiresAtMs: claimsOf(body.token!).exp * 1000,
        };
      })().finally(() => {
        this.refreshing = undefined;
      });
      await this.refreshing;
    }
    return this.session.token;
  }
}

/** POSTs JSON with Basic auth; retries network errors, 429 and 5xx answers (3 tries). */
async function postWithRetry(url: string, serverKey: string, json: unknown): Promise<SessionBody> {
  const auth = `Basic ${Buffer.from(`${serverKey}:`).toString('base64')}`;
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await sleep(250 * 2 ** attempt);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(json),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      if (res.status === 200) {
        const body = JSON.parse(text) as SessionBody;
        if (typeof body.token === 'string') return body;
      }
      last = `${res.status} ${text.slice(0, 200)}`;
      if (res.status !== 429 && res.status < 500) break;
    } catch (err) {
      last = (err as Error).message;
    }
  }
  throw new Error(`POST ${new URL(url).pathname} failed: ${last}`);
}

/** A device id no other bot uses: `bot-<name>-<run>-<client>`. */
export const deviceId = (name: string, runId: string, clientId: number) => `bot-${name}-${runId}-${clientId}`;
