/**
 * Compatibility with the real `@heroiclabs/nakama-js` client, unmodified: Node 24's global `fetch`
 * and `atob` are all it needs. With the default 60 s session lifetime the client refreshes the
 * session before every call (its threshold is 5 minutes), so these tests also drive refresh-token
 * rotation through the client's own bookkeeping.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, Session } from '@heroiclabs/nakama-js';
import { startTestServer, type TestServer } from '../support/server.js';
import { decodeJwt, uniq } from '../support/wire.js';

let s: TestServer;
/** A client as a game would build it (auto refresh on). */
let client: Client;
/** The same without auto refresh, to see exactly what a given token is allowed. */
let strict: Client;
let warn: typeof console.warn;

before(async () => {
  s = await startTestServer();
  client = new Client('defaultkey', '127.0.0.1', String(s.port), false);
  strict = new Client('defaultkey', '127.0.0.1', String(s.port), false, 7000, false);
  // nakama-js warns on every refresh that the (Nakama default) 60 s session lifetime is short.
  warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('Session')) return;
    warn(...args);
  };
});
after(async () => {
  console.warn = warn;
  await s?.stop();
});

/** What nakama-js rejects with on an HTTP error: the fetch Response itself. */
async function rejection(p: Promise<unknown>): Promise<{ status: number; body: any }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Response, `expected a Response, got ${String(err)}`);
    return { status: err.status, body: await err.json() };
  }
  assert.fail('expected the call to be rejected');
}

describe('authenticate', () => {
  test('authenticateDevice creates, then logs in; the Session decodes our token', async () => {
    const id = uniq('njs-device-');
    const username = uniq('njs_');
    const session = await client.authenticateDevice(id, true, username, { platform: 'node' });
    assert.ok(session instanceof Session);
    assert.equal(session.created, true);
    assert.equal(session.username, username);
    assert.equal(session.user_id, decodeJwt(session.token).uid);
    assert.deepEqual(session.vars, { platform: 'node' });
    const claims = decodeJwt(session.token);
    assert.equal(session.expires_at, claims.exp);
    assert.equal(session.refresh_expires_at, decodeJwt(session.refresh_token).exp);
    assert.equal(claims.exp - claims.iat, 60);
    assert.equal(session.isexpired(Date.now() / 1000), false);

    const again = await client.authenticateDevice(id, false);
    assert.equal(again.created, false);
    assert.equal(again.user_id, session.user_id);
    assert.equal(again.username, username);
  });

  test('usernames and vars with non-ASCII, ?, ~ and > decode in the client’s Session', async () => {
    // nakama-js decodes the JWT payload with atob after stripping base64url's - and _, as Latin-1.
    for (const [username, vars] of [
      [uniq('ñandú~?'), { q: 'why?~>', url: 'https://x.example/?a=1&b=~2' }],
      [uniq('über_'), { k: 'çava 🎲' }],
      [uniq('abc'), { k: '???~~~>>>' }],
    ] as const) {
      const session = await client.authenticateDevice(uniq('njs-device-'), true, username, { ...vars });
      assert.equal(session.username, username);
      assert.deepEqual(session.vars, vars);
      await client.sessionRefresh(session, { ...vars, again: '¿?' });
      assert.equal(session.username, username);
      assert.deepEqual(session.vars, { ...vars, again: '¿?' });
    }
  });

  test('authenticateEmail and authenticateCustom', async () => {
    const email = `${uniq('NJS')}@Example.com`;
    const byEmail = await client.authenticateEmail(email, 'njs-password', true);
    assert.equal(byEmail.created, true);
    const account = await client.getAccount(byEmail);
    assert.equal(account.email, email.toLowerCase());
    const emailAgain = await client.authenticateEmail(email.toLowerCase(), 'njs-password', false);
    assert.equal(emailAgain.user_id, byEmail.user_id);
    assert.equal(emailAgain.created, false);

    const customId = uniq('njs-custom-');
    const byCustom = await client.authenticateCustom(customId, true, uniq('njsc_'), { k: 'v' });
    assert.equal(byCustom.created, true);
    assert.deepEqual(byCustom.vars, { k: 'v' });
    assert.equal((await client.getAccount(byCustom)).custom_id, customId);
    assert.equal((await client.authenticateCustom(customId, false)).user_id, byCustom.user_id);
  });

  test('errors reach the client as Nakama’s status and body', async () => {
    const missing = await rejection(client.authenticateDevice(uniq('njs-missing-'), false));
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 5);
    const wrong = await rejection(client.authenticateEmail(`${uniq('njs')}@example.com`, 'short', true));
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.code, 3);
    const badKey = new Client('wrongkey', '127.0.0.1', String(s.port), false);
    const refused = await rejection(badKey.authenticateDevice(uniq('njs-device-'), true));
    assert.equal(refused.status, 401);
    assert.equal(refused.body.code, 16);
  });
});

