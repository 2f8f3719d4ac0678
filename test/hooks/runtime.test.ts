/** The designer runtime against a real server: RPCs, hooks, context and nk, through HTTP, nakama-js and Colyseus. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Schema } from '@colyseus/schema';
import { Client as ColyseusClient } from '@colyseus/sdk';
import { Client as NakamaClient } from '@heroiclabs/nakama-js';
import { http, newDevice, serverKeyAuth, startTestServer, type TestServer } from '../support/server.js';

const modules = path.join(import.meta.dirname, '..', 'fixtures', 'modules');
let s: TestServer;
before(async () => {
  s = await startTestServer({ runtimePath: modules });
});
after(async () => {
  await s?.stop();
});

const rpc = (id: string, opts: { auth?: string; body?: string; query?: string; method?: string } = {}) =>
  http(s.url, opts.method ?? 'POST', `/v2/rpc/${id}${opts.query ?? ''}`, {
    ...(opts.auth ? { auth: opts.auth } : {}),
    ...(opts.body !== undefined ? { rawBody: opts.body } : {}),
  });

describe('RPC over HTTP', () => {
  test('with a session: JSON string in, {payload} out', async () => {
    const d = await newDevice(s.url);
    const r = await rpc('echo', { auth: d.bearer, body: JSON.stringify('{"a":1}') });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { payload: '{"a":1}' });
  });

  test('ids are case-insensitive, an empty result is {}', async () => {
    const d = await newDevice(s.url);
    assert.equal((await rpc('ECHO', { auth: d.bearer, body: '"x"' })).body.payload, 'x');
    assert.deepEqual((await rpc('empty', { auth: d.bearer })).body, {});
  });

  test('with the http key there is no user; GET takes ?payload=', async () => {
    const r = await rpc('context', { method: 'GET', query: '?http_key=defaulthttpkey&payload=hi' });
    assert.equal(r.status, 200);
    const ctx = JSON.parse(r.body.payload);
    assert.equal(ctx.userId, undefined);
    assert.equal(ctx.executionMode, 'rpc');
    const echo = await rpc('echo', { method: 'GET', query: '?http_key=defaulthttpkey&payload=hi' });
    assert.equal(echo.body.payload, 'hi');
  });

  test('unwrap sends and returns the raw body', async () => {
    const r = await fetch(`${s.url}/v2/rpc/echo?http_key=defaulthttpkey&unwrap=true`, { method: 'POST', body: '{"raw": [1, 2]}' });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), '{"raw": [1, 2]}');
  });

  test('auth: no token and no key → 401, wrong key → 401, server key is not enough', async () => {
    assert.equal((await rpc('echo')).status, 401);
    assert.equal((await rpc('echo', { query: '?http_key=wrong' })).status, 401);
    assert.equal((await rpc('echo', { auth: serverKeyAuth })).status, 401);
  });

  test('unknown RPC → 404 code 5; a body that is not a JSON string → 400', async () => {
    const d = await newDevice(s.url);
    const r = await rpc('nope', { auth: d.bearer });
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { error: 'RPC function not found', code: 5, message: 'RPC function not found' });
    const bad = await rpc('echo', { auth: d.bearer, body: '{"not":"a string"}' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 3);
  });

  test('errors thrown by RPCs keep their code and message; unknown errors stay private', async () => {
    const d = await newDevice(s.url);
    const denied = await rpc('fail_app_error', { auth: d.bearer });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.body, { error: 'not for you', code: 7, message: 'not for you' });
    const shaped = await rpc('fail_nakama_shape', { auth: d.bearer });
    assert.equal(shaped.status, 404);
    assert.equal(shaped.body.message, 'nope, not found');
    const plain = await rpc('fail_plain', { auth: d.bearer });
    assert.equal(plain.status, 500);
    assert.equal(plain.body.code, 13);
    assert.doesNotMatch(JSON.stringify(plain.body), /secret internals/);
  });
});

describe('module imports', () => {
  test("modules get the server's copy of @colyseus/schema and may use installed packages", async () => {
    assert.equal((globalThis as Record<string, unknown>).__tavernModuleSchema, Schema);
    const ok = await rpc('validated', { query: '?http_key=defaulthttpkey', body: JSON.stringify('{"score":21}') });
    assert.deepEqual(JSON.parse(ok.body.payload), { doubled: 42 });
    const bad = await rpc('validated', { query: '?http_key=defaulthttpkey', body: JSON.stringify('{"score":-1}') });
    assert.equal(bad.status, 400);
  });
});

describe('runtime context', () => {
  test("Nakama's fields, frozen", async () => {
    const d = await newDevice(s.url);
    const login = await http(s.url, 'POST', '/v2/account/authenticate/device', {
      auth: serverKeyAuth,
      body: { id: d.deviceId, vars: { tier: 'gold' } },
    });
    const r = await rpc('context', { auth: `Bearer ${login.body.token}`, query: '?lang=fr' });
    const ctx = JSON.parse(r.body.payload);
    const claims = JSON.parse(Buffer.from(login.body.token.split('.')[1], 'base64url').toString());
    assert.equal(ctx.userId, claims.uid);
    assert.equal(ctx.username, claims.usn);
    assert.equal(ctx.sessionId, claims.tid);
    assert.equal(ctx.userSessionExp, claims.exp);
    assert.deepEqual(ctx.vars, { tier: 'gold' });
    assert.equal(ctx.executionMode, 'rpc');
    assert.equal(ctx.node, 'tavern');
    assert.equal(typeof ctx.version, 'string');
    assert.deepEqual(ctx.env, {});
    assert.ok(ctx.clientIp);
    assert.deepEqual(ctx.queryParams.lang, ['fr']);
    assert.ok(Array.isArray(ctx.headers['user-agent']) || Array.isArray(ctx.headers['content-type']));
    assert.equal(ctx.frozen, true);
  });
});

describe('before and after hooks', () => {
  test('a before hook that changes the request: the change is stored', async () => {
    const d = await newDevice(s.url);
    assert.equal((await http(s.url, 'PUT', '/v2/account', { auth: d.bearer, body: { display_name: 'quiet' } })).status, 200);
    const acct = await http(s.url, 'GET', '/v2/account', { auth: d.bearer });
    assert.equal(acct.body.user.display_name, 'QUIET');
  });

  test('a before hook that rejects: nothing is stored', async () => {
    const id = `blocked-${Date.now()}`;
    const r = await http(s.url, 'POST', '/v2/account/authenticate/custom?create=true', { auth: serverKeyAuth, body: { id } });
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 5);
    const again = await http(s.url, 'POST', '/v2/account/authenticate/custom?create=false', { auth: serverKeyAuth, body: { id } });
    assert.equal(again.status, 404, 'the rejected request created no account');
    const ok = await http(s.url, 'POST', '/v2/account/authenticate/custom?create=true', {
      auth: serverKeyAuth,
      body: { id: `fine-${Date.now()}` },
    });
    assert.equal(ok.status, 200);
  });

  test("a before hook's result is validated again", async () => {
    const d = await newDevice(s.url);
    const r = await http(s.url, 'POST', '/v2/account/link/custom', { auth: d.bearer, body: { id: 'a-valid-custom-id' } });
    assert.equal(r.status, 400);
    const acct = await http(s.url, 'GET', '/v2/account', { auth: d.bearer });
    assert.equal(acct.body.custom_id, undefined);
  });

  test('an after hook that throws: the client still gets 200, the error is logged and counted', async () => {
    const d = await newDevice(s.url);
    const r = await http(s.url, 'GET', '/v2/account', { auth: d.bearer });
    assert.equal(r.status, 200);
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(s.logs.some((l) => l.msg === 'after hook failed' && JSON.stringify(l).includes('after hook exploded')));
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /tavern_hook_errors_total\{operation="GetAccount"\} [1-9]/);
  });

  test('a hook for an operation Tavern does not serve yet was accepted with a warning', () => {
    assert.ok(s.logs.some((l) => l.level === 40 && String(l.msg).includes('does not serve ImportSteamFriends yet')));
  });
});

describe('nk facade', () => {
  test('accountGetId and authenticateTokenGenerate', async () => {
    const d = await newDevice(s.url);
    const acct = JSON.parse((await rpc('account', { auth: d.bearer })).body.payload);
    assert.equal(acct.devices[0].id, d.deviceId);
    assert.equal(typeof acct.user.createTime, 'number');
    const gen = await rpc('token_for', {
      query: '?http_key=defaulthttpkey',
      body: JSON.stringify(JSON.stringify({ userId: acct.user.userId, username: acct.user.username })),
    });
    const { token } = JSON.parse(gen.body.payload);
    const me = await http(s.url, 'GET', '/v2/account', { auth: `Bearer ${token}` });
    assert.equal(me.status, 200);
    assert.equal(me.body.user.id, acct.user.userId);
  });

  test('usersBanId: the banned user cannot log in and their token stops working', async () => {
    const d = await newDevice(s.url);
    const uid = JSON.parse(Buffer.from(d.token.split('.')[1]!, 'base64url').toString()).uid;
    assert.equal((await rpc('ban', { query: '?http_key=defaulthttpkey', body: JSON.stringify(uid) })).status, 200);
    assert.equal((await http(s.url, 'GET', '/v2/account', { auth: d.bearer })).status, 401);
    const login = await http(s.url, 'POST', '/v2/account/authenticate/device', { auth: serverKeyAuth, body: { id: d.deviceId } });
    assert.equal(login.status, 403);
  });
});

describe('clients', () => {
  test('nakama-js: client.rpc and client.rpcHttpKey', async () => {
    const client = new NakamaClient('defaultkey', '127.0.0.1', String(s.port), false);
    const session = await client.authenticateDevice(`nk-rpc-${Date.now()}-device`, true);
    const res = await client.rpc(session, 'echo', { hello: 'world' });
    assert.deepEqual(res.payload, { hello: 'world' });
    const res2 = await client.rpcHttpKey('defaulthttpkey', 'echo', { via: 'key' });
    assert.deepEqual(res2.payload, { via: 'key' });
  });

  test('Colyseus: rpc through the session room, errors as `error` messages, realtime before hooks', async () => {
    const d = await newDevice(s.url);
    const client = new ColyseusClient(s.url);
    client.auth.token = d.token;
    const room = await client.create('session');
    try {
      const next = (type: string) => new Promise<any>((resolve) => room.onMessage(type, resolve));
      const reply = next('rpc');
      room.send('rpc', { id: 'echo', payload: 'over the socket' });
      assert.deepEqual(await reply, { id: 'echo', payload: 'over the socket' });

      const notFound = next('error');
      room.send('rpc', { id: 'missing' });
      assert.deepEqual(await notFound, { code: 6, status: 5, message: 'RPC function not found', type: 'rpc' });

      const failed = next('error');
      room.send('rpc', { id: 'fail_app_error' });
      assert.deepEqual(await failed, { code: 7, status: 7, message: 'not for you', type: 'rpc' });

      const rejected = next('error');
      room.send('ping', { reject: true });
      const err = await rejected;
      assert.equal(err.code, 7);
      assert.equal(err.type, 'ping');

      const pong = next('pong');
      room.send('ping', { shout: 'hello' });
      assert.deepEqual(await pong, { shout: 'HELLO' });
    } finally {
      await room.leave();
    }
  });
});
