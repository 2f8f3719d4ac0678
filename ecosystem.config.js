// PM2 fleet: `npx pm2 start ecosystem.config.js` (see README.md, "Running several processes").
//
// This is an ES module (package.json has "type": "module"). PM2 loads ecosystem files with
// require(); Node >= 20.19 / 22.12 can require() an ES module and hands back its namespace, so the
// apps are a *named* export (`apps`), which is where PM2 looks for them.
//
// One PM2 app per process, in fork mode, each with its own port and its own public address: a
// client's WebSocket must reach the process that owns its room (Colyseus `publicAddress`), and
// PM2's `increment_var` can number ports but cannot build a per-process address. Process i gets
// TAVERN_PORT = base + i (base: TAVERN_PORT, default 7350) and, when TAVERN_PUBLIC_HOST is set,
// TAVERN_PUBLIC_ADDRESS = `<TAVERN_PUBLIC_HOST>/<port>`, the path that deploy/nginx.conf routes to it.
//
// Settings read here (from the shell that runs pm2; the rest of its environment, DATABASE_URL,
// REDIS_URL and every other TAVERN_* variable included, passes through to the processes
// unchanged, and NODE_ENV defaults to production):
//   TAVERN_INSTANCES     processes to run (default: one per core; 1 without DATABASE_URL)
//   TAVERN_PORT          first port (default 7350)
//   TAVERN_PUBLIC_HOST   host (and port) clients reach nginx on, e.g. game.example.com
//   TAVERN_SHUTDOWN_GRACE_SEC  drain time (default 30); PM2 waits 15 s more before SIGKILL
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;

function intFrom(name, fallback, min, max) {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`ecosystem.config.js: ${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  return n;
}

const hasDatabase = (env.DATABASE_URL ?? '').trim() !== '';
const explicitInstances = (env.TAVERN_INSTANCES ?? '').trim() !== '';
let instances = intFrom('TAVERN_INSTANCES', availableParallelism(), 1, 256);
if (!hasDatabase && instances > 1) {
  // The embedded database (PGlite under TAVERN_DATA_DIR) belongs to one process.
  if (explicitInstances) {
    throw new Error(`ecosystem.config.js: TAVERN_INSTANCES=${instances} needs DATABASE_URL (the embedded database serves one process)`);
  }
  console.warn('ecosystem.config.js: DATABASE_URL is unset, so running 1 process on the embedded database');
  instances = 1;
}

const basePort = intFrom('TAVERN_PORT', 7350, 1, 65535 - instances + 1);
const graceSec = intFrom('TAVERN_SHUTDOWN_GRACE_SEC', 30, 0, 3600);
const publicHost = (env.TAVERN_PUBLIC_HOST ?? '').trim().replace(/\/+$/, '');
if (instances > 1 && publicHost === '') {
  console.warn(
    'ecosystem.config.js: TAVERN_PUBLIC_HOST is unset: each process advertises 127.0.0.1:<port>, which only local clients reach. ' +
      'Set it to the host nginx serves (deploy/nginx.conf).',
  );
}

/** The public address of the process on `port`, or undefined to let clients reuse their own endpoint. */
function publicAddress(port) {
  if (publicHost !== '') return `${publicHost}/${port}`;
  if (instances > 1) return `127.0.0.1:${port}`;
  return undefined;
}

export const apps = Array.from({ length: instances }, (_, i) => {
  const port = basePort + i;
  const address = publicAddress(port);
  return {
    name: `tavern-${port}`,
    namespace: 'tavern',
    cwd: root,
    script: 'src/main.ts',
    // The machine's Node may be older than the one the project needs (package.json "node"):
    // run the project's own, with tsx for TypeScript (decorators included).
    interpreter: path.join(root, 'node_modules', '.bin', 'node'),
    interpreter_args: '--import tsx',
    exec_mode: 'fork',
    instances: 1,
    env: {
      NODE_ENV: env.NODE_ENV ?? 'production',
      TAVERN_PORT: String(port),
      // Distinct node names (ctx.node, presences) when several processes run.
      ...(instances > 1 ? { TAVERN_NODE_NAME: `${env.TAVERN_NODE_NAME ?? 'tavern'}-${port}` } : {}),
      ...(address === undefined ? {} : { TAVERN_PUBLIC_ADDRESS: address }),
    },
    // src/main.ts sends 'ready' once it listens (migrations and the database come first).
    wait_ready: true,
    listen_timeout: 120_000,
    // PM2 stops with SIGINT; src/main.ts drains for TAVERN_SHUTDOWN_GRACE_SEC before exiting.
    kill_timeout: (graceSec + 15) * 1000,
    autorestart: true,
    exp_backoff_restart_delay: 200,
    max_restarts: 50,
    min_uptime: 10_000,
  };
});

export default { apps };
