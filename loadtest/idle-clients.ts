/**
 * The clients of the idle scenario (loadtest/idle.ts): session tokens from device accounts, the
 * Tavern (`@colyseus/sdk` session rooms) and raw `ws` client fleets, and this process's open file
 * limit, which caps how many clients it can hold.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Room } from '@colyseus/sdk';
import WebSocket from 'ws';
import { sdkClient } from './relay-run.js';
import { fmt, pool } from './support.js';

const AUTH = `Basic ${Buffer.from('defaultkey:').toString('base64')}`;

/** The soft limit on open files of this process. */
export function fdLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** Tries to raise this process's open file limit with util-linux `prlimit` (children inherit it). */
export function raiseFdLimit(want: number): void {
  if (fdLimit() >= want) return;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${want}`], { stdio: 'ignore' });
  } catch {
    // no CAP_SYS_RESOURCE, or no prlimit: keep the limit we have
  }
}

/** `n` session tokens from `accounts` device accounts, each authenticated several times. */
export async function sessionTokens(url: string, n: number, accounts: number, log: (msg: string) => void): Promise<string[]> {
  const prefix = `bench-idle-${randomBytes(4).toString('hex')}`;
  const a = Math.max(1, Math.min(accounts, n));
  const started = Date.now();
  const tokens = await pool(
    Array.from({ length: n }, (_, i) => i),
    64,
    async (i) => {
      const res = await fetch(`${url}/v2/account/authenticate/device?create=true`, {
        method: 'POST',
        headers: { authorization: AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ id: `${prefix}-${i % a}` }),
      });
      const body = (await res.json()) as { token?: string };
      if (res.status !== 200 || typeof body.token !== 'string')
        throw new Error(`Tavern: device auth failed: ${res.status} ${JSON.stringify(body)}`);
      return body.token;
    },
  );
  log(`idle: ${fmt(n)} sessions of ${fmt(a)} accounts in ${fmt((Date.now() - started) / 1000, 1)} s`);
  return tokens;
}

/** One server's clients: open more, close all, and the count of those the server dropped. */
export interface Fleet {
  open(count: number): Promise<void>;
  size(): number;
  closeAll(): Promise<void>;
  dropped(): number;
  errors(): number;
}

export function tavernFleet(url: string, tokens: string[]): Fleet {
  const rooms: Room[] = [];
  let dropped = 0;
  let errors = 0;
  let leaving = false;
  return {
    async open(count) {
      const from = rooms.length;
      await pool(
        Array.from({ length: count - from }, (_, i) => from + i),
        64,
        async (i) => {
          const room = await sdkClient(url, tokens[i]).create('session');
          room.onLeave(() => {
            if (!leaving) dropped++;
          });
          room.onError(() => errors++);
          rooms.push(room);
        },
      );
    },
    size: () => rooms.length,
    async closeAll() {
      leaving = true;
      await pool(rooms, 256, (r) => r.leave(true).catch(() => undefined));
      rooms.length = 0;
    },
    dropped: () => dropped,
    errors: () => errors,
  };
}

export function wsFleet(url: string): Fleet {
  const sockets: WebSocket[] = [];
  let dropped = 0;
  let errors = 0;
  let leaving = false;
  const wsUrl = url.replace(/^http/, 'ws') + '/idle';
  return {
    async open(count) {
      const from = sockets.length;
      await pool(
        Array.from({ length: count - from }, (_, i) => i),
        64,
        () =>
          new Promise<void>((resolve, reject) => {
            const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
            ws.once('open', () => {
              sockets.push(ws);
              ws.once('close', () => {
                if (!leaving) dropped++;
              });
              resolve();
            });
            ws.on('error', (err) => {
              errors++;
              reject(err);
            });
          }),
      );
    },
    size: () => sockets.length,
    async closeAll() {
      leaving = true;
      await pool(
        sockets,
        256,
        (ws) =>
          new Promise<void>((resolve) => {
            ws.once('close', () => resolve());
            ws.close();
            setTimeout(() => {
              ws.terminate();
              resolve();
            }, 2000).unref();
          }),
      );
      sockets.length = 0;
    },
    dropped: () => dropped,
    errors: () => errors,
  };
}
