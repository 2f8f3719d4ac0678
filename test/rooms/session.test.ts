/**
 * The `session` room through the real Colyseus SDK against a real server: who may join, what the
 * client sees, one room per session, reconnection (and its refusal once the session is revoked),
 * message validation and limits, and realtime before hooks.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { matchMaker } from '@colyseus/core';
import { Client, CloseCode, MatchMakeError, Protocol, type Room } from '@colyseus/sdk';
import jwt from 'jsonwebtoken';
import { http, newDevice, startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
});

// ---------------------------------------------------------------------------------------------
// helpers

interface SessionView {
  userId: string;
  username: string;
  sessionId: string;
}

interface Claims {
  tid: string;
  uid: string;
  usn: string;
  exp: number;
  iat: number;
}

/** The (unverified) claims of a JWT. */
function claimsOf(token: string): Claims {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Claims;
}

/** An SDK client, authenticated with `token` when given. */
function sdk(token?: string): Client {
  const client = new Client(s.url);
  if (token !== undefined) client.auth.token = token;
  return client;
}

/** Joins (creates) the session room of `token` and waits for the first state. */
async function joinSession(token: string, options?: Record<string, unknown>): Promise<Room<any, SessionView>> {
  const room = await sdk(token).create<SessionView>('session', options);
  await eventually(() => assert.ok(room.state?.sessionId, 'state not synchronised yet'));
  return room;
}

/** Waits until `check` stops throwing. */
async function eventually(check: () => unknown | Promise<unknown>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(20);
    }
  }
}

/** Rejects `p` after `ms` milliseconds, naming what was awaited. */
function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

type Received = { type: string; body: any };

/** Queues the `pong` and `error` messages a room receives, in order. */
function mailbox(room: Room) {
  const queue: Received[] = [];
  let wake: (() => void) | undefined;
  for (const type of ['pong', 'error']) {
    room.onMessage(type, (body: unknown) => {
      queue.push({ type, body });
      wake?.();
    });
  }
  return {
    queue,
    next(ms = 5000): Promise<Received> {
      if (queue.length > 0) return Promise.resolve(queue.shift()!);
      const arrived = new Promise<Received>((resolve) => {
        wake = () => {
          wake = undefined;
          resolve(queue.shift()!);
        };
      });
      return within(arrived, 'a message', ms).finally(() => (wake = undefined));
    },
  };
}

/** Sends a ping and returns the next message (a `pong` or an `error`). */
async function ping(room: Room, box: ReturnType<typeof mailbox>, payload?: unknown): Promise<Received> {
  room.send('ping', payload);
  return box.next();
}

/** Session rooms the matchmaker knows of, optionally only the one of a session. */
async function sessionRooms(tid?: string) {
  const rooms = await matchMaker.query({ name: 'session' });
  return tid === undefined ? rooms : rooms.filter((r) => r.roomId === `session_${tid}`);
}

/** Asserts that joining the session room with `token` is refused as unauthenticated. */
async function assertRefused(token: string | undefined, message = 'Auth token invalid') {
  await assert.rejects(sdk(token).create('session'), (err: unknown) => {
    assert.ok(err instanceof MatchMakeError, `expected a MatchMakeError, got ${String(err)}`);
    assert.equal(err.code, 401);
    assert.equal(err.message, message);
    return true;
  });
}

/** The server side of a client's connection (same process): used to cut it abnormally. */
function serverSocketOf(room: Room): { terminate(): void } {
  const serverRoom = matchMaker.getLocalRoomById(room.roomId);
  assert.ok(serverRoom, `room ${room.roomId} is not in this process`);
  const client = serverRoom.clients.find((c) => c.sessionId === room.sessionId);
  assert.ok(client, `client ${room.sessionId} is not in room ${room.roomId}`);
  return (client as unknown as { ref: { terminate(): void } }).ref;
}

const now = () => Math.floor(Date.now() / 1000);
const DEFAULT_SESSION_KEY = 'defaultencryptionkey';

// ---------------------------------------------------------------------------------------------

