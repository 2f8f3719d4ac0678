/** Device, custom, email and username authentication over real HTTP (Nakama's /v2/account/authenticate/*). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { http, serverKeyAuth, startTestServer, type TestServer } from '../support/server.js';
import { assertError, decodeJwt, uniq } from '../support/wire.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
});

/** POST with the server key; `auth: null` sends no Authorization header. */
const post = (path: string, body: unknown, auth: string | null = serverKeyAuth) =>
  http(s.url, 'POST', path, { ...(auth ? { auth } : {}), body });
const account = (token: string) => http(s.url, 'GET', '/v2/account', { auth: `Bearer ${token}` });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Checks a session response and returns the decoded session token. */
function session(res: { status: number; body: any }, created: boolean) {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  if (created) assert.equal(res.body.created, true);
  else assert.ok(res.body.created === undefined || res.body.created === false, `created should be omitted: ${JSON.stringify(res.body)}`);
  assert.equal(typeof res.body.token, 'string');
  assert.equal(typeof res.body.refresh_token, 'string');
  assert.deepEqual(
    Object.keys(res.body).filter((k) => !['created', 'token', 'refresh_token'].includes(k)),
    [],
  );
  return decodeJwt(res.body.token);
}

describe('device', () => {
  test('creates by default, then logs in; the token carries uid, usn, tid, iat, exp', async () => {
    const id = uniq('device-');
    const first = await post('/v2/account/authenticate/device', { id });
    const c1 = session(first, true);
    assert.match(c1.uid, UUID);
    assert.match(c1.tid, UUID);
    assert.match(c1.usn, /^[A-Za-z]{10}$/, 'a generated username is 10 letters');
    assert.ok(Number.isInteger(c1.iat) && Number.isInteger(c1.exp));
    assert.ok(Math.abs(c1.iat - Date.now() / 1000) < 30, `iat ${c1.iat} is now`);
    assert.equal(c1.exp - c1.iat, 60, 'default session lifetime is 60 s');
    const r1 = decodeJwt(first.body.refresh_token);
    assert.equal(r1.uid, c1.uid);
    assert.equal(r1.exp - r1.iat, 3600, 'default refresh lifetime is 3600 s');

    const second = await post('/v2/account/authenticate/device', { id });
    const c2 = session(second, false);
    assert.equal(c2.uid, c1.uid);
    assert.equal(c2.usn, c1.usn);
    assert.notEqual(c2.tid, c1.tid, 'each login is a new session');

    const acct = await account(second.body.token);
    assert.equal(acct.status, 200);
    assert.equal(acct.body.user.id, c1.uid);
    assert.deepEqual(acct.body.devices, [{ id }]);
  });

  test('?username= names a new account and vars land in the vrs claim', async () => {
    const username = uniq('dev_');
    const vars = { region: 'eu', build: '42' };
    const res = await post(`/v2/account/authenticate/device?create=true&username=${username}`, { id: uniq('device-'), vars });
    const c = session(res, true);
    assert.equal(c.usn, username);
    assert.deepEqual(c.vrs, vars);
    assert.deepEqual(decodeJwt(res.body.refresh_token).vrs, vars);
    assert.equal((await account(res.body.token)).body.user.username, username);

    const none = session(await post('/v2/account/authenticate/device', { id: uniq('device-') }), true);
    assert.equal(none.vrs, undefined, 'no vars, no vrs claim');
  });

  test('claims with non-ASCII and ?~> are escaped so the payload is plain base64 (no - or _)', async () => {
    const username = uniq('ñ~?>');
    const vars = { url: 'https://x.example/?q=~', emoji: '🎲' };
    const res = await post(`/v2/account/authenticate/device?username=${encodeURIComponent(username)}`, { id: uniq('device-'), vars });
    const c = session(res, true);
    assert.equal(c.usn, username);
    assert.deepEqual(c.vrs, vars);
    for (const token of [res.body.token, res.body.refresh_token]) {
      const payload = token.split('.')[1];
      assert.doesNotMatch(payload, /[-_]/);
      assert.match(Buffer.from(payload, 'base64url').toString('latin1'), /^[\x20-\x7d]+$/);
    }
    assert.equal((await account(res.body.token)).body.user.username, username);
  });

  test('?username= of an existing account is ignored on login', async () => {
    const id = uniq('device-');
    const c1 = session(await post('/v2/account/authenticate/device', { id }), true);
    const c2 = session(await post(`/v2/account/authenticate/device?username=${uniq('other_')}`, { id }), false);
    assert.equal(c2.usn, c1.usn);
  });

  test('create=false for an unknown device is 404 code 5', async () => {
    const res = await post('/v2/account/authenticate/device?create=false', { id: uniq('device-') });
    assertError(res, 404, 5);
  });

  test('a username already used by another account is 409 code 6', async () => {
    const username = uniq('taken_');
    session(await post(`/v2/account/authenticate/device?username=${username}`, { id: uniq('device-') }), true);
    const id = uniq('device-');
    assertError(await post(`/v2/account/authenticate/device?username=${username}`, { id }), 409, 6);
    // Nothing was created by the refused request.
    assertError(await post('/v2/account/authenticate/device?create=false', { id }), 404, 5);
  });

  test('device id length: 10 and 128 bytes pass, 9 and 129 bytes are 400 code 3', async () => {
    session(await post('/v2/account/authenticate/device', { id: uniq('d').padEnd(10, 'x').slice(0, 10) }), true);
    session(await post('/v2/account/authenticate/device', { id: uniq('d').padEnd(128, 'x') }), true);
    assertError(await post('/v2/account/authenticate/device', { id: 'x'.repeat(9) }), 400, 3);
    assertError(await post('/v2/account/authenticate/device', { id: uniq('d').padEnd(129, 'x') }), 400, 3);
    // Bytes, not characters: 43 three-byte characters are 129 bytes.
    assertError(await post('/v2/account/authenticate/device', { id: '€'.repeat(43) }), 400, 3);
    assertError(await post('/v2/account/authenticate/device', {}), 400, 3);
  });

  test('20 concurrent authentications of one new device: all 200, exactly one created, one uid', async () => {
    const id = uniq('race-');
    const results = await Promise.all(Array.from({ length: 20 }, () => post('/v2/account/authenticate/device', { id })));
    for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(results.filter((r) => r.body.created === true).length, 1);
    const uids = new Set(results.map((r) => decodeJwt(r.body.token).uid));
    assert.equal(uids.size, 1);
    const acct = await account(results[0]!.body.token);
    assert.deepEqual(acct.body.devices, [{ id }]);
  });
});