describe('session', () => {
  test('sessionRefresh updates the Session in place with a new pair', async () => {
    const session = await client.authenticateDevice(uniq('njs-device-'), true, undefined, { a: '1' });
    const { token, refresh_token } = session;
    const same = await client.sessionRefresh(session, { b: '2' });
    assert.equal(same, session);
    assert.notEqual(session.token, token);
    assert.notEqual(session.refresh_token, refresh_token);
    assert.deepEqual(session.vars, { b: '2' });
    assert.equal(decodeJwt(session.token).uid, session.user_id);
    // The old refresh token is spent.
    const stale = Session.restore(token, refresh_token);
    const spent = await rejection(client.sessionRefresh(stale));
    assert.equal(spent.status, 401);
    // Many calls in a row, each preceded by an automatic refresh, keep working.
    for (let i = 0; i < 5; i++) assert.equal((await client.getAccount(session)).user?.id, session.user_id);
  });

  test('sessionLogout: afterwards getAccount is rejected, with or without auto refresh', async () => {
    const session = await strict.authenticateDevice(uniq('njs-device-'), true);
    assert.equal((await strict.getAccount(session)).user?.id, session.user_id);
    assert.equal(await strict.sessionLogout(session, session.token, session.refresh_token), true);
    const rejected = await rejection(strict.getAccount(session));
    assert.equal(rejected.status, 401);
    assert.equal(rejected.body.code, 16);
    // The auto-refreshing client tries the refresh token first, which was revoked too.
    assert.equal((await rejection(client.getAccount(Session.restore(session.token, session.refresh_token)))).status, 401);
    assert.equal((await rejection(strict.sessionRefresh(session))).status, 401);
  });

  test('sessionLogout through the auto-refreshing client', async () => {
    const session = await client.authenticateDevice(uniq('njs-device-'), true);
    assert.equal(await client.sessionLogout(session, session.token, session.refresh_token), true);
    assert.equal((await rejection(client.getAccount(session))).status, 401);
  });
});

describe('account', () => {
  test('getAccount returns what the client types describe', async () => {
    const id = uniq('njs-device-');
    const session = await client.authenticateDevice(id, true);
    const account = await client.getAccount(session);
    assert.equal(account.user?.id, session.user_id);
    assert.equal(account.user?.username, session.username);
    assert.deepEqual(account.devices, [{ id }]);
    assert.equal(account.wallet, '{}');
    assert.deepEqual(JSON.parse(account.user!.metadata as unknown as string), {});
    assert.equal(Number.isNaN(Date.parse(account.user!.create_time!)), false);
  });

  test('updateAccount changes the profile', async () => {
    const session = await client.authenticateDevice(uniq('njs-device-'), true);
    const username = uniq('njsu_');
    const ok = await client.updateAccount(session, {
      username,
      display_name: 'Nakama JS',
      avatar_url: 'https://example.com/njs.png',
      lang_tag: 'de',
      location: 'Berlin',
      timezone: 'Europe/Berlin',
    });
    assert.equal(ok, true);
    const user = (await client.getAccount(session)).user!;
    assert.equal(user.username, username);
    assert.equal(user.display_name, 'Nakama JS');
    assert.equal(user.avatar_url, 'https://example.com/njs.png');
    assert.equal(user.lang_tag, 'de');
    assert.equal(user.location, 'Berlin');
    assert.equal(user.timezone, 'Europe/Berlin');
    // The auto refresh before that getAccount picked up the new username.
    assert.equal(session.username, username);

    const other = await client.authenticateDevice(uniq('njs-device-'), true);
    const taken = await rejection(client.updateAccount(other, { username }));
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 6);
  });

  test('linkDevice, unlinkDevice and linkCustom', async () => {
    const first = uniq('njs-device-');
    const session = await client.authenticateDevice(first, true);
    const second = uniq('njs-device-');
    assert.equal(await client.linkDevice(session, { id: second }), true);
    assert.deepEqual((await client.getAccount(session)).devices?.map((d) => d.id).sort(), [first, second].sort());
    assert.equal((await client.authenticateDevice(second, false)).user_id, session.user_id);

    assert.equal(await client.unlinkDevice(session, { id: first }), true);
    assert.deepEqual((await client.getAccount(session)).devices, [{ id: second }]);
    const last = await rejection(client.unlinkDevice(session, { id: second }));
    assert.equal(last.status, 403);
    assert.equal(last.body.message, 'Cannot unlink last account identifier. Check profile exists and is not last link.');

    const customId = uniq('njs-custom-');
    assert.equal(await client.linkCustom(session, { id: customId }), true);
    assert.equal((await client.getAccount(session)).custom_id, customId);
    assert.equal((await client.authenticateCustom(customId, false)).user_id, session.user_id);

    const stranger = await client.authenticateDevice(uniq('njs-device-'), true);
    assert.equal((await rejection(client.linkDevice(stranger, { id: second }))).status, 409);
  });

  test('getUsers by ids and usernames', async () => {
    const a = await client.authenticateDevice(uniq('njs-device-'), true, uniq('njsa_'));
    const b = await client.authenticateDevice(uniq('njs-device-'), true, uniq('njsb_'));
    await client.updateAccount(b, { display_name: 'Bee' });
    const result = await client.getUsers(a, [a.user_id!], [b.username!]);
    const users = [...result.users!].sort((x, y) => x.id!.localeCompare(y.id!));
    assert.deepEqual(
      users.map((u) => u.id),
      [a.user_id, b.user_id].sort(),
    );
    const bee = users.find((u) => u.id === b.user_id)!;
    assert.equal(bee.username, b.username);
    assert.equal(bee.display_name, 'Bee');
    assert.deepEqual(bee.metadata, {}, 'the client parsed the metadata JSON string');
    assert.equal(bee.edge_count, 0);
    assert.deepEqual((await client.getUsers(a, [], [uniq('njs_nobody_')])).users, []);
  });

  test('deleteAccount', async () => {
    const id = uniq('njs-device-');
    const session = await strict.authenticateDevice(id, true);
    assert.equal(await strict.deleteAccount(session), true);
    assert.equal((await rejection(strict.getAccount(session))).status, 401);
    const fresh = await strict.authenticateDevice(id, true);
    assert.equal(fresh.created, true);
    assert.notEqual(fresh.user_id, session.user_id);
  });
});
