/**
 * The Colyseus playground (`@colyseus/playground`) at `/playground`, in dev mode only: a web page
 * that lists room types and live rooms, joins them and sends messages (paste a Tavern session
 * token in its auth field: Tavern's rooms accept nothing else).
 *
 * It is loaded with a dynamic `import()` and never in production, because it pulls in
 * `@colyseus/auth`, which on import replaces Colyseus's default `Room.onAuth` with one that lets
 * anyone in without a token. Tavern's rooms are unaffected (each has its own static `onAuth`,
 * set by `bindRoom`, that verifies the session token; test/modules/arena-browser.test.ts checks
 * it with the playground loaded), but any room class without one would become open. The
 * playground also makes every room send joining clients a `__playground_message_types` message,
 * which SDKs ignore.
 */
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

/**
 * Mounts `/playground` on the app at once (call it before the app's 404 handler) and starts loading
 * the package; requests wait for the load. Resolves true once it is served, false when the package
 * could not be loaded (then `/playground` falls through to the 404 handler). Never rejects.
 */
export function mountPlayground(app: Express, log: Logger): Promise<boolean> {
  const loading: Promise<RequestHandler | undefined> = import('@colyseus/playground').then(
    (m) => {
      log.info('playground at /playground (dev mode)');
      return m.playground() as unknown as RequestHandler;
    },
    (err: unknown) => {
      log.warn({ err }, 'the Colyseus playground could not be loaded; /playground is off');
      return undefined;
    },
  );
  app.use('/playground', (req: Request, res: Response, next: NextFunction) => {
    void loading.then((handler) => (handler ? handler(req, res, next) : next()), next);
  });
  return loading.then((handler) => handler !== undefined);
}
