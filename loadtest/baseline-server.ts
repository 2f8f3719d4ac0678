/**
 * The benchmark's baseline: the least code that does the work of Tavern's device authentication —
 * raw `node:http`, plain `pg`, `jsonwebtoken` with `KeyObject`s — so `npm run bench` can say how much
 * Tavern's layers (Express, zod, pipeline, MikroORM/Kysely, logging, metrics) cost on top of it.
 *
 * Same work as `src/services/authenticate.ts` + `src/auth/tokens.ts`: the same SELECT join; when
 * absent, BEGIN; INSERT users … RETURNING; INSERT user_device … ON CONFLICT DO NOTHING RETURNING;
 * COMMIT; then two HS256 JWTs with the same claims; the same JSON answer. The server key is checked
 * and the device id's length validated; no logging, metrics or rate limiting.
 *
 * Also storage (`src/services/storage.ts` + `src/api/storage.ts`), for a user's session token
 * (HS256 verified with a `KeyObject`, claims checked; no revocation list): PUT /v2/storage writes a
 * batch unconditionally (BEGIN; `insert … on conflict (collection, key, user_id) do update … where
 * s.write = 1 returning …` per object, MD5 version; COMMIT) and POST /v2/storage reads by ids
 * (`join unnest(…)` with the permission filter), answering Nakama's JSON shapes. Only the request
 * shapes the benchmark sends are handled (no versioned or `*` writes).
 *
 * Env: PORT, DATABASE_URL, POOL_SIZE (20, Tavern's default), and Tavern's key/expiry variables.
 */
