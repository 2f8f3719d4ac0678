/**
 * Malformed input never gives a 500: every endpoint, every kind of bad body or query, answers a
 * client error with Nakama's `{error, code, message}` body (and the status its code maps to).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { http, newDevice, serverKeyAuth, startTestServer, type TestServer } from '../support/server.js';
import { assertErrorShape } from '../support/wire.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
});

type Auth = 'server_key' | 'session' | 'none';
interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  auth: Auth;
  /** Whether the endpoint reads a JSON object body (so a non-object body must be refused). */
  body: boolean;
}

const ROUTES: Route[] = [
  { method: 'POST', path: '/v2/account/authenticate/device', auth: 'server_key', body: true },
  { method: 'POST', path: '/v2/account/authenticate/custom', auth: 'server_key', body: true },
  { method: 'POST', path: '/v2/account/authenticate/email', auth: 'server_key', body: true },
  { method: 'POST', path: '/v2/account/session/refresh', auth: 'server_key', body: true },
  { method: 'POST', path: '/v2/session/logout', auth: 'session', body: true },
  { method: 'GET', path: '/v2/account', auth: 'session', body: false },
  { method: 'PUT', path: '/v2/account', auth: 'session', body: true },
  { method: 'POST', path: '/v2/account/link/device', auth: 'session', body: true },
  { method: 'POST', path: '/v2/account/link/custom', auth: 'session', body: true },
  { method: 'POST', path: '/v2/account/link/email', auth: 'session', body: true },
  { method: 'POST', path: '/v2/account/unlink/device', auth: 'session', body: true },
  { method: 'POST', path: '/v2/account/unlink/custom', auth: 'session', body: true },
  { method: 'POST', path: '/v2/account/unlink/email', auth: 'session', body: true },
  { method: 'GET', path: '/v2/user', auth: 'session', body: false },
  { method: 'GET', path: '/healthcheck', auth: 'none', body: false },
  { method: 'DELETE', path: '/v2/account', auth: 'session', body: false },
];

const NUL = 'abcdefghij\u0000klmnop';
const huge = 'x'.repeat(200 * 1024);

/** Bodies that are not objects: refused with 400 wherever a body is read. */
const NOT_OBJECTS: [string, string][] = [
  ['array', '[]'],
  ['array of objects', '[{"id":"abcdefghijklmnop"}]'],
  ['number', '42'],
  ['negative float', '-1.5e308'],
  ['string', '"abcdefghijklmnop"'],
  ['boolean', 'true'],
  ['invalid JSON', '{"id":'],
  ['single quotes', "{'id':'abcdefghijklmnop'}"],
  ['form encoding', 'id=abcdefghijklmnop'],
  ['body over 256 KiB', JSON.stringify({ id: 'y'.repeat(300 * 1024) })],
];

