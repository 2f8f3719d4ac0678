import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { http, newDevice, serverKeyAuth, startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
});

test('device auth then get account', async () => {
  const d = await newDevice(s.url);
  const acct = await http(s.url, 'GET', '/v2/account', { auth: d.bearer });
  assert.equal(acct.status, 200);
  assert.equal(acct.body.devices[0].id, d.deviceId);
  const bad = await http(s.url, 'POST', '/v2/account/authenticate/device', { body: { id: 'abcdefghijk' } });
  assert.equal(bad.status, 401);
  assert.equal(bad.body.code, 16);
  const short = await http(s.url, 'POST', '/v2/account/authenticate/device', { auth: serverKeyAuth, body: { id: 'short' } });
  assert.equal(short.status, 400);
  assert.equal(short.body.code, 3);
});
