/**
 * Setup and helpers for the groups suites (test/api/groups*.test.ts): a server and nakama-js
 * client, users, unique group names, and the server's view of a group and its members.
 */
import assert from 'node:assert/strict';
import { Client, type Session } from '@heroiclabs/nakama-js';
import type { groupsNk } from '../../src/hooks/nk-groups.js';
import { startTestServer, type TestServer } from './server.js';

/** A server, and a nakama-js client for it. */
export async function startGroupsServer(): Promise<{ s: TestServer; client: Client }> {
  // Sessions longer than nakama-js's refresh margin, so the client uses them as they are.
  const s = await startTestServer({ tokenExpirySec: 7200, refreshTokenExpirySec: 86400 });
  return { s, client: new Client('defaultkey', '127.0.0.1', String(s.port), false) };
}

/** `k` new users, typed as a tuple so they destructure without undefined. */
export type Users<K extends number, T extends Session[] = []> = T['length'] extends K ? T : Users<K, [...T, Session]>;
export const bearer = (u: Session) => `Bearer ${u.token}`;

/** Expects a nakama-js call to fail with an HTTP status (and message); returns the error body. */
export async function refused(p: Promise<unknown>, status: number, message?: string | RegExp): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof Response)) throw err;
    const body = (await err.json()) as { code: number; message: string };
    assert.equal(err.status, status, JSON.stringify(body));
    if (typeof message === 'string') assert.equal(body.message, message);
    else if (message) assert.match(body.message, message);
    return body;
  }
  assert.fail(`expected HTTP ${status}`);
}

/** Helpers on the server and client `world` returns (read at each call: a suite starts them in `before`). */
export function groupsHelpers(world: () => { s: TestServer; client: Client }) {
  let n = 0;
  const user = (): Promise<Session> => world().client.authenticateDevice(`groups-${process.pid}-${Date.now()}-${++n}`, true);
  const users = <K extends number>(k: K) => Promise.all(Array.from({ length: k }, () => user())) as Promise<Users<K>>;
  /** The group functions of `nk` (typed by their own factory until createNk merges them). */
  const nk = () => world().s.runtime.nk as unknown as ReturnType<typeof groupsNk>;
  const uniqueName = (prefix = 'group') => `${prefix}-${process.pid}-${Date.now()}-${++n}`;

  /** Every user's state in a group (banned users included), as the server sees it. */
  async function states(groupId: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const state of [undefined, 4]) {
      const page = await nk().groupUsersList(groupId, 1000, state ?? null);
      for (const gu of page.groupUsers) out.set(gu.user.userId, gu.state);
    }
    return out;
  }

  async function group(groupId: string) {
    const [g] = await nk().groupsGetId([groupId]);
    return g;
  }

  async function create(owner: Session, open: boolean, extra: Record<string, unknown> = {}) {
    return world().client.createGroup(owner, { name: uniqueName(), open, ...extra });
  }

  return { user, users, nk, uniqueName, states, group, create };
}