/** Objects with wrong types, wrong sizes and hostile strings in every field some endpoint reads. */
const BAD_FIELDS: [string, unknown][] = [
  [
    'null fields',
    { id: null, email: null, password: null, token: null, refresh_token: null, username: null, display_name: null, vars: null },
  ],
  [
    'number fields',
    { id: 1234567890123, email: 5, password: 12345678, token: 1, refresh_token: 2, username: 3, display_name: 4, lang_tag: 5 },
  ],
  ['array fields', { id: ['abcdefghijklmnop'], email: [], password: [], token: [], username: ['a'], avatar_url: [], vars: [] }],
  ['object fields', { id: { a: 1 }, email: {}, password: {}, token: {}, refresh_token: {}, location: {}, timezone: {} }],
  [
    'vars of the wrong type',
    { id: 'abcdefghijklmnop', email: 'someone@example.com', password: 'password1', token: 'x', vars: { a: 1, b: null } },
  ],
  ['too many vars', { id: 'abcdefghijklmnop', vars: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v'])) }],
  [
    'huge strings',
    {
      id: huge,
      email: `${huge}@example.com`,
      password: huge,
      token: huge,
      refresh_token: huge,
      username: huge,
      display_name: huge,
      avatar_url: huge,
      lang_tag: huge,
      location: huge,
      timezone: huge,
    },
  ],
  [
    'NUL bytes',
    {
      id: NUL,
      email: `a\u0000bcdefgh@example.com`,
      password: 'pass\u0000word',
      username: 'nul\u0000name',
      display_name: NUL,
      avatar_url: NUL,
      lang_tag: 'e\u0000n',
      location: NUL,
      timezone: NUL,
    },
  ],
  ['control characters', { id: 'abcdefghij\u0007\u001b[2J', username: 'bell\u0007', display_name: 'line\nbreak\u0008' }],
  [
    'lone surrogates',
    {
      id: 'abcdefghij\ud800klm',
      username: 'sur\udc00rogate',
      display_name: '\ud83d',
      email: 'x\ud800yyyyyy@example.com',
      password: 'pass\udfffword',
    },
  ],
  ['prototype keys', JSON.parse('{"__proto__":{"id":"abcdefghijklmnop","admin":true},"constructor":{"prototype":{"x":1}}}')],
  ['empty strings', { id: '', email: '', password: '', token: '', refresh_token: '', username: '' }],
];

/** Query strings that are malformed or hostile. */
const BAD_QUERIES: [string, string][] = [
  ['create not a boolean', 'create=maybe'],
  ['create repeated', 'create=true&create=nope'],
  ['username with a space', 'username=has%20space'],
  ['username too long', `username=${'u'.repeat(200)}`],
  ['username with NUL', 'username=ab%00cd'],
  ['bad percent encoding', 'username=%E0%A4%A'],
  ['ids not uuids', 'ids=not-a-uuid&ids=1234'],
  ['ids with NUL', 'ids=%00'],
  ['usernames with NUL', 'usernames=ab%00cd&usernames=x'],
  ['too many ids', Array.from({ length: 1001 }, (_, i) => `usernames=u${i}`).join('&')],
  ['http_key on a session endpoint', 'http_key=defaulthttpkey'],
];

async function sessionFor(): Promise<string> {
  return (await newDevice(s.url)).bearer;
}

async function send(route: Route, bearer: string, opts: { rawBody?: string; query?: string }) {
  const auth = route.auth === 'server_key' ? serverKeyAuth : route.auth === 'session' ? bearer : undefined;
  const path = route.path + (opts.query ? `?${opts.query}` : '');
  // fetch cannot send a body with GET.
  const rawBody = route.method === 'GET' ? undefined : opts.rawBody;
  return http(s.url, route.method, path, { ...(auth ? { auth } : {}), ...(rawBody !== undefined ? { rawBody } : {}) });
}

function check(label: string, res: { status: number; body: any }, mustRefuse: boolean) {
  assert.ok(res.status < 500, `${label}: ${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`);
  if (res.status !== 200) {
    try {
      assertErrorShape(res);
    } catch (err) {
      assert.fail(`${label}: ${(err as Error).message}`);
    }
  }
  if (mustRefuse) assert.ok(res.status >= 400, `${label}: should be refused, got ${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`);
}

test('bodies that are not JSON objects', async () => {
  for (const route of ROUTES) {
    const bearer = await sessionFor();
    for (const [name, rawBody] of NOT_OBJECTS) {
      const res = await send(route, bearer, { rawBody });
      // Unreadable JSON is refused everywhere (the body is parsed before routing); valid non-objects where a body is read.
      const unreadable = name === 'invalid JSON' || name === 'single quotes' || name === 'form encoding' || name === 'body over 256 KiB';
      check(`${route.method} ${route.path} with ${name}`, res, (route.body || unreadable) && route.method !== 'GET');
      if (unreadable && route.method !== 'GET') assert.equal(res.status, 400, `${route.method} ${route.path} with ${name}`);
    }
  }
});

test('objects with bad fields', async () => {
  for (const route of ROUTES) {
    for (const [name, body] of BAD_FIELDS) {
      const bearer = await sessionFor();
      const res = await send(route, bearer, { rawBody: JSON.stringify(body) });
      check(`${route.method} ${route.path} with ${name}`, res, false);
    }
  }
});

test('hostile fields that must be refused where they are read', async () => {
  const cases: [string, string, unknown][] = [
    ['POST', '/v2/account/authenticate/device', { id: NUL }],
    ['POST', '/v2/account/authenticate/custom', { id: NUL }],
    ['POST', '/v2/account/authenticate/email', { email: 'a\u0000bcdefgh@example.com', password: 'password1' }],
    ['PUT', '/v2/account', { display_name: NUL }],
    ['PUT', '/v2/account', { location: NUL }],
    ['PUT', '/v2/account', { timezone: NUL }],
    ['PUT', '/v2/account', { avatar_url: NUL }],
    ['PUT', '/v2/account', { lang_tag: 'e\u0000n' }],
    ['PUT', '/v2/account', { username: 'nul\u0000name' }],
    ['PUT', '/v2/account', { username: 'x'.repeat(129) }],
    ['PUT', '/v2/account', { display_name: 'd'.repeat(256) }],
    ['PUT', '/v2/account', { avatar_url: 'a'.repeat(513) }],
    ['POST', '/v2/account/link/device', { id: NUL }],
    ['POST', '/v2/account/link/custom', { id: NUL }],
    ['POST', '/v2/account/link/email', { email: 'a\u0000bcdefgh@example.com', password: 'password1' }],
    ['POST', '/v2/account/unlink/device', { id: NUL }],
  ];
  for (const [method, path, body] of cases) {
    const bearer = await sessionFor();
    const auth = path.includes('/authenticate/') ? serverKeyAuth : bearer;
    const res = await http(s.url, method, path, { auth, body });
    const label = `${method} ${path} ${JSON.stringify(body).slice(0, 60)}`;
    check(label, res, true);
    assert.equal(res.status, 400, label);
    assert.equal(res.body.code, 3, label);
  }
});

test('malformed query strings', async () => {
  for (const route of ROUTES) {
    const bearer = await sessionFor();
    for (const [name, query] of BAD_QUERIES) {
      const rawBody = route.body
        ? JSON.stringify(
            route.path.includes('email') ? { email: 'someone@example.com', password: 'password1' } : { id: 'abcdefghijklmnop' },
          )
        : undefined;
      const res = await send(route, bearer, { query, ...(rawBody ? { rawBody } : {}) });
      check(`${route.method} ${route.path}?${name}`, res, false);
    }
  }
  // Where the query is read, a malformed one is refused.
  const bearer = await sessionFor();
  for (const query of ['ids=not-a-uuid', 'ids=%00', 'usernames=ab%00cd', 'ids=00000000-0000-0000-0000-00000000000g']) {
    const res = await http(s.url, 'GET', `/v2/user?${query}`, { auth: bearer });
    assert.equal(res.status, 400, `GET /v2/user?${query.slice(0, 40)}: ${JSON.stringify(res.body)}`);
    assertErrorShape(res);
  }
});

test('malformed Authorization headers', async () => {
  const headers = [
    'Bearer',
    'Bearer ',
    'Bearer a.b.c',
    'Bearer ' + 'x'.repeat(8000),
    'Basic',
    'Basic ====',
    'Digest abc',
    'bearer  token',
    '\u00ff\u00fe',
  ];
  for (const route of ROUTES.filter((r) => r.auth !== 'none')) {
    for (const auth of headers) {
      const rawBody = route.method === 'GET' ? undefined : '{"id":"abcdefghijklmnop","token":"x"}';
      const res = await http(s.url, route.method, route.path, { auth, ...(rawBody ? { rawBody } : {}) });
      check(`${route.method} ${route.path} with Authorization ${JSON.stringify(auth.slice(0, 20))}`, res, true);
      assert.equal(res.status, 401, `${route.method} ${route.path} with ${JSON.stringify(auth.slice(0, 20))}`);
    }
  }
});

test('a charset the JSON parser does not support is refused with the error shape', async () => {
  const res = await http(s.url, 'POST', '/v2/account/authenticate/device', {
    auth: serverKeyAuth,
    rawBody: '{"id":"abcdefghijklmnop"}',
    headers: { 'content-type': 'application/json; charset=x-unknown' },
  });
  check('unsupported charset', res, true);
});

test('the server still works after all of that', async () => {
  const d = await newDevice(s.url);
  const res = await http(s.url, 'GET', '/v2/account', { auth: d.bearer });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.devices, [{ id: d.deviceId }]);
  assert.equal(s.logs.filter((l) => l.msg === 'unexpected error').length, 0, 'no unexpected error was logged');
});
