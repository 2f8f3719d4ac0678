/**
 * A database outage: while PostgreSQL is down requests answer 503 code 14 (never 500, never a
 * crash), and when it comes back the same process serves them again with its data intact.
 * PostgreSQL only (test/run.ts skips it on PGlite): it stops and starts a private cluster.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDatabase, startPostgres, type PgCluster } from '../support/postgres.js';
import { http, newDevice, serverKeyAuth, startTestServer, type TestServer } from '../support/server.js';

let cluster: PgCluster;
let s: TestServer;
before(async () => {
  cluster = await startPostgres();
  const databaseUrl = await createDatabase(cluster.url(), 'outage');
  s = await startTestServer({}, { db: 'postgres', databaseUrl });
});
after(async () => {
  await s?.stop();
  await cluster?.stop();
});

function assertUnavailable(res: { status: number; body: any }, what: string) {
  assert.equal(res.status, 503, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.code, 14, what);
  assert.equal(typeof res.body.message, 'string', what);
}

test('503 code 14 while the database is down, served again once it is back', async () => {
  const device = await newDevice(s.url, 'outage-device-0001');
  assert.equal((await http(s.url, 'GET', '/v2/account', { auth: device.bearer })).status, 200);

  let uncaught: unknown;
  const onUncaught = (err: unknown) => (uncaught = err);
  process.on('uncaughtException', onUncaught);
  try {
    await cluster.stopKeepingData();

    const calls = {
      'device auth': () =>
        http(s.url, 'POST', '/v2/account/authenticate/device?create=true', { auth: serverKeyAuth, body: { id: 'outage-device-0002' } }),
      'get account': () => http(s.url, 'GET', '/v2/account', { auth: device.bearer }),
      healthcheck: () => http(s.url, 'GET', '/healthcheck'),
    };
    // Twice each: the first request meets the pool's dead connections, the second a refused connect.
    for (let round = 0; round < 2; round++) {
      for (const [what, call] of Object.entries(calls)) assertUnavailable(await call(), `${what} (round ${round + 1})`);
    }
    // Concurrent requests during the outage do not take the process down either.
    const burst = await Promise.all(Array.from({ length: 10 }, () => calls['get account']()));
    for (const res of burst) assertUnavailable(res, 'concurrent get account');
    // Requests that never touch the database are still served.
    const unauth = await http(s.url, 'GET', '/v2/account');
    assert.equal(unauth.status, 401);
    assert.equal((await fetch(`${s.url}/metrics`)).status, 200);

    await cluster.start();

    // The pool reconnects on its own: bounded wait, no restart.
    const deadline = Date.now() + 15_000;
    let last: { status: number; body: any } | undefined;
    for (;;) {
      last = await calls.healthcheck();
      if (last.status === 200) break;
      assert.ok(Date.now() < deadline, `not served again 15 s after the database came back: ${last.status} ${JSON.stringify(last.body)}`);
      assert.equal(last.status, 503, `while recovering: ${JSON.stringify(last.body)}`);
      await new Promise((r) => setTimeout(r, 250));
    }

    // The earlier account is still there, reached by its token and by its device.
    const account = await calls['get account']();
    assert.equal(account.status, 200, JSON.stringify(account.body));
    assert.equal(account.body.devices[0].id, device.deviceId);
    const again = await http(s.url, 'POST', '/v2/account/authenticate/device?create=false', {
      auth: serverKeyAuth,
      body: { id: device.deviceId },
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.ok(!again.body.created);
    // And new accounts can be created again.
    assert.equal((await calls['device auth']()).status, 200);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
  assert.equal(uncaught, undefined, `uncaught exception during the outage: ${String(uncaught)}`);
  // The server logged the outage as ours, not the client's.
  assert.ok(
    s.logs.some((l) => l.level === 40 && typeof l.msg === 'string' && /unavailable/i.test(l.msg)),
    'the outage is logged at warn',
  );
});
