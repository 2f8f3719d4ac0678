/** Dev mode: editing a module swaps the registries without a restart and without dropping clients. */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Client as ColyseusClient } from '@colyseus/sdk';
import { http, newDevice, startTestServer, type TestServer } from '../support/server.js';

// The copy lives inside the project so that `tavern` and packages resolve as for ./modules.
const dir = mkdtempSync(path.join(import.meta.dirname, '..', 'fixtures', '.reload-'));
let s: TestServer;
before(async () => {
  cpSync(path.join(import.meta.dirname, '..', 'fixtures', 'modules'), dir, { recursive: true });
  s = await startTestServer({ runtimePath: dir, dev: true });
});
after(async () => {
  await s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function version(bearer: string): Promise<string | undefined> {
  const r = await http(s.url, 'POST', '/v2/rpc/version', { auth: bearer });
  return r.body?.payload;
}

async function eventually(fn: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await fn()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not within ${ms} ms`);
}

test('editing a module or its helper reloads it within 2 s; a connected client stays connected', async () => {
  const d = await newDevice(s.url);
  assert.equal(await version(d.bearer), 'v1');
  const client = new ColyseusClient(s.url);
  client.auth.token = d.token;
  const room = await client.create('session');
  let left = false;
  room.onLeave(() => (left = true));

  const file = path.join(dir, 'rpcs.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace('`v1${suffix}`', '`v2${suffix}`'));
  await eventually(async () => (await version(d.bearer)) === 'v2', 2000);

  writeFileSync(path.join(dir, 'lib', 'suffix.ts'), "export const suffix = '-patched';");
  await eventually(async () => (await version(d.bearer)) === 'v2-patched', 2000);

  // The room survived both reloads and still answers.
  const pong = new Promise((resolve) => room.onMessage('pong', resolve));
  room.send('ping', { n: 1 });
  assert.deepEqual(await pong, { n: 1 });
  assert.equal(left, false);
  await room.leave();
});

test('a reload that fails keeps the previous modules', async () => {
  const d = await newDevice(s.url);
  const before = await version(d.bearer);
  writeFileSync(path.join(dir, 'zz-broken.ts'), 'export const InitModule = () => { throw new Error("half-saved file"); };');
  await eventually(async () => s.logs.some((l) => l.msg === 'runtime reload failed; keeping the previous modules'), 3000);
  assert.equal(await version(d.bearer), before);
  rmSync(path.join(dir, 'zz-broken.ts'));
});
