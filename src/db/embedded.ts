/** The embedded PostgreSQL used when no `DATABASE_URL` is set: PGlite on a worker thread. */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

/** A running embedded database and the URL to reach it with `pg`. */
export interface EmbeddedDatabase {
  /** Connection settings for `pg` (a Unix socket directory as host). */
  connection: { host: string; port: number; user: string; dbName: string };
  stop(): Promise<void>;
}

export async function startEmbeddedDatabase(dataDir: string): Promise<EmbeddedDatabase> {
  const dir = path.resolve(dataDir);
  const pgDir = path.join(dir, 'pglite');
  await mkdir(pgDir, { recursive: true });
  // A Unix socket path must stay under ~100 bytes; the data dir may be deep, so the socket lives
  // in a short directory of its own beside it when needed.
  const socketDir = dir.length < 80 ? dir : path.join('/tmp', `tavern-${process.pid}`);
  await mkdir(socketDir, { recursive: true });
  const socketPath = path.join(socketDir, '.s.PGSQL.5432');
  await rm(socketPath, { force: true });

  const worker = new Worker(new URL('./pglite-worker.ts', import.meta.url), {
    workerData: { dataDir: pgDir, socketPath },
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`embedded database failed to start: ${err.message}`, { cause: err }));
    worker.once('error', onError);
    worker.once('message', (msg: { type: string }) => {
      worker.off('error', onError);
      if (msg.type === 'ready') resolve();
      else reject(new Error(`embedded database: unexpected message ${msg.type}`));
    });
  });
  return {
    connection: { host: socketDir, port: 5432, user: 'postgres', dbName: 'postgres' },
    async stop() {
      const stopped = new Promise<void>((resolve) => worker.once('message', () => resolve()));
      worker.postMessage({ type: 'stop' });
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 5000))]);
      await worker.terminate();
    },
  };
}
