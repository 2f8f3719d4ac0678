/**
 * The per-IP HTTP request limit (src/api/app.ts): a small limit, addresses told apart by
 * X-Forwarded-For behind a trusted proxy. Its own file because it needs its own server.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { http, serverKeyAuth, startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
before(async () => {
  s = await startTestServer({ rateLimitPerIp: 5, rateLimitWindowSec: 60, trustProxy: 'true' });
});
after(async () => {
  await s?.stop();
});

const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });

test('the request after the limit is refused with 429 code 8; other IPs are still served', async () => {
  const ip = '192.0.2.10';
  for (let i = 0; i < 5; i++) {
    const res = await http(s.url, 'GET', '/healthcheck', from(ip));
    assert.equal(res.status, 200, `request ${i + 1}: ${JSON.stringify(res.body)}`);
  }
  const refused = await http(s.url, 'GET', '/healthcheck', from(ip));
  assert.equal(refused.status, 429);
  assert.deepEqual(Object.keys(refused.body).sort(), ['code', 'error', 'message']);
  assert.equal(refused.body.code, 8);
  assert.equal(refused.body.error, refused.body.message);
  assert.ok(refused.body.message.length > 0);
  assert.equal(refused.headers.get('retry-after'), '60');

  // Every kind of request counts, authenticated ones included: the limit stands before auth.
  const auth = await http(s.url, 'POST', '/v2/account/authenticate/device?create=true', {
    auth: serverKeyAuth,
    body: { id: 'rate-limited-device-1' },
    ...from(ip),
  });
  assert.equal(auth.status, 429);
  assert.equal(auth.body.code, 8);

  const other = await http(s.url, 'POST', '/v2/account/authenticate/device?create=true', {
    auth: serverKeyAuth,
    body: { id: 'rate-limited-device-2' },
    ...from('192.0.2.11'),
  });
  assert.equal(other.status, 200, JSON.stringify(other.body));
  assert.equal(typeof other.body.token, 'string');
  assert.equal((await http(s.url, 'GET', '/healthcheck', from('192.0.2.12'))).status, 200);
});

test('behind a trusted proxy the leftmost X-Forwarded-For address names the client', async () => {
  // A chain "client, proxy": Express with trust proxy = true takes the leftmost address.
  const ip = '198.51.100.1';
  for (let i = 0; i < 5; i++) {
    assert.equal((await http(s.url, 'GET', '/healthcheck', { headers: { 'x-forwarded-for': `${ip}, 10.9.9.${i}` } })).status, 200);
  }
  assert.equal((await http(s.url, 'GET', '/healthcheck', from(ip))).status, 429);
});
