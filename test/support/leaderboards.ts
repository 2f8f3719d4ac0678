/**
 * Setup and helpers for the leaderboard suites (test/api/leaderboards*.test.ts): a server and
 * nakama-js client, players, boards made through `nk`, and records written in order.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client, type Session } from '@heroiclabs/nakama-js';
import { http, startTestServer, type TestServer } from './server.js';
import { uniq } from './wire.js';

/** A server, and a nakama-js client for it. */
export async function startLeaderboardsServer(): Promise<{ s: TestServer; client: Client }> {
  const s = await startTestServer();
  return { s, client: new Client('defaultkey', '127.0.0.1', String(s.port), false, 7000, false) };
}

/** What nakama-js rejects with on an HTTP error: the fetch Response itself. */
export async function rejection(p: Promise<unknown>): Promise<{ status: number; body: any }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Response, `expected a Response, got ${String(err)}`);
    return { status: err.status, body: await err.json() };
  }
  assert.fail('expected the call to be rejected');
}

/** Helpers on the server and client `world` returns (read at each call: a suite starts them in `before`). */
export function leaderboardHelpers(world: () => { s: TestServer; client: Client }) {
  const nk = () => world().s.runtime.nk;
  const player = () => world().client.authenticateDevice(uniq('lb-device-'), true, uniq('lb_'));

  async function board(opts: { sort?: string; operator?: string; authoritative?: boolean } = {}): Promise<string> {
    const id = uniq('board-');
    await nk().leaderboardCreate(id, opts.authoritative ?? false, opts.sort ?? 'descending', opts.operator ?? 'best', null, {
      kind: 'test',
    });
    return id;
  }

  /** Writes scores for fresh owners through nk, in order; returns the owner ids. */
  async function fill(id: string, scores: [number, number?][]): Promise<string[]> {
    const owners: string[] = [];
    for (const [score, sub] of scores) {
      const owner = randomUUID();
      await nk().leaderboardRecordWrite(id, owner, `u${owners.length}`, score, sub ?? 0);
      owners.push(owner);
    }
    return owners;
  }

  const get = (session: Session, path: string) => http(world().s.url, 'GET', path, { auth: `Bearer ${session.token}` });

  return { nk, player, board, fill, get };
}