describe('custom', () => {
  test('creates, logs in, honours username and vars; create=false unknown is 404', async () => {
    const id = uniq('custom-');
    const username = uniq('cu_');
    const first = await post(`/v2/account/authenticate/custom?username=${username}`, { id, vars: { k: 'v' } });
    const c1 = session(first, true);
    assert.equal(c1.usn, username);
    assert.deepEqual(c1.vrs, { k: 'v' });
    const c2 = session(await post('/v2/account/authenticate/custom?create=false', { id }), false);
    assert.equal(c2.uid, c1.uid);
    assert.equal((await account(first.body.token)).body.custom_id, id);
    assertError(await post('/v2/account/authenticate/custom?create=false', { id: uniq('custom-') }), 404, 5);
    assertError(await post('/v2/account/authenticate/custom', { id: 'abcde' }), 400, 3);
    assertError(await post('/v2/account/authenticate/custom', { id: 'c'.repeat(129) }), 400, 3);
  });
});

describe('email', () => {
  test('creates with a lowercased email, logs in with any case, wrong password is 401 code 16', async () => {
    const local = uniq('Mixed.Case');
    const email = `${local}@Example.COM`;
    const first = await post('/v2/account/authenticate/email', { email, password: 'correct horse', vars: { a: 'b' } });
    const c1 = session(first, true);
    assert.deepEqual(c1.vrs, { a: 'b' });
    assert.equal((await account(first.body.token)).body.email, `${local.toLowerCase()}@example.com`);

    const again = await post('/v2/account/authenticate/email', { email: email.toUpperCase(), password: 'correct horse' });
    assert.equal(session(again, false).uid, c1.uid);

    assertError(await post('/v2/account/authenticate/email', { email, password: 'wrong horse' }), 401, 16);
    assertError(await post('/v2/account/authenticate/email?create=false', { email, password: 'wrong horse' }), 401, 16);
    assertError(
      await post('/v2/account/authenticate/email?create=false', { email: `${uniq('nobody')}@example.com`, password: 'whatever1' }),
      404,
      5,
    );
  });

  test('input limits: short password, bad address, missing password', async () => {
    assertError(await post('/v2/account/authenticate/email', { email: `${uniq()}@example.com`, password: 'short' }), 400, 3);
    assertError(await post('/v2/account/authenticate/email', { email: 'not-an-email-address', password: 'password1' }), 400, 3);
    assertError(
      await post('/v2/account/authenticate/email', { email: 'a@b.c', password: 'password1' }),
      400,
      3,
      'account.email: Invalid email address, must be 10-255 bytes.',
    );
    assertError(await post('/v2/account/authenticate/email', { email: `${uniq()}@example.com` }), 400, 3);
    assertError(await post('/v2/account/authenticate/email', { password: 'password1' }), 400, 3);
  });

  test('username and password log in to an account with an email linked', async () => {
    const username = uniq('mail_');
    const created = await post(`/v2/account/authenticate/email?username=${username}`, {
      email: `${uniq()}@example.com`,
      password: 'hunter2hunter2',
    });
    const c1 = session(created, true);
    assert.equal(c1.usn, username);

    const login = await post(`/v2/account/authenticate/email?username=${username}&create=false`, { password: 'hunter2hunter2' });
    assert.equal(session(login, false).uid, c1.uid);
    assertError(await post(`/v2/account/authenticate/email?username=${username}&create=false`, { password: 'wrong-password' }), 401, 16);
    assertError(
      await post(`/v2/account/authenticate/email?username=${uniq('ghost_')}&create=false`, { password: 'hunter2hunter2' }),
      404,
      5,
    );

    // An account without a password cannot log in this way.
    const deviceUser = uniq('nopw_');
    session(await post(`/v2/account/authenticate/device?username=${deviceUser}`, { id: uniq('device-') }), true);
    assertError(await post(`/v2/account/authenticate/email?username=${deviceUser}&create=false`, { password: 'anything1' }), 401, 16);
  });

  test('an email already used by another account cannot be linked: 409 code 6', async () => {
    const email = `${uniq('owner')}@example.com`;
    session(await post('/v2/account/authenticate/email', { email, password: 'password-one' }), true);
    const other = await post('/v2/account/authenticate/device', { id: uniq('device-') });
    const res = await http(s.url, 'POST', '/v2/account/link/email', {
      auth: `Bearer ${other.body.token}`,
      body: { email: email.toUpperCase(), password: 'password-two' },
    });
    assertError(res, 409, 6);
  });
});

