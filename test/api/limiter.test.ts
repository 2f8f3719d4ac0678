/**
 * The failed-login limiter (src/auth/login-limiter.ts) through the real server: an account locks
 * after `loginMaxFailuresPerAccount` wrong passwords, an IP after `loginMaxFailuresPerIp` failures
 * across accounts, and a refused attempt computes no argon2 hash (seen in `/metrics`).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { http, serverKeyAuth, startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
before(async () => {
  // Default limits (5 per account, 10 per IP); X-Forwarded-For names the client so one test
  // process can act from many addresses.
  s = await startTestServer({ trustProxy: 'true' });
  assert.equal(s.config.loginMaxFailuresPerAccount, 5);
  assert.equal(s.config.loginMaxFailuresPerIp, 10);
});
after(async () => {
  await s?.stop();
});

const PASSWORD = 'correct-horse-battery';
let seq = 0;
const newEmail = (tag: string) => `${tag}-${process.pid}-${++seq}@example.com`;

function login(ip: string, email: string, password: string, create = false) {
  return http(s.url, 'POST', `/v2/account/authenticate/email?create=${create}`, {
    auth: serverKeyAuth,
    body: { email, password },
    headers: { 'x-forwarded-for': ip },
  });
}

async function createAccount(ip: string, tag: string): Promise<string> {
  const email = newEmail(tag);
  const res = await login(ip, email, PASSWORD, true);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.created, true);
  return email;
}

/** The value of `tavern_password_hashes_total` in GET /metrics. */
async function hashes(): Promise<number> {
  const res = await fetch(`${s.url}/metrics`);
  assert.equal(res.status, 200);
  const m = /^tavern_password_hashes_total (\d+(?:\.\d+)?)$/m.exec(await res.text());
  assert.ok(m, 'tavern_password_hashes_total missing from /metrics');
  return Number(m[1]);
}

function assertExhausted(res: { status: number; body: any }) {
  assert.equal(res.status, 429, JSON.stringify(res.body));
  assert.equal(res.body.code, 8);
  assert.equal(typeof res.body.message, 'string');
  assert.equal(res.body.error, res.body.message);
}

test('an account locks after too many wrong passwords, without hashing, while others log in', async () => {
  const ip = '10.0.1.1';
  const victim = await createAccount(ip, 'victim');
  const bystander = await createAccount(ip, 'bystander');
  const limit = s.config.loginMaxFailuresPerAccount;

  for (let i = 0; i < limit; i++) {
    const before = await hashes();
    const res = await login(ip, victim, `wrong-password-${i}`);
    assert.equal(res.status, 401, `attempt ${i + 1}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, 16);
    assert.equal(await hashes(), before + 1, 'a wrong password is checked with one hash');
  }

  const beforeRefusal = await hashes();
  assertExhausted(await login(ip, victim, 'wrong-password-again'));
  assert.equal(await hashes(), beforeRefusal, 'a refused attempt must not compute a hash');

  // Locked means locked: the right password, and the account from another address, are refused too.
  assertExhausted(await login(ip, victim, PASSWORD));
  assertExhausted(await login('10.0.1.2', victim, PASSWORD));
  assert.equal(await hashes(), beforeRefusal);

  // Another account, from the same address, is not affected.
  const ok = await login(ip, bystander, PASSWORD);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(typeof ok.body.token, 'string');
  assert.ok(!ok.body.created);
});

test('a successful login clears the account count', async () => {
  const ip = '10.0.2.1';
  const email = await createAccount(ip, 'forgetful');
  const limit = s.config.loginMaxFailuresPerAccount;
  for (let i = 0; i < limit - 1; i++) assert.equal((await login(ip, email, 'nope-nope-nope')).status, 401);
  assert.equal((await login(ip, email, PASSWORD)).status, 200);
  // The slate is clean: another limit - 1 failures still leave the account open.
  for (let i = 0; i < limit - 1; i++) assert.equal((await login(ip, email, 'nope-nope-nope')).status, 401);
  assert.equal((await login(ip, email, PASSWORD)).status, 200);
});

test('an IP locks after too many failures across accounts, other IPs still log in', async () => {
  const attacker = '10.0.3.66';
  const other = '10.0.3.7';
  const perAccount = s.config.loginMaxFailuresPerAccount;
  const perIp = s.config.loginMaxFailuresPerIp;
  // Accounts created from another address: creating counts nothing against the attacker's IP.
  const accounts = [await createAccount(other, 'spray'), await createAccount(other, 'spray'), await createAccount(other, 'spray')];

  // Spread the failures so that no single account reaches its own limit.
  let failures = 0;
  const perTarget = new Map<string, number>();
  while (failures < perIp - 1) {
    const email = accounts[failures % accounts.length]!;
    const res = await login(attacker, email, `spray-${failures}-xx`);
    assert.equal(res.status, 401, `failure ${failures + 1}: ${JSON.stringify(res.body)}`);
    perTarget.set(email, (perTarget.get(email) ?? 0) + 1);
    failures++;
  }
  // Unknown accounts count against the IP too (404 with create=false).
  const unknown = await login(attacker, newEmail('nobody'), 'whatever-password');
  assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
  assert.equal(unknown.body.code, 5);
  failures++;
  assert.equal(failures, perIp);
  for (const n of perTarget.values()) assert.ok(n < perAccount, 'no account reached its own limit');

  const beforeRefusal = await hashes();
  // Locked out, even with a right password and even for an account it never tried.
  assertExhausted(await login(attacker, accounts[0]!, PASSWORD));
  assertExhausted(await login(attacker, await createAccount(other, 'fresh'), PASSWORD));
  const hashesAfterCreate = await hashes();
  assertExhausted(await login(attacker, accounts[1]!, 'spray-again-xx'));
  assert.equal(await hashes(), hashesAfterCreate, 'a refused attempt must not compute a hash');
  assert.equal(hashesAfterCreate, beforeRefusal + 1, 'only the account creation hashed');

  // The same accounts log in fine from another address: the lock is the IP's, not theirs.
  for (const email of accounts) {
    const res = await login(other, email, PASSWORD);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
});
