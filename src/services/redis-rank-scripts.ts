/**
 * The Lua scripts of the Redis rank cache (see redis-rank-cache.ts): each runs atomically in Redis.
 * Scripts are sent by SHA (EVALSHA) and loaded on a NOSCRIPT answer.
 */
import { createHash } from 'node:crypto';

export interface Script {
  lua: string;
  sha: string;
  keys: number;
}

const script = (keys: number, lua: string): Script => ({ lua, keys, sha: createHash('sha1').update(lua).digest('hex') });

/** Helpers shared by the scripts: an owner hash value is the 80-char key followed by the version. */
const LUA_LIB = `
local function keyOf(v) return string.sub(v, 1, 80) end
local function versionOf(v) return tonumber(string.sub(v, 81)) end
`;

/**
 * KEYS set, owners, marker, pending; ARGV owner, key, version. Returns the rank, 0 while the period
 * loads (the write is kept for the handover), -1 when it is not loaded anywhere.
 */
export const UPSERT = script(
  4,
  `${LUA_LIB}
local state = redis.call('GET', KEYS[3])
if state ~= 'ready' then
  if not state then return -1 end
  local p = redis.call('HGET', KEYS[4], ARGV[1])
  if not (p and p ~= '' and versionOf(p) > tonumber(ARGV[3])) then
    redis.call('HSET', KEYS[4], ARGV[1], ARGV[2] .. ARGV[3])
  end
  return 0
end
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then
  if versionOf(old) > tonumber(ARGV[3]) then return redis.call('ZRANK', KEYS[1], keyOf(old)) + 1 end
  if keyOf(old) ~= ARGV[2] then redis.call('ZREM', KEYS[1], keyOf(old)) end
end
redis.call('ZADD', KEYS[1], 0, ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ARGV[3])
return redis.call('ZRANK', KEYS[1], ARGV[2]) + 1`,
);

/** KEYS set, owners, marker, pending; ARGV owner. */
export const REMOVE = script(
  4,
  `${LUA_LIB}
local state = redis.call('GET', KEYS[3])
if state and state ~= 'ready' then
  redis.call('HSET', KEYS[4], ARGV[1], '')
  return 0
end
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then
  redis.call('ZREM', KEYS[1], keyOf(old))
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1`,
);

/** KEYS set, owners, marker; ARGV owner. Rank, 0 when the owner has none, -1 when not ready. */
export const RANK_OF = script(
  3,
  `${LUA_LIB}
if redis.call('GET', KEYS[3]) ~= 'ready' then return -1 end
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v then return 0 end
local r = redis.call('ZRANK', KEYS[1], keyOf(v))
if not r then return 0 end
return r + 1`,
);

/** KEYS set, marker; ARGV key. Rank, 0 when absent, -1 when not ready. */
export const RANK_OF_KEY = script(
  2,
  `if redis.call('GET', KEYS[2]) ~= 'ready' then return -1 end
local r = redis.call('ZRANK', KEYS[1], ARGV[1])
if not r then return 0 end
return r + 1`,
);

/** KEYS set, marker. Count, -1 when not ready. */
export const COUNT = script(
  2,
  `if redis.call('GET', KEYS[2]) ~= 'ready' then return -1 end
return redis.call('ZCARD', KEYS[1])`,
);

/** KEYS set, marker; ARGV start, end (0-based, start >= 0). The keys, or nil when not ready. */
export const RANGE = script(
  2,
  `if redis.call('GET', KEYS[2]) ~= 'ready' then return false end
return redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2])`,
);

/**
 * KEYS marker, periods, pending; ARGV token, lease ms, expiry. 'claimed', or the marker's value.
 * A new claim forgets pending writes: they committed before it, so its snapshot has them.
 */
export const CLAIM = script(
  3,
  `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SADD', KEYS[2], ARGV[3])
  redis.call('DEL', KEYS[3])
  return 'claimed'
end
return redis.call('GET', KEYS[1])`,
);

/** KEYS marker, load set, load owners; ARGV token, lease ms, temporary keys' TTL ms. 1 if still ours. */
export const RENEW = script(
  3,
  `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1`,
);

/** KEYS marker, load set, load owners, periods, pending; ARGV token, expiry. Gives a load up. */
export const RELEASE = script(
  5,
  `redis.call('UNLINK', KEYS[2], KEYS[3])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[5])
  redis.call('SREM', KEYS[4], ARGV[2])
end
return 1`,
);

/**
 * KEYS marker, load set, load owners, set, owners, pending, periods; ARGV token, TTL s (0: none),
 * expiry. Applies the pending writes to the loaded keys, puts them in place, marks the period
 * ready. 1, or 0 when the claim was lost (nothing changes but the temporary keys are dropped).
 */
export const HANDOVER = script(
  7,
  `${LUA_LIB}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  redis.call('UNLINK', KEYS[2], KEYS[3])
  return 0
end
local p = redis.call('HGETALL', KEYS[6])
for i = 1, #p, 2 do
  local owner, op = p[i], p[i + 1]
  local cur = redis.call('HGET', KEYS[3], owner)
  if op == '' then
    if cur then
      redis.call('ZREM', KEYS[2], keyOf(cur))
      redis.call('HDEL', KEYS[3], owner)
    end
  elseif not cur or versionOf(cur) <= versionOf(op) then
    if cur then redis.call('ZREM', KEYS[2], keyOf(cur)) end
    redis.call('ZADD', KEYS[2], 0, keyOf(op))
    redis.call('HSET', KEYS[3], owner, op)
  end
end
redis.call('UNLINK', KEYS[4], KEYS[5], KEYS[6])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[4]) end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('RENAME', KEYS[3], KEYS[5]) end
redis.call('SET', KEYS[1], 'ready')
local ttl = tonumber(ARGV[2])
for _, k in ipairs({ KEYS[1], KEYS[4], KEYS[5] }) do
  if ttl > 0 then redis.call('EXPIRE', k, ttl) else redis.call('PERSIST', k) end
end
redis.call('SADD', KEYS[7], ARGV[3])
return 1`,
);
