/**
 * Session tokens that expire: with a server issuing 3-second tokens, a token refuses joins once
 * it has expired, and a client that dropped while its token was valid cannot reconnect after
 * the token expired (reconnections skip `onAuth`; the room re-checks the stored claims).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { matchMaker } from '@colyseus/core';
import { Client, CloseCode, MatchMakeError, type Room } from '@colyseus/sdk';
import { newDevice, startTestServer, type TestServer } from '../support/server.js';

const EXPIRY_SEC = 3;

let s: TestServer;
before(async () => {
  s = await startTestServer({ tokenExpirySec: EXPIRY_SEC });
});
after(async () => {
  await s?.stop();
});

function claimsOf(token: string): { tid: string; uid: string; exp: number } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { tid: string; uid: string; exp: number };
}

function sdk(token: string): Client {
  const client = new Client(s.url);
  client.auth.token = token;
  return client;
}

/** Sleeps until the token's `exp` second has passed. */
async function untilExpired(exp: number): Promise<void> {
  const ms = exp * 1000 - Date.now() + 250;
  if (ms > 0) await sleep(ms);
}

/** Waits for the first state, which also means the server has the client's join acknowledgement. */
async function joined(room: Room): Promise<void> {
  for (let i = 0; i < 250 && !(room.state as { sessionId?: string } | undefined)?.sessionId; i++) await sleep(20);
  assert.ok((room.state as { sessionId?: string } | undefined)?.sessionId, 'no state received');
}

function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function sessionRooms(tid: string) {
  return (await matchMaker.query({ name: 'session' })).filter((r) => r.roomId === `session_${tid}`);
}

test('a dropped client cannot reconnect once its token has expired, nor join again', async () => {
  const d = await newDevice(s.url);
  const { tid, uid, exp } = claimsOf(d.token);
  assert.ok(exp * 1000 > Date.now(), 'token already expired: the machine is too slow for this test');

  const room = await sdk(d.token).create('session');
  assert.equal(room.roomId, `session_${tid}`);
  await joined(room);
  room.reconnection.enabled = false;
  const reconnectionToken = room.reconnectionToken;
  const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));

  // Cut the connection abnormally from the server side, as a network failure would.
  const serverRoom = matchMaker.getLocalRoomById(room.roomId);
  const serverClient = serverRoom?.clients.find((c) => c.sessionId === room.sessionId);
  assert.ok(serverClient);
  (serverClient as unknown as { ref: { terminate(): void } }).ref.terminate();
  assert.equal(await within(left, 'onLeave'), CloseCode.ABNORMAL_CLOSURE);

  // Still within the 20 s reconnection window, but past the token's expiry.
  await untilExpired(exp);
  assert.equal((await sessionRooms(tid)).length, 1, 'the seat should still be held for the reconnection window');
  await assert.rejects(within(sdk(d.token).reconnect(reconnectionToken), 'reconnect'), (err: any) => {
    assert.equal(err.code, 4401, `unexpected error ${err?.name} ${err?.code} ${err?.message}`);
    return true;
  });
  for (let i = 0; i < 100 && (await sessionRooms(tid)).length > 0; i++) await sleep(20);
  assert.equal((await sessionRooms(tid)).length, 0);
  assert.ok(s.logs.some((l) => l.msg === 'reconnection refused: session no longer valid' && l.userId === uid));

  // A fresh join with the expired token is refused too.
  await assert.rejects(sdk(d.token).create('session'), (err: unknown) => {
    assert.ok(err instanceof MatchMakeError);
    assert.equal(err.code, 401);
    assert.equal(err.message, 'Auth token invalid');
    return true;
  });
});

test('a reconnection before expiry still works on a short-lived token', async () => {
  const d = await newDevice(s.url);
  const { tid, uid } = claimsOf(d.token);
  const room = await sdk(d.token).create('session');
  await joined(room);
  room.reconnection.minUptime = 0;
  const reconnected = new Promise<void>((resolve) => room.onReconnect(() => resolve()));
  const serverClient = matchMaker.getLocalRoomById(room.roomId)?.clients[0];
  assert.ok(serverClient);
  (serverClient as unknown as { ref: { terminate(): void } }).ref.terminate();
  try {
    await within(reconnected, 'onReconnect');
    assert.equal(room.roomId, `session_${tid}`);
    for (let i = 0; i < 100 && (room.state as { userId?: string })?.userId !== uid; i++) await sleep(20);
    assert.equal((room.state as { userId: string }).userId, uid);
    assert.equal((await sessionRooms(tid)).length, 1);
  } finally {
    await room.leave();
  }
});