describe('joining', () => {
  test('a valid session token joins its own room, whose state names the session', async () => {
    const username = `sess_${Date.now()}`;
    const d = await newDevice(s.url, undefined, username);
    const c = claimsOf(d.token);
    assert.equal(c.usn, username);
    const room = await joinSession(d.token);
    try {
      assert.equal(room.roomId, `session_${c.tid}`);
      assert.equal(room.name, 'session');
      const { userId, username: name, sessionId } = room.state;
      assert.deepEqual({ userId, username: name, sessionId }, { userId: c.uid, username, sessionId: c.tid });
      // The account the token names is the one the HTTP API returns.
      const acct = await http(s.url, 'GET', '/v2/account', { auth: d.bearer });
      assert.equal(acct.body.user.id, room.state.userId);
      assert.equal(acct.body.user.username, room.state.username);
      // The room is private and unlisted for matchmaking: a plain `join` cannot find it.
      const [listing] = await sessionRooms(c.tid);
      assert.ok(listing);
      assert.equal(listing.private, true);
      assert.equal(listing.clients, 1);
      await assert.rejects(sdk(d.token).join('session'), MatchMakeError);
    } finally {
      await room.leave();
    }
  });

  test('the room is chosen by the token, never by the options the client sends', async () => {
    const victim = await newDevice(s.url);
    const attacker = await newDevice(s.url);
    const vt = claimsOf(victim.token).tid;
    const room = await joinSession(attacker.token, { sid: vt, sessionId: vt, roomId: `session_${vt}` });
    try {
      const mine = claimsOf(attacker.token);
      assert.equal(room.roomId, `session_${mine.tid}`);
      assert.equal(room.state.userId, mine.uid);
      assert.equal((await sessionRooms(vt)).length, 0);
    } finally {
      await room.leave();
    }
  });

  test('two sessions of the same user get two rooms', async () => {
    const first = await newDevice(s.url);
    const second = await newDevice(s.url, first.deviceId);
    const [a, b] = [claimsOf(first.token), claimsOf(second.token)];
    assert.equal(a.uid, b.uid);
    assert.notEqual(a.tid, b.tid);
    const ra = await joinSession(first.token);
    const rb = await joinSession(second.token);
    try {
      assert.equal(ra.roomId, `session_${a.tid}`);
      assert.equal(rb.roomId, `session_${b.tid}`);
      assert.equal(ra.state.userId, rb.state.userId);
    } finally {
      await Promise.all([ra.leave(), rb.leave()]);
    }
  });
});

describe('joins refused', () => {
  let user: Awaited<ReturnType<typeof newDevice>>;
  let claims: Claims;
  before(async () => {
    user = await newDevice(s.url);
    claims = claimsOf(user.token);
  });

  test('without a token', async () => {
    await assertRefused(undefined, 'Auth token required');
    await eventually(async () => assert.equal((await sessionRooms()).length, 0));
  });

  test('with something that is not a JWT', async () => {
    await assertRefused('not-a-token');
  });

  test('with one character of the signature changed', async () => {
    const [h, p, sig] = user.token.split('.') as [string, string, string];
    // A middle character: the last one of a base64url HS256 signature carries unused bits.
    const i = Math.floor(sig.length / 2);
    const tampered = `${h}.${p}.${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}`;
    assert.notEqual(tampered, user.token);
    await assertRefused(tampered);
    assert.equal((await sessionRooms(claims.tid)).length, 0);
  });

  test('with one character of the payload changed', async () => {
    const [h, p, sig] = user.token.split('.') as [string, string, string];
    const i = Math.floor(p.length / 2);
    const tampered = `${h}.${p.slice(0, i)}${p[i] === 'A' ? 'B' : 'A'}${p.slice(i + 1)}.${sig}`;
    await assertRefused(tampered);
  });

  test('with claims rewritten to another user and the original signature', async () => {
    const other = await newDevice(s.url);
    const [h, , sig] = user.token.split('.') as [string, string, string];
    const forged = { ...claims, uid: claimsOf(other.token).uid, usn: claimsOf(other.token).usn };
    await assertRefused(`${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${sig}`);
  });

  test('with an unsigned (alg: none) token', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    await assertRefused(`${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`);
  });

  test('with a token signed with the wrong key', async () => {
    const iat = now();
    const token = jwt.sign({ tid: 'wrong-key-session', uid: claims.uid, usn: claims.usn, iat, exp: iat + 60 }, 'not-the-server-key', {
      algorithm: 'HS256',
    });
    await assertRefused(token);
    assert.equal((await sessionRooms('wrong-key-session')).length, 0);
  });

  test('with the refresh token instead of the session token', async () => {
    await assertRefused(user.refreshToken);
  });

  test('with an expired token (and a token signed the same way but not expired is accepted)', async () => {
    const sign = (tid: string, iat: number, exp: number) =>
      jwt.sign({ tid, uid: claims.uid, usn: claims.usn, iat, exp }, DEFAULT_SESSION_KEY, { algorithm: 'HS256' });
    await assertRefused(sign('expired-session', now() - 120, now() - 60));
    assert.equal((await sessionRooms('expired-session')).length, 0);
    // Control: the same signing succeeds when the token is still valid, so the refusal above is
    // about expiry, not about how the token was made.
    const room = await joinSession(sign('self-signed-session', now(), now() + 60));
    try {
      assert.equal(room.roomId, 'session_self-signed-session');
      assert.equal(room.state.userId, claims.uid);
    } finally {
      await room.leave();
    }
  });

  test('with a token revoked by logout', async () => {
    const d = await newDevice(s.url);
    const logout = await http(s.url, 'POST', '/v2/session/logout', {
      auth: d.bearer,
      body: { token: d.token, refresh_token: d.refreshToken },
    });
    assert.equal(logout.status, 200);
    await assertRefused(d.token);
    assert.equal((await sessionRooms(claimsOf(d.token).tid)).length, 0);
  });
});

