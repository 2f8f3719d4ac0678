/**
 * `npm test`: starts a throwaway PostgreSQL (unless TEST_DATABASE_URL is set), runs every test
 * file on it with Node's test runner, then runs the HTTP suites again on the embedded PGlite.
 * Extra arguments are test files to run instead of all of them.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { startPostgres, type PgCluster } from './support/postgres.js';
import { startRedis, type TestRedis } from './support/redis.js';

const root = path.resolve(import.meta.dirname, '..');

function findTests(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) return name === 'support' || name === 'fixtures' ? [] : findTests(p);
      return name.endsWith('.test.ts') ? [p] : [];
    })
    .sort();
}

interface Counts {
  pass: number;
  fail: number;
  code: number;
}

function runPass(label: string, files: string[], env: NodeJS.ProcessEnv): Promise<Counts> {
  process.stdout.write(`\n=== ${label}: ${files.length} files ===\n`);
  const args = [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    '--test-timeout=180000',
    '--test-force-exit',
    ...files.map((f) => path.relative(root, f)),
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      process.stdout.write(b);
    });
    child.on('exit', (code) => {
      const num = (name: string) => Number(new RegExp(`^ℹ ${name} (\\d+)`, 'm').exec(out)?.[1] ?? 0);
      resolve({ pass: num('pass'), fail: num('fail'), code: code ?? 1 });
    });
  });
}

const selected = process.argv.slice(2).map((f) => path.resolve(f));
const all = selected.length > 0 ? selected : findTests(path.join(root, 'test'));
// Suites that run on both databases: the HTTP API ones, except those that control a PostgreSQL server.
const both = all.filter((f) => f.includes(`${path.sep}api${path.sep}`) && !f.endsWith('outage.test.ts'));
// Room suites run again on Redis presence: code that passes on LocalPresence (same object, synchronous)
// can fail on RedisPresence (JSON, asynchronous).
const rooms = all.filter((f) => f.includes(`${path.sep}rooms${path.sep}`) && !f.endsWith('local.driver.test.ts'));

let cluster: PgCluster | undefined;
const env: NodeJS.ProcessEnv = {};
if (!process.env.TEST_DATABASE_URL) {
  cluster = await startPostgres();
  env.TAVERN_TEST_PG_URL = cluster.url();
}
// One Redis for the run; suites that use it give each test its own key prefix or channel names.
let redis: TestRedis | undefined;
if (!process.env.TEST_REDIS_URL) {
  redis = await startRedis();
  env.TAVERN_TEST_REDIS_URL = redis.url;
}
let total: Counts = { pass: 0, fail: 0, code: 0 };
try {
  const passes: [string, string[], NodeJS.ProcessEnv][] = [
    ['PostgreSQL', all, { ...env, TAVERN_TEST_DB: 'postgres', TAVERN_TEST_PRESENCE: 'local' }],
    ['embedded PGlite (HTTP suites)', both, { ...env, TAVERN_TEST_DB: 'pglite' }],
    ['Redis presence (room suites)', rooms, { ...env, TAVERN_TEST_DB: 'postgres', TAVERN_TEST_PRESENCE: 'redis' }],
  ];
  for (const [label, files, passEnv] of passes) {
    if (files.length === 0) continue;
    const r = await runPass(label, files, passEnv);
    total = { pass: total.pass + r.pass, fail: total.fail + r.fail, code: total.code || r.code };
  }
} finally {
  await cluster?.stop();
  await redis?.stop();
}
process.stdout.write(`\ntotal: ${total.pass} passed, ${total.fail} failed\n`);
process.exit(total.code !== 0 || total.fail > 0 ? 1 : 0);
