/**
 * Runs the embedded PGlite database on its own thread and serves it over a Unix socket, so its
 * WASM engine never blocks the event loop that answers clients. Started by `embedded.ts`.
 */
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { parentPort, workerData } from 'node:worker_threads';

interface Input {
  dataDir: string;
  socketPath: string;
}
const { dataDir, socketPath } = workerData as Input;

const db = await PGlite.create(dataDir);
// One connection: PGlite is a single session, so a second connection would share transactions.
const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: 1 });
await server.start();
parentPort!.postMessage({ type: 'ready' });
parentPort!.on('message', (msg: { type: string }) => {
  if (msg.type !== 'stop') return;
  void (async () => {
    await server.stop();
    await db.close();
    parentPort!.postMessage({ type: 'stopped' });
  })();
});
