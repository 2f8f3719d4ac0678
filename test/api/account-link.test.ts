/** Linking and unlinking device, custom and email identities over real HTTP (Nakama's core_link / core_unlink). */
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

const LAST_LINK = 'Cannot unlink last account identifier. Check profile exists and is not last link.';
const call = (bearer: string, path: string, body: unknown) => http(s.url, 'POST', `/v2/account/${path}`, { auth: bearer, body });
const account = async (bearer: string) => {
  const res = await http(s.url, 'GET', '/v2/account', { auth: bearer });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
};
const devices = async (bearer: string): Promise<string[]> =>
  ((await account(bearer)).devices ?? []).map((d: { id: string }) => d.id).sort();
const authenticate = (kind: string, body: unknown, query = '') =>
  http(s.url, 'POST', `/v2/account/authenticate/${kind}${query}`, { auth: serverKeyAuth, body });

describe('device', () => {
  test('link, log in with the linked device, unlink', async () => {
    const d = await newDevice(s.url);
    const second = uniq('device-');
    const linked = await call(d.bearer, 'link/device', { id: second });
    assert.equal(linked.status, 200);
    assert.deepEqual(linked.body, {});
    assert.deepEqual(await devices(d.bearer), [d.deviceId, second].sort());

    const login = await authenticate('device', { id: second }, '?create=false');
    assert.equal(login.status, 200);
    assert.equal(decodeJwt(login.body.token).uid, decodeJwt(d.token).uid);

    // Linking one's own device again is a no-op.
    assert.equal((await call(d.bearer, 'link/device', { id: second })).status, 200);
    assert.deepEqual(await devices(d.bearer), [d.deviceId, second].sort());

    const unlinked = await call(d.bearer, 'unlink/device', { id: second });
    assert.equal(unlinked.status, 200);
    assert.deepEqual(unlinked.body, {});
    assert.deepEqual(await devices(d.bearer), [d.deviceId]);
    assertError(await authenticate('device', { id: second }, '?create=false'), 404, 5);
  });

  test('a device linked to another account is 409 code 6 and stays with its owner', async () => {
    const owner = await newDevice(s.url);
    const other = await newDevice(s.url);
    assertError(await call(other.bearer, 'link/device', { id: owner.deviceId }), 409, 6);
    assert.deepEqual(await devices(owner.bearer), [owner.deviceId]);
    assert.deepEqual(await devices(other.bearer), [other.deviceId]);
    // Nor can it be unlinked by someone else.
    assertError(await call(other.bearer, 'unlink/device', { id: owner.deviceId }), 403, 7, LAST_LINK);
    assert.deepEqual(await devices(owner.bearer), [owner.deviceId]);
  });

  test('unlinking the last identity is 403 code 7 with Nakama’s message', async () => {
    const d = await newDevice(s.url);
    assertError(await call(d.bearer, 'unlink/device', { id: d.deviceId }), 403, 7, LAST_LINK);
    assert.deepEqual(await devices(d.bearer), [d.deviceId]);
    // Unlinking a device the account does not have answers the same.
    assertError(await call(d.bearer, 'unlink/device', { id: uniq('device-') }), 403, 7, LAST_LINK);
  });

  test('two concurrent unlinks of an account’s last two devices: exactly one succeeds', async () => {
    for (let round = 0; round < 3; round++) {
      const d = await newDevice(s.url);
      const second = uniq('device-');
      assert.equal((await call(d.bearer, 'link/device', { id: second })).status, 200);
      const results = await Promise.all([
        call(d.bearer, 'unlink/device', { id: d.deviceId }),
        call(d.bearer, 'unlink/device', { id: second }),
      ]);
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 403], JSON.stringify(results.map((r) => r.body)));
      assertError(
        results.find((r) => r.status === 403)!,
        403,
        7,
        LAST_LINK,
      );
      assert.equal((await devices(d.bearer)).length, 1, 'one device remains');
    }
  });

  test('a device may go once another identity remains', async () => {
    const d = await newDevice(s.url);
    assert.equal((await call(d.bearer, 'link/custom', { id: uniq('custom-') })).status, 200);
    assert.equal((await call(d.bearer, 'unlink/device', { id: d.deviceId })).status, 200);
    const a = await account(d.bearer);
    assert.equal(a.devices, undefined, 'no devices: the field is omitted');
    assert.equal(typeof a.custom_id, 'string');
  });

  test('device id limits apply to link and unlink', async () => {
    const d = await newDevice(s.url);
    assertError(await call(d.bearer, 'link/device', { id: 'short' }), 400, 3);
    assertError(await call(d.bearer, 'link/device', { id: 'x'.repeat(129) }), 400, 3);
    assertError(await call(d.bearer, 'link/device', {}), 400, 3);
    assertError(await call(d.bearer, 'unlink/device', { id: 123 }), 400, 3);
  });
});

