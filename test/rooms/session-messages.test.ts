/**
 * Messages in the `session` room through the real Colyseus SDK against a real server: ping and
 * pong, validation and the size limit, realtime before hooks, and unknown message types.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Room } from '@colyseus/sdk';
import { sdk } from '../support/realtime.js';
import { http, newDevice, startTestServer, type TestServer } from '../support/server.js';
import { claimsOf, joinSession, mailbox, ping, type SessionView } from '../support/sessions.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
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
    room = await joinSession(s.url, d.token);
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
      const other = await joinSession(s.url, (await newDevice(s.url)).token);
      try {
        assert.deepEqual(await ping(other, mailbox(other), { other: 1 }), { type: 'pong', body: { other: 1 } });
      } finally {
        await other.leave();
      }
      assert.equal((await http(s.url, 'GET', '/v2/account', { auth: d.bearer })).status, 200);
    });
  });
});

describe('unknown message types', () => {
  test('get an UNRECOGNIZED_PAYLOAD error and the socket stays open', async () => {
    const d = await newDevice(s.url);
    const room = await sdk(s.url, d.token).create('session');
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
