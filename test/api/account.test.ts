/** The account over real HTTP: get, update, delete, GetUsers, and the HTTP surface (health, CORS, request ids, metrics). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { http, newDevice, serverKeyAuth, startTestServer, type TestServer } from '../support/server.js';
import { assertError, decodeJwt, RFC3339, uniq } from '../support/wire.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
});

const getAccount = (bearer: string) => http(s.url, 'GET', '/v2/account', { auth: bearer });
const putAccount = (bearer: string, body: unknown) => http(s.url, 'PUT', '/v2/account', { auth: bearer, body });

describe('GET /v2/account', () => {
  test('has Nakama’s shape: snake_case, JSON strings for wallet and metadata, unset fields omitted', async () => {
    const username = uniq('shape_');
    const d = await newDevice(s.url, uniq('device-'), username);
    const res = await getAccount(d.bearer);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const a = res.body;
    assert.deepEqual(Object.keys(a).sort(), ['devices', 'user', 'wallet']);
    assert.equal(a.wallet, '{}');
    assert.deepEqual(a.devices, [{ id: d.deviceId }]);
    assert.deepEqual(Object.keys(a.user).sort(), ['create_time', 'id', 'lang_tag', 'metadata', 'update_time', 'username']);
    assert.equal(a.user.id, decodeJwt(d.token).uid);
    assert.equal(a.user.username, username);
    assert.equal(a.user.lang_tag, 'en');
    assert.equal(typeof a.user.metadata, 'string');
    assert.deepEqual(JSON.parse(a.user.metadata), {});
    assert.match(a.user.create_time, RFC3339);
    assert.match(a.user.update_time, RFC3339);
    assert.ok(Math.abs(Date.parse(a.user.create_time) - Date.now()) < 60_000);
  });

  test('shows custom_id and email when linked, and every device', async () => {
    const d = await newDevice(s.url);
    const custom = uniq('custom-');
    const email = `${uniq('acct')}@example.com`;
    const second = uniq('device-');
    for (const [path, body] of [
      ['/v2/account/link/custom', { id: custom }],
      ['/v2/account/link/email', { email, password: 'password-1' }],
      ['/v2/account/link/device', { id: second }],
    ] as const) {
      const res = await http(s.url, 'POST', path, { auth: d.bearer, body });
      assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(res.body, {});
    }
    const a = (await getAccount(d.bearer)).body;
    assert.equal(a.custom_id, custom);
    assert.equal(a.email, email);
    assert.deepEqual(a.devices.map((x: { id: string }) => x.id).sort(), [d.deviceId, second].sort());
    assert.equal(a.verify_time, undefined);
    assert.equal(a.disable_time, undefined);
  });

  test('needs a valid session token', async () => {
    assertError(await http(s.url, 'GET', '/v2/account'), 401, 16);
    assertError(await getAccount('Bearer not.a.token'), 401, 16);
    const d = await newDevice(s.url);
    assertError(await getAccount(`Bearer ${d.refreshToken}`), 401, 16);
    const [h, p] = d.token.split('.');
    assertError(await getAccount(`Bearer ${h}.${p}.${'A'.repeat(43)}`), 401, 16);
  });
});

describe('PUT /v2/account', () => {
  test('updates every profile field and update_time', async () => {
    const d = await newDevice(s.url);
    const before = (await getAccount(d.bearer)).body.user;
    const username = uniq('new_');
    const fields = {
      username,
      display_name: 'Grüße 🎲',
      avatar_url: 'https://example.com/a.png',
      lang_tag: 'fr',
      location: 'Paris',
      timezone: 'Europe/Paris',
    };
    const res = await putAccount(d.bearer, fields);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, {});
    const user = (await getAccount(d.bearer)).body.user;
    for (const [k, v] of Object.entries(fields)) assert.equal(user[k], v, k);
    assert.equal(user.create_time, before.create_time);
    assert.ok(Date.parse(user.update_time) >= Date.parse(before.update_time));
    // The new username is what a refreshed session carries.
    const refreshed = await http(s.url, 'POST', '/v2/account/session/refresh', { auth: serverKeyAuth, body: { token: d.refreshToken } });
    assert.equal(decodeJwt(refreshed.body.token).usn, username);
  });

  test('leaves absent fields alone and "" clears display_name', async () => {
    const d = await newDevice(s.url);
    assert.equal((await putAccount(d.bearer, { display_name: 'Shown', location: 'Here' })).status, 200);
    assert.equal((await putAccount(d.bearer, { timezone: 'UTC' })).status, 200);
    let user = (await getAccount(d.bearer)).body.user;
    assert.equal(user.display_name, 'Shown');
    assert.equal(user.location, 'Here');
    assert.equal(user.timezone, 'UTC');
    assert.equal((await putAccount(d.bearer, { display_name: '' })).status, 200);
    user = (await getAccount(d.bearer)).body.user;
    assert.equal('display_name' in user, false, 'a cleared display_name is omitted');
    assert.equal(user.location, 'Here');
    assert.equal((await putAccount(d.bearer, {})).status, 200, 'an empty update is fine');
  });

  test('a username taken by another account is 409 code 6; invalid usernames are 400 code 3', async () => {
    const taken = uniq('taken_');
    await newDevice(s.url, uniq('device-'), taken);
    const d = await newDevice(s.url);
    const mine = (await getAccount(d.bearer)).body.user.username;
    assertError(await putAccount(d.bearer, { username: taken }), 409, 6);
    assertError(await putAccount(d.bearer, { username: 'has space' }), 400, 3);
    assertError(await putAccount(d.bearer, { username: 'tab\there' }), 400, 3);
    assertError(await putAccount(d.bearer, { username: 'u'.repeat(129) }), 400, 3);
    assertError(await putAccount(d.bearer, { username: '' }), 400, 3);
    assertError(await putAccount(d.bearer, { display_name: 'd'.repeat(256) }), 400, 3);
    assertError(await putAccount(d.bearer, { username: 42 }), 400, 3);
    // Refused updates changed nothing, not even the fields beside the bad one.
    assertError(await putAccount(d.bearer, { username: taken, display_name: 'Sneaky' }), 409, 6);
    const user = (await getAccount(d.bearer)).body.user;
    assert.equal(user.username, mine);
    assert.equal(user.display_name, undefined);
    // Keeping one's own username is not a conflict.
    assert.equal((await putAccount(d.bearer, { username: mine })).status, 200);
  });
});

describe('DELETE /v2/account', () => {
  test('deletes the account: its tokens are rejected and the device authenticates as a new account', async () => {
    const d = await newDevice(s.url);
    const other = await http(s.url, 'POST', '/v2/account/authenticate/device', { auth: serverKeyAuth, body: { id: d.deviceId } });
    const uid = decodeJwt(d.token).uid;
    const res = await http(s.url, 'DELETE', '/v2/account', { auth: d.bearer });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {});
    assertError(await getAccount(d.bearer), 401, 16);
    assertError(await getAccount(`Bearer ${other.body.token}`), 401, 16);
    assertError(
      await http(s.url, 'POST', '/v2/account/session/refresh', { auth: serverKeyAuth, body: { token: d.refreshToken } }),
      401,
      16,
    );

    const again = await http(s.url, 'POST', '/v2/account/authenticate/device', { auth: serverKeyAuth, body: { id: d.deviceId } });
    assert.equal(again.status, 200);
    assert.equal(again.body.created, true);
    const newUid = decodeJwt(again.body.token).uid;
    assert.notEqual(newUid, uid);
    const acct = await getAccount(`Bearer ${again.body.token}`);
    assert.equal(acct.status, 200);
    assert.equal(acct.body.user.id, newUid);
    // The old user is gone from GetUsers too.
    const users = await http(s.url, 'GET', `/v2/user?ids=${uid}&ids=${newUid}`, { auth: `Bearer ${again.body.token}` });
    assert.deepEqual(
      users.body.users.map((u: { id: string }) => u.id),
      [newUid],
    );
  });
});

describe('GET /v2/user', () => {
  test('returns users by ids and usernames, each once, unknown ones left out', async () => {
    const a = await newDevice(s.url, uniq('device-'), uniq('ua_'));
    const b = await newDevice(s.url, uniq('device-'), uniq('ub_'));
    const cName = uniq('uc_');
    const c = await newDevice(s.url, uniq('device-'), cName);
    await putAccount(c.bearer, { display_name: 'Cee', avatar_url: 'https://example.com/c.png' });
    const [ida, idb, idc] = [a, b, c].map((x) => decodeJwt(x.token).uid);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const q = `ids=${ida}&ids=${idb}&ids=${unknown}&usernames=${cName}&usernames=${uniq('ghost_')}&usernames=${decodeJwt(a.token).usn}`;
    const res = await http(s.url, 'GET', `/v2/user?${q}`, { auth: a.bearer });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const users = [...res.body.users].sort((x, y) => x.id.localeCompare(y.id));
    assert.deepEqual(
      users.map((u) => u.id),
      [ida, idb, idc].sort(),
    );
    const cee = users.find((u) => u.id === idc);
    assert.equal(cee.username, cName);
    assert.equal(cee.display_name, 'Cee');
    assert.equal(cee.avatar_url, 'https://example.com/c.png');
    assert.equal(cee.metadata, '{}');
    assert.match(cee.create_time, RFC3339);
    for (const u of users) assert.equal('email' in u || 'devices' in u || 'wallet' in u, false, 'no private fields');
  });

  test('no match is an empty object; an invalid id is 400 code 3; needs a session', async () => {
    const d = await newDevice(s.url);
    const none = await http(s.url, 'GET', `/v2/user?usernames=${uniq('nobody_')}`, { auth: d.bearer });
    assert.equal(none.status, 200);
    assert.deepEqual(none.body, {});
    assert.deepEqual((await http(s.url, 'GET', '/v2/user', { auth: d.bearer })).body, {});
    assertError(await http(s.url, 'GET', '/v2/user?ids=not-a-uuid', { auth: d.bearer }), 400, 3);
    assertError(await http(s.url, 'GET', `/v2/user?ids=${decodeJwt(d.token).uid}&ids=123`, { auth: d.bearer }), 400, 3);
    assertError(await http(s.url, 'GET', `/v2/user?ids=${decodeJwt(d.token).uid}`), 401, 16);
  });
});

describe('HTTP surface', () => {
  test('/healthcheck answers 200 {} without credentials', async () => {
    const res = await http(s.url, 'GET', '/healthcheck');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {});
  });

  test('CORS: every answer allows any origin, and a preflight is answered 204', async () => {
    const ok = await http(s.url, 'GET', '/healthcheck', { headers: { origin: 'https://game.example' } });
    assert.equal(ok.headers.get('access-control-allow-origin'), '*');
    const refused = await http(s.url, 'GET', '/v2/account', { headers: { origin: 'https://game.example' } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), '*', 'errors carry CORS headers too');

    const pre = await fetch(`${s.url}/v2/account/authenticate/device`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://game.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(pre.status, 204);
    // Colyseus's request listener answers preflights before Express does, echoing the origin; either allows the caller.
    assert.ok(
      ['*', 'https://game.example'].includes(pre.headers.get('access-control-allow-origin') ?? ''),
      pre.headers.get('access-control-allow-origin') ?? 'none',
    );
    const allowedHeaders = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    assert.match(allowedHeaders, /authorization/);
    assert.match(allowedHeaders, /content-type/);
    const methods = pre.headers.get('access-control-allow-methods') ?? '';
    for (const m of ['GET', 'POST', 'PUT', 'DELETE']) assert.match(methods, new RegExp(`\\b${m}\\b`));
    assert.equal(await pre.text(), '');
  });

  test('X-Request-Id is echoed, or generated when absent', async () => {
    const given = `req-${uniq()}`;
    const res = await http(s.url, 'GET', '/healthcheck', { headers: { 'x-request-id': given } });
    assert.equal(res.headers.get('x-request-id'), given);
    const err = await http(s.url, 'GET', '/v2/account', { headers: { 'x-request-id': given } });
    assert.equal(err.headers.get('x-request-id'), given);
    const generated = await http(s.url, 'GET', '/healthcheck');
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.notEqual(generated.headers.get('x-request-id'), (await http(s.url, 'GET', '/healthcheck')).headers.get('x-request-id'));
  });

  test('/metrics has the request latency histogram labelled by Nakama operation', async () => {
    await newDevice(s.url);
    assert.equal((await http(s.url, 'GET', '/v2/account')).status, 401);
    const res = await fetch(`${s.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.match(text, /# TYPE tavern_api_request_duration_seconds histogram/);
    assert.match(text, /tavern_api_request_duration_seconds_count\{[^}]*operation="AuthenticateDevice"[^}]*\} [1-9]/);
    assert.match(
      text,
      /tavern_api_request_duration_seconds_bucket\{[^}]*operation="GetAccount"[^}]*code="16"/,
      'refusals are counted with their code',
    );
  });
});
