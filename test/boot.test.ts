/**
 * Boots exactly what `npm start` boots, as an operator would on a fresh machine: no DATABASE_URL
 * (embedded database), the README's curl request, SIGTERM for a graceful stop, and a second boot on
 * the same data directory that still knows the device.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { freePort } from './support/ports.js';

const root = path.resolve(import.meta.dirname, '..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'tavern-boot-'));
const DEVICE_ID = 'a-device-id-123';
const BOOT_TIMEOUT_MS = 60_000;
/** Default shutdown grace (30 s) plus time for npm and tsx to exit. */
const STOP_TIMEOUT_MS = 40_000;

interface Booted {
  child: ChildProcess;
  url: string;
  /** stdout so far (JSON log lines). */
  out(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
after(() => {
  // Only if a test failed half-way: never leave a server behind.
  for (const child of running) if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

function childEnv(port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // A clean operator environment: no test-runner, database or Tavern settings leak in.
    if (k.startsWith('TAVERN_') || k === 'DATABASE_URL' || k === 'REDIS_URL' || k.startsWith('NODE_TEST') || k === 'NODE_ENV') continue;
    env[k] = v;
  }
  return { ...env, TAVERN_PORT: String(port), TAVERN_DATA_DIR: dataDir, TAVERN_LOG_FORMAT: 'json' };
}

async function boot(): Promise<Booted> {
  const port = await freePort();
  // detached: its own process group, so one signal reaches npm, tsx and node alike.
  const child = spawn('npm', ['start'], { cwd: root, env: childEnv(port), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    if (gone) assert.fail(`npm start exited before serving (code ${child.exitCode}):\n${out}\n${err}`);
    try {
      const res = await fetch(`${url}/healthcheck`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      process.kill(-child.pid!, 'SIGKILL');
      assert.fail(`npm start did not answer /healthcheck within ${BOOT_TIMEOUT_MS / 1000} s:\n${out}\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, url, out: () => out, exited };
}

async function stop(b: Booted): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  process.kill(-b.child.pid!, 'SIGTERM');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_TIMEOUT_MS).unref());
  const result = await Promise.race([b.exited, timeout]);
  if (result === 'timeout') {
    process.kill(-b.child.pid!, 'SIGKILL');
    assert.fail(`npm start did not exit within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM:\n${b.out()}`);
  }
  return result;
}

/** The README's `curl -d '{"id":"…"}'`: Basic auth with the default key and a form content type. */
async function curlDeviceAuth(url: string) {
  const res = await fetch(`${url}/v2/account/authenticate/device?create=true`, {
    method: 'POST',
    headers: {
      authorization: 'Basic ' + Buffer.from('defaultkey:').toString('base64'),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: JSON.stringify({ id: DEVICE_ID }),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as { token?: string; created?: boolean; refresh_token?: string } };
}

function userIdOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { uid: string }).uid;
}

function logLines(out: string): Record<string, unknown>[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

let firstUserId: string | undefined;

test('npm start serves the README request on the embedded database and stops gracefully on SIGTERM', async () => {
  const b = await boot();
  const res = await curlDeviceAuth(b.url);
  assert.equal(res.status, 200, res.text);
  assert.equal(typeof res.body.token, 'string');
  assert.equal(typeof res.body.refresh_token, 'string');
  assert.equal(res.body.created, true);
  firstUserId = userIdOf(res.body.token!);

  const lines = logLines(b.out());
  const warning = lines.find((l) => typeof l.msg === 'string' && l.msg.includes('DEFAULT KEYS'));
  assert.ok(warning, `no default-keys warning in the log:\n${b.out()}`);
  assert.equal(warning.level, 40);
  assert.deepEqual((warning.keys as string[]).slice().sort(), [
    'TAVERN_HTTP_KEY',
    'TAVERN_REFRESH_ENCRYPTION_KEY',
    'TAVERN_SERVER_KEY',
    'TAVERN_SESSION_ENCRYPTION_KEY',
  ]);
  assert.ok(
    lines.some((l) => l.msg === 'tavern listening' && l.database === 'embedded'),
    'listening on the embedded database',
  );

  const { code, signal } = await stop(b);
  assert.equal(signal, null, 'exited by itself, not killed');
  assert.equal(code, 0, `exit code after SIGTERM:\n${b.out()}`);
  assert.ok(
    logLines(b.out()).some((l) => l.msg === 'stopped'),
    'the shutdown ran to its end',
  );

  const pgDir = path.join(dataDir, 'pglite');
  assert.ok(existsSync(pgDir), `no embedded database under ${dataDir}: ${readdirSync(dataDir).join(', ')}`);
  assert.ok(existsSync(path.join(pgDir, 'PG_VERSION')), `not a PostgreSQL data directory: ${readdirSync(pgDir).join(', ')}`);
  assert.ok(existsSync(path.join(pgDir, 'base')), 'no database files');
});

test('a second npm start on the same data directory still knows the device', async (t) => {
  if (!firstUserId) return t.skip('the first boot failed');
  const b = await boot();
  const res = await curlDeviceAuth(b.url);
  assert.equal(res.status, 200, res.text);
  assert.ok(!res.body.created, `the device was created again: ${res.text}`);
  assert.equal(userIdOf(res.body.token!), firstUserId);
  // No migration ran twice on a database that already has them.
  assert.ok(!logLines(b.out()).some((l) => l.msg === 'migrations applied'), 'migrations applied again on restart');
  const { code } = await stop(b);
  assert.equal(code, 0);
});

test('npm start on a port already taken exits with code 1 and says why, instead of hanging', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, resolve));
  const port = (blocker.address() as AddressInfo).port;
  const ownDir = mkdtempSync(path.join(tmpdir(), 'tavern-boot-port-'));
  try {
    const env = { ...childEnv(port), TAVERN_DATA_DIR: ownDir };
    const child = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), BOOT_TIMEOUT_MS).unref());
    const code = await Promise.race([exited, timeout]);
    running.delete(child);
    if (code === 'timeout') {
      process.kill(-child.pid!, 'SIGKILL');
      assert.fail(`npm start on a taken port was still running after ${BOOT_TIMEOUT_MS / 1000} s:\n${out}`);
    }
    assert.equal(code, 1);
    const fatal = logLines(out).find((l) => l.msg === 'startup failed');
    assert.ok(fatal, `a 'startup failed' log line:\n${out}`);
    assert.match(JSON.stringify(fatal.err), /EADDRINUSE/);
  } finally {
    blocker.close();
    rmSync(ownDir, { recursive: true, force: true });
  }
});