describe('one room per session', () => {
  test('a second connection of a connected session is refused, and only one room exists', async () => {
    const d = await newDevice(s.url);
    const { tid } = claimsOf(d.token);
    const first = await joinSession(d.token);
    const box = mailbox(first);
    try {
      await assert.rejects(sdk(d.token).create('session'), (err: unknown) => {
        assert.ok(err instanceof MatchMakeError);
        assert.match(err.message, /already full/);
        return true;
      });
      // Neither `join` nor `joinById` gets in either.
      await assert.rejects(sdk(d.token).join('session'), MatchMakeError);
      await assert.rejects(sdk(d.token).joinById(`session_${tid}`), MatchMakeError);

      const rooms = await sessionRooms(tid);
      assert.equal(rooms.length, 1);
      assert.equal(rooms[0]!.clients, 1);
      assert.equal(matchMaker.getLocalRoomById(`session_${tid}`)?.clients.length, 1);
      // The first connection is untouched.
      assert.deepEqual((await ping(first, box, { n: 1 })).body, { n: 1 });
    } finally {
      await first.leave();
    }
    // Once it has left, the room is gone and the session can connect again, to the same room id.
    await eventually(async () => assert.equal((await sessionRooms(tid)).length, 0));
    const again = await joinSession(d.token);
    try {
      assert.equal(again.roomId, `session_${tid}`);
      assert.equal((await sessionRooms(tid)).length, 1);
    } finally {
      await again.leave();
    }
  });

  test('two simultaneous connections of one session: exactly one gets in, one room exists', async () => {
    const d = await newDevice(s.url);
    const { tid } = claimsOf(d.token);
    const results = await Promise.allSettled([sdk(d.token).create('session'), sdk(d.token).create('session')]);
    const joined = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
    try {
      assert.equal(joined.length, 1, `expected one join, got ${joined.length}: ${refused.map(String).join('; ')}`);
      assert.equal(refused.length, 1);
      assert.ok(refused[0] instanceof MatchMakeError);
      assert.equal(joined[0]!.roomId, `session_${tid}`);
      const rooms = await sessionRooms(tid);
      assert.equal(rooms.length, 1);
      assert.equal(rooms[0]!.clients, 1);
    } finally {
      await Promise.all(joined.map((r) => r.leave()));
    }
  });
});

