/**
 * The only reader of the environment and argv. Every setting is declared once in `SETTINGS` with
 * its environment variable, command-line flag, zod schema, default and description; the README's
 * configuration table is checked against this list by a test.
 */
import { z } from 'zod';

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalUrl = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
  .pipe(z.string().url().optional());

/** One configurable setting. */
interface Setting<S extends z.ZodType> {
  env: string;
  schema: S;
  default?: z.input<S>;
  description: string;
}
const setting = <S extends z.ZodType>(s: Setting<S>): Setting<S> => s;

/** Every setting Tavern reads. Flags are the env name without `TAVERN_`, kebab-cased (`--port`). */
export const SETTINGS = {
  nodeEnv: setting({
    env: 'NODE_ENV',
    schema: z.enum(['development', 'production', 'test']),
    default: 'development',
    description: '`production` refuses the default keys',
  }),
  host: setting({ env: 'TAVERN_HOST', schema: z.string().min(1), default: '0.0.0.0', description: 'address to bind' }),
  port: setting({
    env: 'TAVERN_PORT',
    schema: int(0, 65535),
    default: 7350,
    description: 'HTTP and WebSocket port (Nakama: 7350); 0 picks a free one',
  }),
  publicAddress: setting({
    env: 'TAVERN_PUBLIC_ADDRESS',
    schema: z.string().optional(),
    description: "this process's `host:port` as clients reach it (needed when several processes run)",
  }),
  serverKey: setting({
    env: 'TAVERN_SERVER_KEY',
    schema: z.string().min(1),
    default: 'defaultkey',
    description: 'Basic-auth key clients use to authenticate and refresh (Nakama `socket.server_key`)',
  }),
  httpKey: setting({
    env: 'TAVERN_HTTP_KEY',
    schema: z.string().min(1),
    default: 'defaulthttpkey',
    description: 'key for server-to-server RPC calls (`?http_key=`)',
  }),
  sessionKey: setting({
    env: 'TAVERN_SESSION_ENCRYPTION_KEY',
    schema: z.string().min(1),
    default: 'defaultencryptionkey',
    description: 'HS256 key for session tokens',
  }),
  refreshKey: setting({
    env: 'TAVERN_REFRESH_ENCRYPTION_KEY',
    schema: z.string().min(1),
    default: 'defaultrefreshencryptionkey',
    description: 'HS256 key for refresh tokens',
  }),
  tokenExpirySec: setting({
    env: 'TAVERN_TOKEN_EXPIRY_SEC',
    schema: int(1, 31_536_000),
    default: 60,
    description: 'session token lifetime in seconds',
  }),
  refreshTokenExpirySec: setting({
    env: 'TAVERN_REFRESH_TOKEN_EXPIRY_SEC',
    schema: int(1, 31_536_000),
    default: 3600,
    description: 'refresh token lifetime in seconds',
  }),
  bodyLimitBytes: setting({
    env: 'TAVERN_MAX_REQUEST_SIZE_BYTES',
    schema: int(1024, 64 * 1024 * 1024),
    default: 262_144,
    description: 'largest HTTP request body',
  }),
  socketMessageLimitBytes: setting({
    env: 'TAVERN_MAX_MESSAGE_SIZE_BYTES',
    schema: int(256, 16 * 1024 * 1024),
    default: 4096,
    description: 'largest realtime message content; bigger content gets an `error` message',
  }),
  databaseUrl: setting({
    env: 'DATABASE_URL',
    schema: optionalUrl,
    description: 'PostgreSQL URL; unset runs the embedded PGlite database',
  }),
  redisUrl: setting({
    env: 'REDIS_URL',
    schema: optionalUrl,
    description: 'Redis URL: presence and the room registry go through Redis so several processes form one fleet; needs `DATABASE_URL`',
  }),
  dataDir: setting({
    env: 'TAVERN_DATA_DIR',
    schema: z.string().min(1),
    default: './data',
    description: 'where the embedded database keeps its files',
  }),
  dbPoolSize: setting({
    env: 'TAVERN_DB_POOL_SIZE',
    schema: int(1, 500),
    default: 20,
    description: 'PostgreSQL connections per process (the embedded database always uses 1)',
  }),
  logLevel: setting({
    env: 'TAVERN_LOG_LEVEL',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    description: 'pino log level',
  }),
  logFormat: setting({
    env: 'TAVERN_LOG_FORMAT',
    schema: z.enum(['auto', 'json', 'pretty']),
    default: 'auto',
    description: '`auto`: pretty on a terminal, JSON otherwise',
  }),
  rateLimitPerIp: setting({
    env: 'TAVERN_RATE_LIMIT_REQUESTS',
    schema: int(0, 10_000_000),
    default: 600,
    description: 'HTTP requests one IP may make per window (0 disables)',
  }),
  rateLimitWindowSec: setting({
    env: 'TAVERN_RATE_LIMIT_WINDOW_SEC',
    schema: int(1, 86_400),
    default: 10,
    description: 'window of the per-IP request limit',
  }),
  trustProxy: setting({
    env: 'TAVERN_TRUST_PROXY',
    schema: z.string(),
    default: 'false',
    description: 'Express `trust proxy`: `false`, `true`, a hop count or a list of subnets',
  }),
  loginMaxFailuresPerAccount: setting({
    env: 'TAVERN_LOGIN_MAX_FAILURES_ACCOUNT',
    schema: int(1, 1_000_000),
    default: 5,
    description: 'failed logins per account before it is locked out for the window',
  }),
  loginAccountWindowSec: setting({
    env: 'TAVERN_LOGIN_ACCOUNT_WINDOW_SEC',
    schema: int(1, 86_400),
    default: 60,
    description: 'lockout window for an account',
  }),
  loginMaxFailuresPerIp: setting({
    env: 'TAVERN_LOGIN_MAX_FAILURES_IP',
    schema: int(1, 1_000_000),
    default: 10,
    description: 'failed logins per IP before it is locked out for the window',
  }),
  loginIpWindowSec: setting({
    env: 'TAVERN_LOGIN_IP_WINDOW_SEC',
    schema: int(1, 86_400),
    default: 600,
    description: 'lockout window for an IP',
  }),
  reconnectWindowSec: setting({
    env: 'TAVERN_RECONNECT_WINDOW_SEC',
    schema: int(0, 3600),
    default: 20,
    description: 'how long a dropped realtime client may take to reconnect and keep its seat (0: no reconnection)',
  }),
  pingIntervalMs: setting({
    env: 'TAVERN_PING_INTERVAL_MS',
    schema: int(0, 600_000),
    default: 15_000,
    description: 'how often the server pings each realtime socket; one that misses 2 pings in a row is closed (Nakama: 15 s; 0: no pings)',
  }),
  singleSocket: setting({
    env: 'TAVERN_SINGLE_SOCKET',
    schema: bool,
    default: 'false',
    description: "a user's new realtime session closes their older ones (Nakama `session.single_socket`)",
  }),
  messagesPerSecond: setting({
    env: 'TAVERN_MAX_MESSAGES_PER_SECOND',
    schema: int(0, 100_000),
    default: 100,
    description: 'realtime messages a client may send per second (bursts of twice that); a flooder is warned, then dropped (0: off)',
  }),
  maxBufferedBytes: setting({
    env: 'TAVERN_MAX_CLIENT_BUFFER_BYTES',
    schema: int(0, 1 << 30),
    default: 1 << 20,
    description: 'unsent bytes a realtime client may have queued before it is disconnected as a slow reader (0: off)',
  }),
  shutdownGraceSec: setting({
    env: 'TAVERN_SHUTDOWN_GRACE_SEC',
    schema: int(0, 3600),
    default: 30,
    description: 'how long a stopping process waits for requests and rooms to finish',
  }),
  runtimePath: setting({
    env: 'TAVERN_RUNTIME_PATH',
    schema: z.string().min(1),
    default: './modules',
    description: 'folder of server logic modules (`.ts` / `.js`, each exporting `InitModule`)',
  }),
  runtimeEnv: setting({
    env: 'TAVERN_RUNTIME_ENV',
    schema: z
      .string()
      .transform((s, ctx) => {
        try {
          return JSON.parse(s) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
          return z.NEVER;
        }
      })
      .pipe(z.record(z.string(), z.string())),
    default: '{}',
    description: 'JSON object of strings given to modules as `ctx.env`',
  }),
  nodeName: setting({
    env: 'TAVERN_NODE_NAME',
    schema: z.string().min(1).max(64),
    default: 'tavern',
    description: "this process's name in `ctx.node` and presences",
  }),
  dev: setting({
    env: 'TAVERN_DEV',
    schema: bool,
    default: 'false',
    description: 'dev mode: reload runtime modules when they change (`npm run dev` sets it)',
  }),
  maxFriends: setting({
    env: 'TAVERN_MAX_FRIENDS',
    schema: int(1, 1_000_000),
    default: 1000,
    description: 'most friends, invites and blocks one user may have; adds beyond it are refused',
  }),
  matchmakerIntervalMs: setting({
    env: 'TAVERN_MATCHMAKER_INTERVAL_MS',
    schema: int(10, 3_600_000),
    default: 15_000,
    description: 'how often each matchmaker queue forms matches (Nakama `matchmaker.interval_sec`: 15 s)',
  }),
  matchmakerMaxIntervals: setting({
    env: 'TAVERN_MATCHMAKER_MAX_INTERVALS',
    schema: int(1, 1000),
    default: 2,
    description: 'intervals a ticket waits for a full match before it accepts fewer players, down to its `min_count`',
  }),
  matchmakerMaxTickets: setting({
    env: 'TAVERN_MATCHMAKER_MAX_TICKETS',
    schema: int(1, 100),
    default: 3,
    description: 'matchmaker tickets one user (or party) may have waiting at once',
  }),
  metrics: setting({
    env: 'TAVERN_METRICS',
    schema: bool,
    default: 'true',
    description: 'serve Prometheus metrics at `/metrics`',
  }),
} as const;

