/**
 * The arena's browser page (/play, public/play) in a real headless Chromium (the OS package,
 * driven by playwright-core) against a dev-mode server: two pages log in, join and see each other
 * move. Also, in dev mode: the SDK's browser build is served, the Colyseus playground answers at
 * /playground, and with it loaded (it imports @colyseus/auth, which opens rooms that have no
 * `onAuth` of their own) Tavern's rooms still refuse bad tokens.
 *
 * Skipped, saying why, when /usr/bin/chromium is missing outside CI; in CI it must run.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Room as ColyseusRoom } from '@colyseus/core';
import { MatchMakeError } from '@colyseus/sdk';
import type { Browser, Page } from 'playwright-core';
import { sdk } from '../support/realtime.js';
import { http, newDevice, startTestServer, type TestServer } from '../support/server.js';
import { decodeJwt } from '../support/wire.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const noBrowser =
  !existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is missing (apt-get install chromium); CI installs it and runs this test` : false;
const MODULES = path.join(import.meta.dirname, '..', '..', 'modules');

let s: TestServer;
let browser: Browser | undefined;
before(async () => {
  s = await startTestServer({ runtimePath: MODULES, dev: true, runtimeEnv: JSON.stringify({ ARENA_ROUND_SECONDS: '30' }) });
  if (!noBrowser) {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

interface View {
  joined: boolean;
  userId: string | null;
  username: string | null;
  sessionId: string | null;
  roomId: string | null;
  players: Record<string, { x: number; y: number; name: string; score: number; color: string }>;
  inputsSent: number;
  lastError: unknown;
}

async function openPlayer(device: string, mode: string, problems: string[]): Promise<Page> {
  const context = await browser!.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`${device}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`${device}: ${msg.text()}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`${device}: ${res.status()} ${res.url()}`);
  });
  await page.goto(`${s.url}/play/?device=${device}&bot=1&mode=${mode}`);
  return page;
}

const view = (page: Page) => page.evaluate(() => (globalThis as unknown as { __arena: View }).__arena);

test('the page and the SDK browser build are served in dev mode', async () => {
  const page = await fetch(`${s.url}/play/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<canvas id="canvas"/);
  const game = await fetch(`${s.url}/play/game.js`);
  assert.equal(game.status, 200);
  assert.match(game.headers.get('content-type') ?? '', /javascript/);
  const vendor = await fetch(`${s.url}/play/vendor/colyseus.js`);
  assert.equal(vendor.status, 200);
  assert.match(vendor.headers.get('content-type') ?? '', /javascript/);
  assert.match(await vendor.text(), /\.Colyseus=\{\}/, 'a UMD build defining window.Colyseus');
  assert.equal((await fetch(`${s.url}/play/vendor/nope.js`)).status, 404);
  const bare = await fetch(`${s.url}/play`, { redirect: 'manual' });
  assert.equal(bare.status, 301);
  assert.equal(bare.headers.get('location'), '/play/');
});

test('two browser pages log in, join the arena and see each other move', { skip: noBrowser }, async () => {
  const mode = `b${Date.now().toString(36)}`;
  const problems: string[] = [];
  const stamp = Date.now().toString(36);
  const pages = [await openPlayer(`browser-a-${stamp}`, mode, problems), await openPlayer(`browser-b-${stamp}`, mode, problems)];

  for (const page of pages) {
    await page.waitForFunction(
      () => {
        const a = (globalThis as unknown as { __arena?: View }).__arena;
        return a?.joined === true && Object.keys(a.players).length === 2;
      },
      null,
      { timeout: 20_000 },
    );
  }
  const [va, vb] = [await view(pages[0]!), await view(pages[1]!)];
  assert.ok(va.userId && vb.userId && va.userId !== vb.userId, 'two users logged in');
  assert.equal(va.roomId, vb.roomId, 'one room');
  assert.ok(va.username);

  // Each page sees the other player (a bot driving in circles) move.
  for (const [page, mine] of [
    [pages[0]!, va],
    [pages[1]!, vb],
  ] as const) {
    const other = Object.keys(mine.players).find((id) => id !== mine.sessionId)!;
    const start = mine.players[other]!;
    await page.waitForFunction(
      ({ id, x, y }) => {
        const p = (globalThis as unknown as { __arena: View }).__arena.players[id];
        return p !== undefined && Math.hypot(p.x - x, p.y - y) > 10;
      },
      { id: other, x: start.x, y: start.y },
      { timeout: 10_000 },
    );
  }
  const after = await view(pages[0]!);
  assert.ok(after.inputsSent > 0, 'the bot sent input');
  assert.equal(after.lastError, null);
  assert.deepEqual(problems, []);
  for (const page of pages) await page.context().close();
});

test('with the playground loaded, /playground answers and tampered tokens are still refused', async () => {
  const index = await fetch(`${s.url}/playground/`);
  assert.equal(index.status, 200);
  assert.match(await index.text(), /Colyseus Playground/);
  const rooms = await http(s.url, 'GET', '/playground/rooms');
  assert.equal(rooms.status, 200);
  assert.ok(rooms.body.rooms.includes('arena'), JSON.stringify(rooms.body.rooms));
  // The playground imported @colyseus/auth: the framework's default onAuth now lets anyone in.
  assert.equal(ColyseusRoom.onAuth.name, 'jwtDecodingOnAuth');

  const d = await newDevice(s.url);
  const tampered = d.token.slice(0, -3) + (d.token.endsWith('AAA') ? 'BBB' : 'AAA');
  const { JWT } = await import('@colyseus/auth');
  JWT.settings.secret = 'the-playground-secret';
  const { uid, usn } = decodeJwt(d.token);
  const foreign = await JWT.sign({ uid, usn, id: uid }, { expiresIn: 60 });
  for (const room of ['arena', 'session']) {
    for (const [what, token] of [
      ['tampered', tampered],
      ['none', undefined],
      ['@colyseus/auth-signed', foreign],
    ] as const) {
      await assert.rejects(
        sdk(s.url, token).joinOrCreate(room, { mode: 'casual' }),
        (err: unknown) => err instanceof MatchMakeError,
        `${room} with a ${what} token`,
      );
    }
  }
  // The real token still works.
  const ok = await sdk(s.url, d.token).joinOrCreate('arena', { mode: 'casual' });
  await ok.leave();
});
