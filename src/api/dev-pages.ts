/**
 * Pages served in dev mode only (`npm run dev`, TAVERN_DEV): `/play/`, the browser client of the
 * example arena game (public/play: plain JavaScript and a canvas, no build step), and
 * `/play/vendor/colyseus.js`, the browser build of `@colyseus/sdk` (a UMD bundle that defines
 * `window.Colyseus`). The SDK is a dev dependency: without it the page loads and says so.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';

/** The folder of the browser game's files. */
export const PLAY_DIR = fileURLToPath(new URL('../../public/play/', import.meta.url));

/** The SDK's browser build and its source map, by the name the page asks for. */
export function sdkBrowserFiles(): Record<string, string> | undefined {
  try {
    const dist = path.join(path.dirname(createRequire(import.meta.url).resolve('@colyseus/sdk/package.json')), 'dist');
    return { 'colyseus.js': path.join(dist, 'colyseus.js'), 'colyseus.js.map': path.join(dist, 'colyseus.js.map') };
  } catch {
    return undefined;
  }
}

/** Mounts `/play` (the example game) on the app. Call it before the app's 404 handler, in dev mode only. */
export function mountDevPages(app: Express, log?: Logger): void {
  const sdk = sdkBrowserFiles();
  if (!sdk) log?.warn('dev pages: @colyseus/sdk is not installed (npm install), /play/vendor/colyseus.js will answer 404');
  app.get('/play/vendor/:file', (req: Request, res: Response, next: NextFunction) => {
    const file = sdk?.[String(req.params.file)];
    if (!file) {
      next();
      return;
    }
    res.sendFile(file, { headers: { 'Cache-Control': 'no-cache' } }, (err) => {
      if (err && !res.headersSent) next();
    });
  });
  app.use('/play', express.static(PLAY_DIR, { index: 'index.html', maxAge: 0, etag: true }));
}