import { createHash, createSecretKey, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import jwt from 'jsonwebtoken';
import pg from 'pg';

const env = process.env;
const port = Number(env.PORT ?? 7351);
const serverKey = Buffer.from(env.TAVERN_SERVER_KEY ?? 'defaultkey', 'utf8');
const sessionKey = createSecretKey(Buffer.from(env.TAVERN_SESSION_ENCRYPTION_KEY ?? 'defaultencryptionkey', 'utf8'));
const refreshKey = createSecretKey(Buffer.from(env.TAVERN_REFRESH_ENCRYPTION_KEY ?? 'defaultrefreshencryptionkey', 'utf8'));
const tokenExpirySec = Number(env.TAVERN_TOKEN_EXPIRY_SEC ?? 60);
const refreshTokenExpirySec = Number(env.TAVERN_REFRESH_TOKEN_EXPIRY_SEC ?? 3600);

const pool = new pg.Pool({
  connectionString: env.DATABASE_URL,
  max: Number(env.POOL_SIZE ?? 20),
  min: 0,
  idleTimeoutMillis: 30_000,
  connectionTimeoutMillis: 3000,
});

const COLUMNS =
  'u.id, u.username, u.display_name, u.avatar_url, u.lang_tag, u.location, u.timezone, u.metadata, u.wallet, u.email, u.password, u.custom_id, u.edge_count, u.create_time, u.update_time, u.verify_time, u.disable_time';
const SELECT_BY_DEVICE = `select ${COLUMNS} from user_device d join users u on u.id = d.user_id where d.id = $1`;
const INSERT_USER = `insert into users as u (id, username) values ($1, $2) returning ${COLUMNS}`;
const INSERT_DEVICE = 'insert into user_device (id, user_id) values ($1, $2) on conflict (id) do nothing returning id';

interface UserRow {
  id: string;
  username: string;
  disable_time: Date | null;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
function generateUsername(): string {
  let s = '';
  for (const x of randomBytes(10)) s += LETTERS[x % LETTERS.length];
  return s;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function checkServerKey(header: string | undefined): void {
  const [scheme, value] = (header ?? '').split(' ', 2);
  if (scheme?.toLowerCase() !== 'basic' || !value) throw new HttpError(401, 16, 'Server key invalid');
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const given = Buffer.from(colon >= 0 ? decoded.slice(0, colon) : decoded, 'utf8');
  if (given.length !== serverKey.length || !timingSafeEqual(given, serverKey)) throw new HttpError(401, 16, 'Server key invalid');
}

/** Inserts the user and its device in one transaction; undefined when another request took the device. */
async function insertUser(deviceId: string): Promise<UserRow | undefined> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const id = randomUUID();
    const user = (await client.query<UserRow>(INSERT_USER, [id, generateUsername()])).rows[0];
    const device = await client.query(INSERT_DEVICE, [deviceId, id]);
    if (device.rowCount === 0) {
      await client.query('rollback');
      return undefined;
    }
    await client.query('commit');
    return user;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

async function authenticateDevice(deviceId: string, create: boolean): Promise<{ user: UserRow; created: boolean }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const found = (await pool.query<UserRow>(SELECT_BY_DEVICE, [deviceId])).rows[0];
    if (found) {
      if (found.disable_time && found.disable_time.getTime() > 0) throw new HttpError(403, 7, 'User account banned.');
      return { user: found, created: false };
    }
    if (!create) throw new HttpError(404, 5, 'User account not found.');
    const user = await insertUser(deviceId);
    if (user) return { user, created: true };
  }
  throw new HttpError(409, 10, 'Could not create the account, try again.');
}

function issue(user: UserRow): { token: string; refresh_token: string } {
  const iat = Math.floor(Date.now() / 1000);
  const base = { tid: randomUUID(), uid: user.id, usn: user.username };
  return {
    token: jwt.sign({ ...base, iat, exp: iat + tokenExpirySec }, sessionKey, { algorithm: 'HS256' }),
    refresh_token: jwt.sign({ ...base, iat, exp: iat + refreshTokenExpirySec }, refreshKey, { algorithm: 'HS256' }),
  };
}

const SYSTEM_USER_ID = '00000000-0000-0000-0000-000000000000';
const WRITE_OBJECT = `insert into storage as s (collection, key, user_id, value, version, read, write)
  values ($1, $2, $3, $4::jsonb, $5, $6, $7)
  on conflict (collection, key, user_id) do update
    set value = excluded.value, version = excluded.version, read = excluded.read, write = excluded.write, update_time = now()
    where s.write = 1
  returning collection, key, user_id, version, create_time, update_time`;
const READ_OBJECTS = `select s.collection, s.key, s.user_id, s.value::text as value, s.version, s.read, s.write, s.create_time, s.update_time
  from storage s
  join unnest($1::text[], $2::text[], $3::uuid[]) as q(collection, key, user_id)
    on s.collection = q.collection and s.key = q.key and s.user_id = q.user_id
  where (s.read = 2 or (s.read = 1 and s.user_id = $4))`;

interface StorageRow {
  collection: string;
  key: string;
  user_id: string;
  value?: string;
  version: string;
  read?: number;
  write?: number;
  create_time: Date;
  update_time: Date;
}

/** The user id of a valid session token in an `Authorization: Bearer` header. */
function sessionUser(header: string | undefined): string {
  const [scheme, token] = (header ?? '').split(' ', 2);
  if (scheme?.toLowerCase() !== 'bearer' || !token) throw new HttpError(401, 16, 'Auth token invalid');
  let claims: unknown;
  try {
    claims = jwt.verify(token, sessionKey, { algorithms: ['HS256'] });
  } catch {
    throw new HttpError(401, 16, 'Auth token invalid');
  }
  const c = claims as Record<string, unknown> | null;
  if (typeof c?.uid !== 'string' || typeof c.tid !== 'string' || typeof c.usn !== 'string' || typeof c.exp !== 'number')
    throw new HttpError(401, 16, 'Auth token invalid');
  return c.uid;
}

const protoTime = (d: Date) => d.toISOString().replace('.000Z', 'Z');

function checkName(x: unknown): string {
  if (typeof x !== 'string' || x.length < 1 || x.length > 128)
    throw new HttpError(400, 3, 'Invalid collection or key value supplied. They must be set.');
  return x;
}

async function writeStorage(userId: string, body: unknown): Promise<unknown> {
  const objects = (body as { objects?: unknown } | null)?.objects ?? [];
  if (!Array.isArray(objects) || objects.length > 1000) throw new HttpError(400, 3, 'Invalid objects.');
  const ops = objects.map((o: Record<string, unknown>, index) => {
    const collection = checkName(o?.collection);
    const key = checkName(o?.key);
    if (typeof o.value !== 'string') throw new HttpError(400, 3, 'Object value must be JSON.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(o.value);
    } catch {
      throw new HttpError(400, 3, 'Object value must be JSON.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new HttpError(400, 3, 'Object value must be a JSON object.');
    const read = o.permission_read ?? 1;
    const write = o.permission_write ?? 1;
    return { index, collection, key, text: o.value, version: createHash('md5').update(o.value).digest('hex'), read, write };
  });
  if (ops.length === 0) return {};
  const sorted = [...ops].sort((a, b) => a.collection.localeCompare(b.collection) || a.key.localeCompare(b.key));
  const acks = new Map<number, StorageRow>();
  const client = await pool.connect();
  try {
    await client.query('begin');
    for (const op of sorted) {
      const row = (await client.query<StorageRow>(WRITE_OBJECT, [op.collection, op.key, userId, op.text, op.version, op.read, op.write]))
        .rows[0];
      if (!row) throw new HttpError(400, 3, 'Storage write rejected - permission denied.');
      acks.set(op.index, row);
    }
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  return {
    acks: ops.map((op) => {
      const a = acks.get(op.index)!;
      return {
        collection: a.collection,
        key: a.key,
        version: a.version,
        ...(a.user_id !== SYSTEM_USER_ID ? { user_id: a.user_id } : {}),
        create_time: protoTime(a.create_time),
        update_time: protoTime(a.update_time),
      };
    }),
  };
}

async function readStorage(userId: string, body: unknown): Promise<unknown> {
  const ids = (body as { object_ids?: unknown } | null)?.object_ids ?? [];
  if (!Array.isArray(ids) || ids.length > 1000) throw new HttpError(400, 3, 'Invalid object ids.');
  if (ids.length === 0) return {};
  const collections: string[] = [];
  const keys: string[] = [];
  const users: string[] = [];
  for (const id of ids as Record<string, unknown>[]) {
    collections.push(checkName(id?.collection));
    keys.push(checkName(id?.key));
    users.push(typeof id.user_id === 'string' && id.user_id ? id.user_id : SYSTEM_USER_ID);
  }
  const rows = (await pool.query<StorageRow>(READ_OBJECTS, [collections, keys, users, userId])).rows;
  if (rows.length === 0) return {};
  return {
    objects: rows.map((o) => ({
      collection: o.collection,
      key: o.key,
      ...(o.user_id !== SYSTEM_USER_ID ? { user_id: o.user_id } : {}),
      value: o.value,
      version: o.version,
      ...(o.read ? { permission_read: o.read } : {}),
      ...(o.write ? { permission_write: o.write } : {}),
      create_time: protoTime(o.create_time),
      update_time: protoTime(o.update_time),
    })),
  };
}

async function jsonBody(req: http.IncomingMessage): Promise<unknown> {
  try {
    return JSON.parse(await readBody(req)) as unknown;
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 3, 'Invalid JSON body.');
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 262_144) reject(new HttpError(413, 3, 'Request body too large.'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/healthcheck') {
    await pool.query('select 1');
    return send(res, 200, {});
  }
  if (url.pathname === '/v2/storage' && (req.method === 'PUT' || req.method === 'POST')) {
    const userId = sessionUser(req.headers.authorization);
    const body = await jsonBody(req);
    return send(res, 200, req.method === 'PUT' ? await writeStorage(userId, body) : await readStorage(userId, body));
  }
  if (req.method !== 'POST' || url.pathname !== '/v2/account/authenticate/device') throw new HttpError(404, 5, 'Not found');
  checkServerKey(req.headers.authorization);
  const body = (await jsonBody(req)) as { id?: unknown } | null;
  const id = body?.id;
  const bytes = typeof id === 'string' ? Buffer.byteLength(id) : 0;
  if (typeof id !== 'string' || bytes < 10 || bytes > 128) throw new HttpError(400, 3, 'Device ID must be 10-128 bytes.');
  const { user, created } = await authenticateDevice(id, url.searchParams.get('create') !== 'false');
  const tokens = issue(user);
  send(res, 200, created ? { created, ...tokens } : tokens);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    const e = err instanceof HttpError ? err : new HttpError(500, 13, 'Internal error');
    if (!(err instanceof HttpError)) process.stderr.write(`baseline: ${(err as Error)?.stack ?? String(err)}\n`);
    if (!res.headersSent) send(res, e.status, { error: e.message, code: e.code, message: e.message });
    else res.destroy();
  });
});
server.listen(port, '127.0.0.1');

const stop = () => {
  server.close();
  server.closeAllConnections();
  void pool.end().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
