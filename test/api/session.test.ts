/** Session refresh (rotation) and logout over real HTTP (Nakama's SessionRefresh and SessionLogout). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { http, newDevice, serverKeyAuth, startTestServer, type TestServer } from '../support/server.js';
import { assertError, decodeJwt, uniq } from '../support/wire.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
});

const refresh = (token: string, vars?: Record<string, string>) =>
  http(s.url, 'POST', '/v2/account/session/refresh', { auth: serverKeyAuth, body: { token, ...(vars ? { vars } : {}) } });
const account = (token: string) => http(s.url, 'GET', '/v2/account', { auth: `Bearer ${token}` });
const logout = (bearer: string, body: unknown) => http(s.url, 'POST', '/v2/session/logout', { auth: `Bearer ${bearer}`, body });

describe('refresh', () => {
  test('gives a new pair that differs from the old one even within the same second', async () => {
    let sameSecond = 0;
    for (let i = 0; i < 5 && sameSecond === 0; i++) {
      const d = await newDevice(s.url);
      const res = await refresh(d.refreshToken);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.created, undefined, 'a refresh never reports created');
      const before = decodeJwt(d.token);
      const after = decodeJwt(res.body.token);
      assert.notEqual(res.body.token, d.token);
      assert.notEqual(res.body.refresh_token, d.refreshToken);
      assert.notEqual(after.tid, before.tid);
      assert.equal(after.uid, before.uid);
      assert.equal(after.usn, before.usn);
      if (after.iat === before.iat) sameSecond++;
      // The new session token works.
      const acct = await account(res.body.token);
      assert.equal(acct.status, 200);
      assert.equal(acct.body.user.id, before.uid);
    }
    assert.ok(sameSecond > 0, 'never managed to refresh within the second of issue');
  });

  test('keeps the vars unless new ones are given, and uses the current username', async () => {
    const id = uniq('device-');
    const auth = await http(s.url, 'POST', '/v2/account/authenticate/device', { auth: serverKeyAuth, body: { id, vars: { a: '1' } } });
    assert.equal(auth.status, 200);
    const kept = await refresh(auth.body.refresh_token);
    assert.equal(kept.status, 200);
    assert.deepEqual(decodeJwt(kept.body.token).vrs, { a: '1' });
    // An empty map counts as "not given" (nakama-js always sends one).
    const keptEmpty = await refresh(kept.body.refresh_token, {});
    assert.equal(keptEmpty.status, 200);
    assert.deepEqual(decodeJwt(keptEmpty.body.token).vrs, { a: '1' });

    const renamed = uniq('renamed_');
    const put = await http(s.url, 'PUT', '/v2/account', { auth: `Bearer ${keptEmpty.body.token}`, body: { username: renamed } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const replaced = await refresh(keptEmpty.body.refresh_token, { b: '2' });
    assert.equal(replaced.status, 200);
    const claims = decodeJwt(replaced.body.token);
    assert.deepEqual(claims.vrs, { b: '2' });
    assert.equal(claims.usn, renamed);
  });

  test('rotation: a refresh token works once, its second use is 401 code 16', async () => {
    const d = await newDevice(s.url);
    const first = await refresh(d.refreshToken);
    assert.equal(first.status, 200);
    assertError(await refresh(d.refreshToken), 401, 16);
    // The token it was exchanged for still works, once.
    const second = await refresh(first.body.refresh_token);
    assert.equal(second.status, 200);
    assertError(await refresh(first.body.refresh_token), 401, 16);
  });

  test('two concurrent refreshes with one refresh token: exactly one 200', async () => {
    for (let round = 0; round < 3; round++) {
      const d = await newDevice(s.url);
      const results = await Promise.all([refresh(d.refreshToken), refresh(d.refreshToken)]);
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 401], JSON.stringify(results.map((r) => r.body)));
      assertError(
        results.find((r) => r.status === 401)!,
        401,
        16,
      );
    }
  });

  test('a session token, a forged token or garbage is not a refresh token', async () => {
    const d = await newDevice(s.url);
    assertError(await refresh(d.token), 401, 16);
    const [h, p] = d.refreshToken.split('.');
    assertError(await refresh(`${h}.${p}.${'A'.repeat(43)}`), 401, 16);
    assertError(await refresh('not-a-token'), 401, 16);
    assertError(await refresh(''), 400, 3);
    assertError(await http(s.url, 'POST', '/v2/account/session/refresh', { auth: serverKeyAuth, body: {} }), 400, 3);
    // The real one is still unspent after all that.
    assert.equal((await refresh(d.refreshToken)).status, 200);
  });

  test('needs the server key', async () => {
    const d = await newDevice(s.url);
    assertError(await http(s.url, 'POST', '/v2/account/session/refresh', { body: { token: d.refreshToken } }), 401, 16);
    assertError(await http(s.url, 'POST', '/v2/account/session/refresh', { auth: d.bearer, body: { token: d.refreshToken } }), 401, 16);
    assert.equal((await refresh(d.refreshToken)).status, 200);
  });

  test('a refresh token of a deleted account is refused', async () => {
    const d = await newDevice(s.url);
    assert.equal((await http(s.url, 'DELETE', '/v2/account', { auth: d.bearer })).status, 200);
    assertError(await refresh(d.refreshToken), 401, 16);
  });
});

describe('logout', () => {
  test('with token and refresh_token: both are rejected afterwards', async () => {
    const d = await newDevice(s.url);
    assert.equal((await account(d.token)).status, 200);
    const res = await logout(d.token, { token: d.token, refresh_token: d.refreshToken });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {});
    assertError(await account(d.token), 401, 16);
    assertError(await refresh(d.refreshToken), 401, 16);
    assertError(await logout(d.token, {}), 401, 16);
  });

  test('with only the caller session ends it, refresh token included, and leaves other sessions alive', async () => {
    const d = await newDevice(s.url);
    const other = await http(s.url, 'POST', '/v2/account/authenticate/device', { auth: serverKeyAuth, body: { id: d.deviceId } });
    assert.equal(other.status, 200);
    assert.equal((await logout(d.token, { token: d.token })).status, 200);
    assertError(await account(d.token), 401, 16);
    assertError(await refresh(d.refreshToken), 401, 16);
    assert.equal((await account(other.body.token)).status, 200);
    assert.equal((await refresh(other.body.refresh_token)).status, 200);
  });

  test('can end another session of the same user by naming its tokens, not another user’s', async () => {
    const d = await newDevice(s.url);
    const second = await http(s.url, 'POST', '/v2/account/authenticate/device', { auth: serverKeyAuth, body: { id: d.deviceId } });
    const stranger = await newDevice(s.url);
    assert.equal((await logout(d.token, { token: second.body.token, refresh_token: second.body.refresh_token })).status, 200);
    assertError(await account(second.body.token), 401, 16);
    assertError(await refresh(second.body.refresh_token), 401, 16);
    // The caller's own session ended too; a third session names the stranger's tokens.
    assertError(await account(d.token), 401, 16);
    const third = await http(s.url, 'POST', '/v2/account/authenticate/device', { auth: serverKeyAuth, body: { id: d.deviceId } });
    assert.equal((await logout(third.body.token, { token: stranger.token, refresh_token: stranger.refreshToken })).status, 200);
    assertError(await account(third.body.token), 401, 16);
    assert.equal((await account(stranger.token)).status, 200, 'another user’s session survives');
    assert.equal((await refresh(stranger.refreshToken)).status, 200);
  });

  test('with an empty body ends every session of the user, and a new login right after works', async () => {
    const d = await newDevice(s.url);
    const second = await http(s.url, 'POST', '/v2/account/authenticate/device', { auth: serverKeyAuth, body: { id: d.deviceId } });
    assert.equal((await logout(d.token, {})).status, 200);
    assertError(await account(d.token), 401, 16);
    assertError(await account(second.body.token), 401, 16);
    assertError(await refresh(second.body.refresh_token), 401, 16);
    // Logging in again immediately (usually within the same second) gives a working session.
    const again = await http(s.url, 'POST', '/v2/account/authenticate/device', { auth: serverKeyAuth, body: { id: d.deviceId } });
    assert.equal(again.status, 200);
    assert.equal((await account(again.body.token)).status, 200);
    assert.equal((await refresh(again.body.refresh_token)).status, 200);
  });

  test('needs a session token', async () => {
    const d = await newDevice(s.url);
    assertError(await http(s.url, 'POST', '/v2/session/logout', { body: { token: d.token } }), 401, 16);
    assertError(await http(s.url, 'POST', '/v2/session/logout', { auth: serverKeyAuth, body: { token: d.token } }), 401, 16);
    assertError(await logout(d.refreshToken, {}), 401, 16);
    assert.equal((await account(d.token)).status, 200);
  });
});
