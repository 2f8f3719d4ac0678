import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, flagName, parseConfig, SETTINGS } from '../src/config.js';

const root = path.resolve(import.meta.dirname, '..');
const KEYS = {
  TAVERN_SERVER_KEY: 'sk-test',
  TAVERN_HTTP_KEY: 'hk-test',
  TAVERN_SESSION_ENCRYPTION_KEY: 'session-test',
  TAVERN_REFRESH_ENCRYPTION_KEY: 'refresh-test',
};

test('defaults follow Nakama', () => {
  const c = parseConfig({});
  assert.equal(c.port, 7350);
  assert.equal(c.serverKey, 'defaultkey');
  assert.equal(c.httpKey, 'defaulthttpkey');
  assert.equal(c.tokenExpirySec, 60);
  assert.equal(c.refreshTokenExpirySec, 3600);
  assert.equal(c.bodyLimitBytes, 262_144);
  assert.equal(c.socketMessageLimitBytes, 4096);
  assert.equal(c.nodeEnv, 'development');
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.loginMaxFailuresPerAccount, 5);
  assert.equal(c.loginMaxFailuresPerIp, 10);
  assert.ok(Object.isFrozen(c));
});

test('environment values are parsed and typed', () => {
  const c = parseConfig({
    TAVERN_PORT: '8123',
    TAVERN_TOKEN_EXPIRY_SEC: '7200',
    TAVERN_METRICS: 'false',
    DATABASE_URL: ' postgres://a@127.0.0.1:5432/db ',
  });
  assert.equal(c.port, 8123);
  assert.equal(c.tokenExpirySec, 7200);
  assert.equal(c.metrics, false);
  assert.equal(c.databaseUrl, 'postgres://a@127.0.0.1:5432/db');
  // An empty DATABASE_URL means "no database URL", not an invalid one.
  assert.equal(parseConfig({ DATABASE_URL: '' }).databaseUrl, undefined);
});

test('a bad value names its variable', () => {
  const cases: [Record<string, string>, string][] = [
    [{ TAVERN_PORT: 'abc' }, 'TAVERN_PORT'],
    [{ TAVERN_PORT: '70000' }, 'TAVERN_PORT'],
    [{ TAVERN_TOKEN_EXPIRY_SEC: '0' }, 'TAVERN_TOKEN_EXPIRY_SEC'],
    [{ TAVERN_LOG_LEVEL: 'loud' }, 'TAVERN_LOG_LEVEL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
  ];
  for (const [env, name] of cases) {
    assert.throws(
      () => parseConfig(env),
      (err: unknown) => err instanceof ConfigError && err.message.includes(name),
      `${JSON.stringify(env)} should be refused naming ${name}`,
    );
  }
  // A bad flag names its flag too.
  assert.throws(
    () => parseConfig({}, ['--port', 'abc']),
    (err: unknown) => err instanceof ConfigError && err.message.includes('--port'),
  );
});

test('flags override the environment', () => {
  assert.equal(parseConfig({ TAVERN_PORT: '8000' }, ['--port', '9000']).port, 9000);
  assert.equal(parseConfig({ TAVERN_PORT: '8000' }, ['--port=9001']).port, 9001);
  assert.equal(parseConfig({ TAVERN_TOKEN_EXPIRY_SEC: '10' }, ['--token-expiry-sec', '20']).tokenExpirySec, 20);
  assert.equal(parseConfig({}, ['--metrics', 'false']).metrics, false);
  assert.equal(flagName('TAVERN_LOGIN_MAX_FAILURES_IP'), '--login-max-failures-ip');
});

test('unknown flags and stray arguments are refused', () => {
  assert.throws(
    () => parseConfig({}, ['--prot', '9000']),
    (err: unknown) => err instanceof ConfigError && err.message.includes('--prot'),
  );
  assert.throws(() => parseConfig({}, ['9000']), ConfigError);
});

test('production refuses the default keys', () => {
  assert.throws(
    () => parseConfig({ NODE_ENV: 'production' }),
    (err: unknown) =>
      err instanceof ConfigError && err.message.includes('TAVERN_SERVER_KEY') && err.message.includes('TAVERN_REFRESH_ENCRYPTION_KEY'),
  );
  // Three keys set is not enough.
  const { TAVERN_HTTP_KEY: _omitted, ...three } = KEYS;
  assert.throws(
    () => parseConfig({ NODE_ENV: 'production', ...three }),
    (err: unknown) => err instanceof ConfigError && err.message.includes('TAVERN_HTTP_KEY') && !err.message.includes('TAVERN_SERVER_KEY'),
  );
  const c = parseConfig({ NODE_ENV: 'production', ...KEYS });
  assert.equal(c.nodeEnv, 'production');
  assert.equal(c.serverKey, 'sk-test');
  assert.deepEqual(c.usesDefaultKeys, []);
});

test('usesDefaultKeys lists the default keys in use', () => {
  assert.deepEqual([...parseConfig({}).usesDefaultKeys].sort(), [
    'TAVERN_HTTP_KEY',
    'TAVERN_REFRESH_ENCRYPTION_KEY',
    'TAVERN_SERVER_KEY',
    'TAVERN_SESSION_ENCRYPTION_KEY',
  ]);
  assert.deepEqual([...parseConfig({ TAVERN_SERVER_KEY: 'x', TAVERN_SESSION_ENCRYPTION_KEY: 'y' }).usesDefaultKeys].sort(), [
    'TAVERN_HTTP_KEY',
    'TAVERN_REFRESH_ENCRYPTION_KEY',
  ]);
  assert.deepEqual(parseConfig(KEYS).usesDefaultKeys, []);
});

test("README's configuration table mentions every setting", () => {
  const readme = path.join(root, 'README.md');
  const found = existsSync(readme);
  const text = found ? readFileSync(readme, 'utf8') : '';
  // A row of a Markdown table that names the variable: | `TAVERN_PORT` | ...
  const rows = text.split('\n').filter((line) => line.trimStart().startsWith('|'));
  const missing = Object.values(SETTINGS)
    .map((s) => s.env)
    .filter((env) => !rows.some((row) => new RegExp(`\\b${env}\\b`).test(row)));
  const where = found ? "README.md's configuration table" : 'README.md (which does not exist yet)';
  assert.deepEqual(missing, [], `${where} does not mention: ${missing.join(', ')}`);
});