describe('reconnection', () => {
  test('a dropped client reconnects automatically within the window, keeping its session', async () => {
    const d = await newDevice(s.url);
    const { tid, uid } = claimsOf(d.token);
    const room = await joinSession(d.token);
    room.reconnection.minUptime = 0; // the SDK otherwise gives up on rooms joined < 5 s ago
    const box = mailbox(room);
    const sessionId = room.sessionId;
    const dropped = new Promise<number>((resolve) => room.onDrop((code) => resolve(code)));
    const reconnected = new Promise<void>((resolve) => room.onReconnect(() => resolve()));
    let leftWith: number | undefined;
    room.onLeave((code) => (leftWith = code));
    try {
      // Cut the TCP connection without a close frame, as a network failure would.
      serverSocketOf(room).terminate();
      assert.equal(await within(dropped, 'onDrop'), CloseCode.ABNORMAL_CLOSURE);
      await within(reconnected, 'onReconnect');
      assert.equal(leftWith, undefined);
      assert.equal(room.sessionId, sessionId);
      assert.equal(room.state.sessionId, tid);
      assert.equal(room.state.userId, uid);
      // The server kept the same room and seat: no second room, the same Colyseus session.
      const serverRoom = matchMaker.getLocalRoomById(`session_${tid}`);
      assert.deepEqual(
        Array.from(serverRoom?.clients ?? [], (c) => c.sessionId),
        [sessionId],
      );
      assert.equal((await sessionRooms(tid)).length, 1);
      // And the new socket carries messages.
      assert.deepEqual(await ping(room, box, { after: 'reconnect' }), { type: 'pong', body: { after: 'reconnect' } });
    } finally {
      await room.leave();
    }
  });

  test('client.reconnect(reconnectionToken) after the client closed its socket abnormally', async () => {
    const d = await newDevice(s.url);
    const { tid, uid } = claimsOf(d.token);
    const room = await joinSession(d.token);
    room.reconnection.enabled = false;
    const token = room.reconnectionToken;
    const sessionId = room.sessionId;
    assert.match(token, new RegExp(`^session_${tid}:`));
    const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));
    // Close as the SDK does when the network goes offline: not a consented leave.
    room.connection.close(CloseCode.MAY_TRY_RECONNECT);
    assert.equal(await within(left, 'onLeave'), CloseCode.MAY_TRY_RECONNECT);
    // The server holds the seat for the reconnection window.
    await eventually(() => assert.equal(matchMaker.getLocalRoomById(`session_${tid}`)?.clients.length, 0));
    assert.equal((await sessionRooms(tid)).length, 1);

    const back = await within(sdk(d.token).reconnect<SessionView>(token), 'reconnect');
    try {
      assert.equal(back.roomId, `session_${tid}`);
      assert.equal(back.sessionId, sessionId);
      await eventually(() => assert.equal(back.state?.userId, uid));
      assert.equal(back.state.sessionId, tid);
      const box = mailbox(back);
      assert.deepEqual((await ping(back, box, { x: 1 })).body, { x: 1 });
      assert.equal((await sessionRooms(tid)).length, 1);
    } finally {
      await back.leave();
    }
  });

  test('a client cut off before it acknowledged its join gets no seat, and nothing crashes', async () => {
    const d = await newDevice(s.url);
    const { tid } = claimsOf(d.token);
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    // Swallow the client's JOIN_ROOM acknowledgement, as a connection lost right after the
    // server's JOIN_ROOM would: the server still counts the client as joining.
    const proto = globalThis.WebSocket.prototype;
    const send = proto.send;
    proto.send = function (this: WebSocket, data: Parameters<WebSocket['send']>[0]) {
      if (data instanceof Uint8Array && data.byteLength === 1 && data[0] === Protocol.JOIN_ROOM) return;
      return send.call(this, data);
    };
    let room: Room;
    try {
      room = await sdk(d.token).create('session');
    } finally {
      proto.send = send;
    }
    try {
      room.reconnection.enabled = false;
      const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));
      const serverClient = matchMaker.getLocalRoomById(room.roomId)?.clients[0] as unknown as { _enqueuedMessages?: unknown[] };
      assert.ok(serverClient?._enqueuedMessages, 'the server should still be waiting for the acknowledgement');
      serverSocketOf(room).terminate();
      assert.equal(await within(left, 'onLeave'), CloseCode.ABNORMAL_CLOSURE);
      // Colyseus cannot hold a seat for a client that never finished joining: the room goes.
      await eventually(async () => assert.equal((await sessionRooms(tid)).length, 0));
      await sleep(50);
      assert.deepEqual(rejections, []);
      // And the session can simply join again.
      const again = await joinSession(d.token);
      assert.equal(again.roomId, `session_${tid}`);
      await again.leave();
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  test('a session revoked while its client was away is kicked with 4401 on automatic reconnection', async () => {
    const d = await newDevice(s.url);
    const { tid } = claimsOf(d.token);
    const room = await joinSession(d.token);
    room.reconnection.minUptime = 0;
    const dropped = new Promise<number>((resolve) => room.onDrop((code) => resolve(code)));
    const left = new Promise<{ code: number; reason?: string }>((resolve) => room.onLeave((code, reason) => resolve({ code, reason })));
    let reconnected = false;
    room.onReconnect(() => (reconnected = true));

    // Revoke first (the socket is still up), then drop: the reconnection skips onAuth.
    const logout = await http(s.url, 'POST', '/v2/session/logout', { auth: d.bearer, body: { token: d.token } });
    assert.equal(logout.status, 200);
    serverSocketOf(room).terminate();
    assert.equal(await within(dropped, 'onDrop'), CloseCode.ABNORMAL_CLOSURE);
    const { code, reason } = await within(left, 'onLeave');
    assert.equal(code, 4401);
    assert.equal(reason, 'Auth token invalid');
    assert.equal(reconnected, false);
    // The seat is gone and so is the room.
    await eventually(async () => assert.equal((await sessionRooms(tid)).length, 0));
    assert.ok(s.logs.some((l) => l.msg === 'reconnection refused: session no longer valid' && l.roomId === `session_${tid}`));
  });

  test('a session revoked while its client was away is refused on client.reconnect()', async () => {
    const d = await newDevice(s.url);
    const { tid } = claimsOf(d.token);
    const room = await joinSession(d.token);
    room.reconnection.enabled = false;
    const token = room.reconnectionToken;
    const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));
    serverSocketOf(room).terminate();
    assert.equal(await within(left, 'onLeave'), CloseCode.ABNORMAL_CLOSURE);

    // Logged out while away (every session of the user: the empty body form).
    const logout = await http(s.url, 'POST', '/v2/session/logout', { auth: d.bearer, body: {} });
    assert.equal(logout.status, 200);
    await assert.rejects(within(sdk(d.token).reconnect(token), 'reconnect'), (err: any) => {
      assert.equal(err.code, 4401, `unexpected error ${err?.name} ${err?.code} ${err?.message}`);
      return true;
    });
    await eventually(async () => assert.equal((await sessionRooms(tid)).length, 0));
    // Nor can it start over with a fresh join.
    await assertRefused(d.token);
  });
});

