/**
 * A throwaway PostgreSQL cluster for tests: `initdb` as the `postgres` user in a temp directory,
 * started on a free port with fsync off. Each test file gets its own database (see `createDatabase`).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';

const isRoot = process.getuid?.() === 0;

function bindir(): string {
  return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
}

function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

/** A running cluster. */
export interface PgCluster {
  port: number;
  dir: string;
  /** URL of a database in this cluster. */
  url(db?: string): string;
  stop(): Promise<void>;
  /** Starts the cluster again after `stop({ keep: true })`. */
  start(): Promise<void>;
  stopKeepingData(): Promise<void>;
}

export async function startPostgres(): Promise<PgCluster> {
  const bin = bindir();
  const dir = mkdtempSync(path.join(tmpdir(), 'tavern-pg-'));
  if (isRoot) {
    const pwUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const pwGid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, pwUid, pwGid);
    chmodSync(dir, 0o700);
  }
  const data = path.join(dir, 'data');
  const [c, a] = asPostgres(path.join(bin, 'initdb'), ['-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-locale', '-D', data]);
  execFileSync(c, a, { stdio: 'ignore' });
  const port = await freePort();
  const pgctl = (args: string[]) => {
    const [cmd, a] = asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, ...args]);
    execFileSync(cmd, a, { stdio: 'ignore' });
  };
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
  ].join(' ');
  let running = false;
  const start = async () => {
    pgctl(['-w', '-l', path.join(dir, 'log'), '-o', options, 'start']);
    running = true;
    await waitReady(port);
  };
  const stopKeepingData = async () => {
    if (!running) return;
    running = false;
    pgctl(['-w', '-m', 'fast', 'stop']); // fast: disconnects clients, as a crash or restart would
  };
  await start();
  return {
    port,
    dir,
    url: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    start,
    stopKeepingData,
    async stop() {
      await stopKeepingData();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitReady(port: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Creates a fresh, empty database in the cluster and returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}"`);
    await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}
