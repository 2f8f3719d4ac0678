/**
 * The `session` room through the real Colyseus SDK against a real server: who may join, what the
 * client sees, and one room per session. Messages and realtime before hooks are in
 * session-messages.test.ts; reconnection and shutdown in session-reconnect.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { matchMaker } from '@colyseus/core';
import { MatchMakeError } from '@colyseus/sdk';
import jwt from 'jsonwebtoken';
import { eventually, sdk } from '../support/realtime.js';
import { http, newDevice, startTestServer, type TestServer } from '../support/server.js';
import {
  assertRefused,
  claimsOf,
  DEFAULT_SESSION_KEY,
  joinSession,
  mailbox,
  now,
  ping,
  sessionRooms,
  type Claims,
} from '../support/sessions.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
});

describe('joining', () => {
  test('a valid session token joins its own room, whose state names the session', async () => {
    const username = `sess_${Date.now()}`;
    const d = await newDevice(s.url, undefined, username);
    const c = claimsOf(d.token);
    assert.equal(c.usn, username);
    const room = await joinSession(s.url, d.token);
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
      await assert.rejects(sdk(s.url, d.token).join('session'), MatchMakeError);
    } finally {
      await room.leave();
    }
  });

  test('the room is chosen by the token, never by the options the client sends', async () => {
    const victim = await newDevice(s.url);
    const attacker = await newDevice(s.url);
    const vt = claimsOf(victim.token).tid;
    const room = await joinSession(s.url, attacker.token, { sid: vt, sessionId: vt, roomId: `session_${vt}` });
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
    const ra = await joinSession(s.url, first.token);
    const rb = await joinSession(s.url, second.token);
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
    await assertRefused(s.url, undefined, 'Auth token required');
    await eventually(async () => assert.equal((await sessionRooms()).length, 0));
  });

  test('with something that is not a JWT', async () => {
    await assertRefused(s.url, 'not-a-token');
  });

  test('with one character of the signature changed', async () => {
    const [h, p, sig] = user.token.split('.') as [string, string, string];
    // A middle character: the last one of a base64url HS256 signature carries unused bits.
    const i = Math.floor(sig.length / 2);
    const tampered = `${h}.${p}.${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}`;
    assert.notEqual(tampered, user.token);
    await assertRefused(s.url, tampered);
    assert.equal((await sessionRooms(claims.tid)).length, 0);
  });

  test('with one character of the payload changed', async () => {
    const [h, p, sig] = user.token.split('.') as [string, string, string];
    const i = Math.floor(p.length / 2);
    const tampered = `${h}.${p.slice(0, i)}${p[i] === 'A' ? 'B' : 'A'}${p.slice(i + 1)}.${sig}`;
    await assertRefused(s.url, tampered);
  });

  test('with claims rewritten to another user and the original signature', async () => {
    const other = await newDevice(s.url);
    const [h, , sig] = user.token.split('.') as [string, string, string];
    const forged = { ...claims, uid: claimsOf(other.token).uid, usn: claimsOf(other.token).usn };
    await assertRefused(s.url, `${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${sig}`);
  });

  test('with an unsigned (alg: none) token', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    await assertRefused(s.url, `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`);
  });

  test('with a token signed with the wrong key', async () => {
    const iat = now();
    const token = jwt.sign({ tid: 'wrong-key-session', uid: claims.uid, usn: claims.usn, iat, exp: iat + 60 }, 'not-the-server-key', {
      algorithm: 'HS256',
    });
    await assertRefused(s.url, token);
    assert.equal((await sessionRooms('wrong-key-session')).length, 0);
  });

  test('with the refresh token instead of the session token', async () => {
    await assertRefused(s.url, user.refreshToken);
  });

  test('with an expired token (and a token signed the same way but not expired is accepted)', async () => {
    const sign = (tid: string, iat: number, exp: number) =>
      jwt.sign({ tid, uid: claims.uid, usn: claims.usn, iat, exp }, DEFAULT_SESSION_KEY, { algorithm: 'HS256' });
    await assertRefused(s.url, sign('expired-session', now() - 120, now() - 60));
    assert.equal((await sessionRooms('expired-session')).length, 0);
    // Control: the same signing succeeds when the token is still valid, so the refusal above is
    // about expiry, not about how the token was made.
    const room = await joinSession(s.url, sign('self-signed-session', now(), now() + 60));
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
    await assertRefused(s.url, d.token);
    assert.equal((await sessionRooms(claimsOf(d.token).tid)).length, 0);
  });
});

describe('one room per session', () => {
  test('a second connection of a connected session is refused, and only one room exists', async () => {
    const d = await newDevice(s.url);
    const { tid } = claimsOf(d.token);
    const first = await joinSession(s.url, d.token);
    const box = mailbox(first);
    try {
      await assert.rejects(sdk(s.url, d.token).create('session'), (err: unknown) => {
        assert.ok(err instanceof MatchMakeError);
        assert.match(err.message, /already full/);
        return true;
      });
      // Neither `join` nor `joinById` gets in either.
      await assert.rejects(sdk(s.url, d.token).join('session'), MatchMakeError);
      await assert.rejects(sdk(s.url, d.token).joinById(`session_${tid}`), MatchMakeError);

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
    const again = await joinSession(s.url, d.token);
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
    const results = await Promise.allSettled([sdk(s.url, d.token).create('session'), sdk(s.url, d.token).create('session')]);
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

describe('seat reservations', () => {
  test('the connection id is random, not the session id others can see in presences', async () => {
    const d = await newDevice(s.url);
    const { tid } = claimsOf(d.token);
    const room = await joinSession(s.url, d.token);
    try {
      assert.notEqual(room.sessionId, tid);
      assert.match(room.sessionId, /^[A-Za-z0-9_-]{6,}$/);
      assert.equal(room.state.sessionId, tid, 'the Nakama session id is still known to the room');
    } finally {
      await room.leave();
    }
  });
});