describe('messages', () => {
  let d: Awaited<ReturnType<typeof newDevice>>;
  let room: Room<any, SessionView>;
  let box: ReturnType<typeof mailbox>;
  let closed: number | undefined;
  const limit = 4096;
  /** `{"d":"xxx…"}` of exactly `bytes` bytes of JSON. */
  const ofSize = (bytes: number) => ({ d: 'x'.repeat(bytes - '{"d":""}'.length) });

  before(async () => {
    d = await newDevice(s.url);
    room = await joinSession(d.token);
    box = mailbox(room);
    room.onLeave((code) => (closed = code));
    room.onDrop((code) => (closed = code));
  });
  after(async () => {
    await room?.leave();
  });

  test('ping answers pong with the payload echoed', async () => {
    assert.deepEqual(await ping(room, box, { id: 'a', n: 1, nested: { ok: true } }), {
      type: 'pong',
      body: { id: 'a', n: 1, nested: { ok: true } },
    });
    assert.deepEqual(await ping(room, box), { type: 'pong', body: {} });
  });

  test('content at the 4 KiB limit passes; one byte more gets an error message and the socket stays usable', async () => {
    assert.equal(Buffer.byteLength(JSON.stringify(ofSize(limit))), limit);
    const atLimit = await ping(room, box, ofSize(limit));
    assert.equal(atLimit.type, 'pong');
    assert.equal(atLimit.body.d.length, ofSize(limit).d.length);

    assert.deepEqual(await ping(room, box, ofSize(limit + 1)), {
      type: 'error',
      body: { code: 3, status: 3, message: `Message too large: ${limit + 1} bytes, at most ${limit}.`, type: 'ping' },
    });
    const big = await ping(room, box, ofSize(4 * limit));
    assert.equal(big.type, 'error');
    assert.equal(big.body.code, 3);
    assert.equal(big.body.status, 3);

    assert.equal(closed, undefined);
    assert.equal(room.connection.isOpen, true);
    assert.deepEqual(await ping(room, box, { still: 'here' }), { type: 'pong', body: { still: 'here' } });
  });

  test('content that fails validation gets an error message with code 3', async () => {
    for (const bad of ['a string', 42, [1, 2], true]) {
      const res = await ping(room, box, bad);
      assert.equal(res.type, 'error', `payload ${JSON.stringify(bad)}`);
      assert.equal(res.body.code, 3); // Nakama's BAD_INPUT
      assert.equal(res.body.status, 3); // gRPC INVALID_ARGUMENT
      assert.equal(res.body.type, 'ping');
      assert.equal(typeof res.body.message, 'string');
      assert.ok(res.body.message.length > 0);
    }
    assert.equal(closed, undefined);
    assert.deepEqual(await ping(room, box, { ok: 1 }), { type: 'pong', body: { ok: 1 } });
  });

  describe('realtime before hooks', () => {
    type Mode = 'pass' | 'rewrite' | 'null' | 'undefined' | 'throw' | 'reject' | 'invalid';
    let mode: Mode = 'pass';
    const seen: { userId?: string; sessionId?: string; operation: string; message: unknown }[] = [];
    const errorsBefore = async () => (await s.metrics.roomErrors.get()).values.reduce((n, v) => n + v.value, 0);

    before(() => {
      // The registry has no unregister: one hook whose behaviour the tests switch.
      s.hooks.registerRtBefore('Ping', async (ctx, message) => {
        seen.push({ userId: ctx.userId, sessionId: ctx.sessionId, operation: ctx.operation, message });
        switch (mode) {
          case 'pass':
            return message;
          case 'rewrite':
            return { ...(message as object), rewritten: true };
          case 'null':
            return null;
          case 'undefined':
            return undefined;
          case 'throw':
            throw new Error('boom: hook exploded');
          case 'reject':
            return Promise.reject(new Error('boom: async hook failed'));
          case 'invalid':
            return 'not an object';
        }
      });
    });
    after(() => {
      mode = 'pass';
    });

    test('a hook sees the caller and may rewrite the message', async () => {
      mode = 'rewrite';
      assert.deepEqual(await ping(room, box, { a: 1 }), { type: 'pong', body: { a: 1, rewritten: true } });
      const last = seen.at(-1)!;
      const c = claimsOf(d.token);
      assert.equal(last.userId, c.uid);
      assert.equal(last.sessionId, c.tid);
      assert.equal(last.operation, 'ping');
      assert.deepEqual(last.message, { a: 1 });
    });

    test('a hook returning null (or nothing) rejects the message with an error message', async () => {
      mode = 'null';
      assert.deepEqual(await ping(room, box, { a: 1 }), {
        type: 'error',
        // Nakama's RUNTIME_FUNCTION_EXCEPTION, gRPC PERMISSION_DENIED
        body: { code: 7, status: 7, message: 'Message rejected by the server.', type: 'ping' },
      });
      mode = 'undefined';
      assert.deepEqual((await ping(room, box, { a: 2 })).body, {
        code: 7,
        status: 7,
        message: 'Message rejected by the server.',
        type: 'ping',
      });
      mode = 'pass';
      assert.deepEqual(await ping(room, box, { a: 3 }), { type: 'pong', body: { a: 3 } });
    });

    test('a hook that returns an invalid message gets code 3', async () => {
      mode = 'invalid';
      const res = await ping(room, box, { a: 1 });
      assert.equal(res.type, 'error');
      assert.equal(res.body.code, 3);
      assert.equal(res.body.status, 3);
      mode = 'pass';
    });

    test('a hook that throws rejects the message without details, is logged, and the room and process keep working', async () => {
      const before = await errorsBefore();
      for (const m of ['throw', 'reject'] as const) {
        mode = m;
        assert.deepEqual(await ping(room, box, { a: 1 }), {
          type: 'error',
          // Nakama's RUNTIME_FUNCTION_EXCEPTION, gRPC INTERNAL
          body: { code: 7, status: 13, message: 'Message rejected by the server.', type: 'ping' },
        });
      }
      // The client learns nothing of the failure's details; the log and the metric do.
      assert.equal(await errorsBefore(), before + 2);
      const logged = s.logs.filter((l) => l.msg === 'room handler failed' && l.type === 'ping');
      assert.ok(logged.some((l) => String((l.err as { message?: string })?.message).includes('boom: hook exploded')));
      assert.ok(logged.some((l) => String((l.err as { message?: string })?.message).includes('boom: async hook failed')));

      mode = 'pass';
      assert.equal(closed, undefined);
      assert.deepEqual(await ping(room, box, { alive: true }), { type: 'pong', body: { alive: true } });
      // Other clients and the HTTP API are unaffected.
      const other = await joinSession((await newDevice(s.url)).token);
      try {
        assert.deepEqual(await ping(other, mailbox(other), { other: 1 }), { type: 'pong', body: { other: 1 } });
      } finally {
        await other.leave();
      }
      assert.equal((await http(s.url, 'GET', '/v2/account', { auth: d.bearer })).status, 200);
    });
  });
});