type Settings = typeof SETTINGS;
/** The parsed, frozen configuration. */
export type Config = { readonly [K in keyof Settings]: z.output<Settings[K]['schema']> } & {
  readonly usesDefaultKeys: readonly string[];
};

/** Thrown when a setting is invalid; the message names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DEFAULT_KEYS = ['serverKey', 'httpKey', 'sessionKey', 'refreshKey'] as const;

/** The flag for a setting: `TAVERN_TOKEN_EXPIRY_SEC` → `--token-expiry-sec`. */
export function flagName(env: string): string {
  return (
    '--' +
    env
      .replace(/^TAVERN_/, '')
      .toLowerCase()
      .replace(/_/g, '-')
  );
}

function parseArgv(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    if (eq > 0) out.set(arg.slice(0, eq), arg.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) out.set(arg, argv[++i]!);
    else out.set(arg, 'true');
  }
  return out;
}

/**
 * Parses settings from an environment and argv (flags win over the environment). Pure: tests pass
 * their own `env` and `argv`; `loadConfig()` passes the process's.
 */
export function parseConfig(
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[] = [],
  overrides: Partial<Record<keyof Settings, unknown>> = {},
): Config {
  const flags = parseArgv(argv);
  const known = new Set(Object.values(SETTINGS).map((s) => flagName(s.env)));
  for (const flag of flags.keys()) {
    if (!known.has(flag)) throw new ConfigError(`unknown flag ${flag}`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(SETTINGS) as [keyof Settings, Setting<z.ZodType>][]) {
    const raw = name in overrides ? overrides[name] : (flags.get(flagName(s.env)) ?? env[s.env] ?? s.default);
    const parsed = s.schema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => i.message).join('; ');
      throw new ConfigError(`invalid ${s.env} (${flagName(s.env)}): ${why}`);
    }
    out[name] = parsed.data;
  }
  if (out.redisUrl && !out.databaseUrl) {
    throw new ConfigError('REDIS_URL (--redis-url) needs DATABASE_URL: the embedded database serves a single process');
  }
  const usesDefaultKeys = DEFAULT_KEYS.filter((k) => out[k] === SETTINGS[k].default).map((k) => SETTINGS[k].env);
  if (out.nodeEnv === 'production' && usesDefaultKeys.length > 0) {
    throw new ConfigError(`refusing to start in production with default keys: ${usesDefaultKeys.join(', ')}`);
  }
  return Object.freeze({ ...out, usesDefaultKeys: Object.freeze(usesDefaultKeys) }) as Config;
}

/** The process's configuration, from `process.env` and `process.argv`. */
export function loadConfig(overrides: Partial<Record<keyof Settings, unknown>> = {}): Config {
  return parseConfig(process.env, process.argv.slice(2), overrides);
}

/** Whether stdout is a terminal (for the log format); kept here so nothing else touches `process`. */
export function stdoutIsTty(): boolean {
  return process.stdout.isTTY === true;
}