describe('custom', () => {
  test('link, log in with it, conflict with another account, unlink', async () => {
    const d = await newDevice(s.url);
    const id = uniq('custom-');
    assert.equal((await call(d.bearer, 'link/custom', { id })).status, 200);
    assert.equal((await account(d.bearer)).custom_id, id);
    const login = await authenticate('custom', { id }, '?create=false');
    assert.equal(decodeJwt(login.body.token).uid, decodeJwt(d.token).uid);

    const other = await newDevice(s.url);
    assertError(await call(other.bearer, 'link/custom', { id }), 409, 6);
    assert.equal((await account(other.bearer)).custom_id, undefined);

    // Linking a new custom id replaces the old one.
    const replacement = uniq('custom-');
    assert.equal((await call(d.bearer, 'link/custom', { id: replacement })).status, 200);
    assert.equal((await account(d.bearer)).custom_id, replacement);
    assertError(await authenticate('custom', { id }, '?create=false'), 404, 5);

    assertError(await call(d.bearer, 'unlink/custom', { id }), 403, 7, LAST_LINK);
    assert.equal((await call(d.bearer, 'unlink/custom', { id: replacement })).status, 200);
    assert.equal((await account(d.bearer)).custom_id, undefined);
  });

  test('the last identity being a custom id cannot be unlinked', async () => {
    const id = uniq('custom-');
    const res = await authenticate('custom', { id });
    assert.equal(res.status, 200);
    assertError(await call(`Bearer ${res.body.token}`, 'unlink/custom', { id }), 403, 7, LAST_LINK);
    assert.equal((await account(`Bearer ${res.body.token}`)).custom_id, id);
  });
});

describe('email', () => {
  test('link, log in with it, unlink; the email is stored lowercased', async () => {
    const d = await newDevice(s.url);
    const local = uniq('Link');
    const email = `${local}@Example.com`;
    assert.equal((await call(d.bearer, 'link/email', { email, password: 'linked-password' })).status, 200);
    assert.equal((await account(d.bearer)).email, `${local.toLowerCase()}@example.com`);
    const login = await authenticate('email', { email: email.toLowerCase(), password: 'linked-password' }, '?create=false');
    assert.equal(login.status, 200);
    assert.equal(decodeJwt(login.body.token).uid, decodeJwt(d.token).uid);

    assert.equal((await call(d.bearer, 'unlink/email', { email })).status, 200);
    assert.equal((await account(d.bearer)).email, undefined);
    assertError(await authenticate('email', { email, password: 'linked-password' }, '?create=false'), 404, 5);
  });

  test('an email used by another account is 409 code 6; bad input is 400 code 3', async () => {
    const email = `${uniq('dup')}@example.com`;
    const first = await newDevice(s.url);
    assert.equal((await call(first.bearer, 'link/email', { email, password: 'first-password' })).status, 200);
    const second = await newDevice(s.url);
    assertError(await call(second.bearer, 'link/email', { email, password: 'second-password' }), 409, 6);
    assert.equal((await account(second.bearer)).email, undefined);
    // The first account's password still decides.
    assert.equal((await authenticate('email', { email, password: 'first-password' }, '?create=false')).status, 200);

    assertError(await call(second.bearer, 'link/email', { email: `${uniq()}@example.com`, password: 'short' }), 400, 3);
    assertError(await call(second.bearer, 'link/email', { email: 'nope', password: 'long-enough' }), 400, 3);
  });

  test('the last identity being an email cannot be unlinked', async () => {
    const email = `${uniq('last')}@example.com`;
    const res = await authenticate('email', { email, password: 'password-123' });
    assert.equal(res.status, 200);
    const bearer = `Bearer ${res.body.token}`;
    assertError(await call(bearer, 'unlink/email', { email }), 403, 7, LAST_LINK);
    assert.equal((await account(bearer)).email, email);
  });
});

test('link and unlink need a session token', async () => {
  for (const path of ['link/device', 'link/custom', 'link/email', 'unlink/device', 'unlink/custom', 'unlink/email']) {
    assertError(await http(s.url, 'POST', `/v2/account/${path}`, { body: { id: uniq('device-') } }), 401, 16);
    assertError(await http(s.url, 'POST', `/v2/account/${path}`, { auth: serverKeyAuth, body: { id: uniq('device-') } }), 401, 16);
  }
});