describe('seat reservations', () => {
  test('the connection id is random, not the session id others can see in presences', async () => {
    const d = await newDevice(s.url);
    const { tid } = claimsOf(d.token);
    const room = await joinSession(d.token);
    try {
      assert.notEqual(room.sessionId, tid);
      assert.match(room.sessionId, /^[A-Za-z0-9_-]{6,}$/);
      assert.equal(room.state.sessionId, tid, 'the Nakama session id is still known to the room');
    } finally {
      await room.leave();
    }
  });
});

describe('unknown message types', () => {
  test('get an UNRECOGNIZED_PAYLOAD error and the socket stays open', async () => {
    const d = await newDevice(s.url);
    const client = new Client(s.url);
    client.auth.token = d.token;
    const room = await client.create('session');
    try {
      const err = new Promise<any>((resolve) => room.onMessage('error', resolve));
      room.send('no_such_message', { a: 1 });
      const e = await err;
      assert.equal(e.code, 1);
      assert.match(e.message, /no_such_message/);
      const pong = new Promise((resolve) => room.onMessage('pong', resolve));
      room.send('ping', { still: 'here' });
      assert.deepEqual(await pong, { still: 'here' });
    } finally {
      await room.leave();
    }
  });
});

describe('shutdown', () => {
  // Last in the file: it stops the server (the `after` hook's second stop is a no-op).
  test('stopping the server closes connected sessions with 4001 and leaves no unhandled rejection', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const room = await joinSession((await newDevice(s.url)).token);
      const dropped = await joinSession((await newDevice(s.url)).token);
      dropped.reconnection.enabled = false;
      // One client connected, one inside its reconnection window.
      const droppedLeft = new Promise<number>((resolve) => dropped.onLeave((code) => resolve(code)));
      serverSocketOf(dropped).terminate();
      await within(droppedLeft, 'onLeave of the dropped client');
      room.reconnection.enabled = false;
      const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));
      await s.stop();
      assert.equal(await within(left, 'onLeave'), CloseCode.SERVER_SHUTDOWN);
      await sleep(50);
      assert.deepEqual(rejections, []);
      if (s.config.redisUrl) {
        // The registry is in Redis (the stopped server's driver is closed): no session listed.
        const redis = new Redis(s.config.redisUrl);
        try {
          assert.equal(await redis.scard('tavern:mm:name:session'), 0);
        } finally {
          redis.disconnect();
        }
      } else assert.equal((await matchMaker.query({ name: 'session' })).length, 0);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