describe('request errors', () => {
  const path = '/v2/account/authenticate/device';
  const id = 'abcdefghijklmnop';

  test('no Authorization header is 401 code 16', async () => {
    assertError(await post(path, { id }, null), 401, 16);
  });

  test('a wrong server key, a Bearer token or a malformed header is 401 code 16', async () => {
    const wrong = 'Basic ' + Buffer.from('wrongkey:').toString('base64');
    assertError(await post(path, { id }, wrong), 401, 16);
    assertError(await post(path, { id }, 'Basic ' + Buffer.from('defaultkey2:').toString('base64')), 401, 16);
    assertError(await post(path, { id }, 'Basic'), 401, 16);
    assertError(await post(path, { id }, 'Basic !!!notbase64'), 401, 16);
    const device = await post(path, { id: uniq('device-') });
    assertError(await post(path, { id }, `Bearer ${device.body.token}`), 401, 16);
    // A session token is not a server key either way round.
    assertError(await http(s.url, 'GET', '/v2/account', { auth: serverKeyAuth }), 401, 16);
  });

  test('the server key alone, with or without a password part, is accepted', async () => {
    const bare = 'Basic ' + Buffer.from('defaultkey').toString('base64');
    assert.equal((await post(path, { id: uniq('device-') }, bare)).status, 200);
    const withPassword = 'Basic ' + Buffer.from('defaultkey:ignored').toString('base64');
    assert.equal((await post(path, { id: uniq('device-') }, withPassword)).status, 200);
  });

  test('invalid JSON is 400 code 3', async () => {
    for (const rawBody of ['{', '{"id":', "{'id':'abcdefghijk'}", 'id=abcdefghijk']) {
      assertError(await http(s.url, 'POST', path, { auth: serverKeyAuth, rawBody }), 400, 3);
    }
  });

  test('a body that is not an object is 400 code 3', async () => {
    for (const body of [[], [{ id }], 42, 'abcdefghijklmnop', true]) {
      assertError(await post(path, body), 400, 3);
    }
  });

  test('wrong field types are 400 code 3', async () => {
    for (const body of [
      { id: 1234567890123 },
      { id: null },
      { id: [id] },
      { id: { id } },
      { id, vars: 'x' },
      { id, vars: { a: 1 } },
      { id, vars: [] },
    ]) {
      assertError(await post(path, body), 400, 3);
    }
    assertError(await post(`${path}?create=maybe`, { id }), 400, 3);
    assertError(await post(`${path}?username=${encodeURIComponent('has space')}`, { id: uniq('device-') }), 400, 3);
    assertError(await post(`${path}?username=${'u'.repeat(129)}`, { id: uniq('device-') }), 400, 3);
  });

  test('an unknown path is 404 with the error shape', async () => {
    assertError(await post('/v2/account/authenticate/nothing', { id }), 404, 5);
  });
});
