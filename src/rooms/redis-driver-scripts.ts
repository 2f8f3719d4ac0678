/**
 * Lua scripts of `TavernRedisDriver` (src/rooms/redis.driver.ts). Each runs atomically on the Redis
 * server, so a room's JSON and its index memberships never disagree, whichever processes write.
 *
 * Shared conventions (see the key layout in redis.driver.ts):
 * - `rooms`: hash roomId → listing JSON.
 * - `idx`:   hash roomId → JSON array of the index set keys the room is currently a member of.
 *   A write replaces that list: it SREMs the room from the keys it leaves and SADDs it to the new
 *   ones; a removal SREMs it from all of them.
 *
 * Index keys are computed in TypeScript and passed as KEYS; the sweep and cleanup scripts also
 * touch the keys recorded in `idx`, which they cannot declare up front. That is fine on a single
 * Redis (or a replicated one); on Redis Cluster every key must share a hash slot — put a hash tag in
 * the key prefix, e.g. `{tavern:mm}:`.
 */

/** Lua helper: drop one room from every index, its JSON and its `idx` entry. Returns the JSON or false. */
const DROP_ROOM = `
local function drop_room(rooms, idx, id)
  local json = redis.call('HGET', rooms, id)
  local old = redis.call('HGET', idx, id)
  if old then
    for _, k in ipairs(cjson.decode(old)) do redis.call('SREM', k, id) end
  end
  redis.call('HDEL', idx, id)
  redis.call('HDEL', rooms, id)
  return json
end

local function drop_process_rooms(rooms, idx, proc_rooms)
  local out = {}
  local ids = redis.call('SMEMBERS', proc_rooms)
  for _, id in ipairs(ids) do
    local json = drop_room(rooms, idx, id)
    if json then out[#out + 1] = json end
  end
  redis.call('DEL', proc_rooms)
  return out
end
`;

/**
 * Write a listing and recompute its index membership.
 * KEYS: rooms, idx, ...index set keys the room belongs to now.
 * ARGV: roomId, json, mode — 'insert' (only if absent), 'update' (only if present), 'upsert'.
 * Returns 1 when written, 0 when the mode's condition refused it.
 */
export const WRITE_ROOM = `
local rooms, idx = KEYS[1], KEYS[2]
local id, json, mode = ARGV[1], ARGV[2], ARGV[3]
local exists = redis.call('HEXISTS', rooms, id) == 1
if mode == 'insert' and exists then return 0 end
if mode == 'update' and not exists then return 0 end
local new, keep = {}, {}
for i = 3, #KEYS do
  new[#new + 1] = KEYS[i]
  keep[KEYS[i]] = true
end
local old = redis.call('HGET', idx, id)
if old then
  for _, k in ipairs(cjson.decode(old)) do
    if not keep[k] then redis.call('SREM', k, id) end
  end
end
for _, k in ipairs(new) do redis.call('SADD', k, id) end
redis.call('HSET', rooms, id, json)
redis.call('HSET', idx, id, cjson.encode(new))
return 1
`;

/**
 * Remove one room from every index.
 * KEYS: rooms, idx. ARGV: roomId. Returns 1 when it existed.
 */
export const REMOVE_ROOM = `${DROP_ROOM}
if drop_room(KEYS[1], KEYS[2], ARGV[1]) then return 1 end
return 0
`;

/**
 * The listings of the rooms in one index set, in one round trip and one consistent snapshot.
 * KEYS: set, rooms. Returns an array of JSON strings.
 */
export const READ_SET = `
local ids = redis.call('SMEMBERS', KEYS[1])
local out = {}
for i = 1, #ids, 500 do
  local chunk = {}
  for j = i, math.min(i + 499, #ids) do chunk[#chunk + 1] = ids[j] end
  local values = redis.call('HMGET', KEYS[2], unpack(chunk))
  for _, v in ipairs(values) do
    if v then out[#out + 1] = v end
  end
end
return out
`;

/**
 * Remove every room of one process (its registration is left alone).
 * KEYS: rooms, idx, process room set. Returns the removed listings' JSON.
 */
export const CLEANUP_PROCESS = `${DROP_ROOM}
return drop_process_rooms(KEYS[1], KEYS[2], KEYS[3])
`;

/**
 * Sweep a dead process: only if its heartbeat is still missing and it is still registered (so of
 * several survivors sweeping at once exactly one gets the rooms), drop its rooms and registration.
 * KEYS: rooms, idx, processes set, heartbeat key, process room set. ARGV: processId.
 * Returns the removed listings' JSON, or false when there was nothing to sweep.
 */
export const SWEEP_PROCESS = `${DROP_ROOM}
if redis.call('EXISTS', KEYS[4]) == 1 then return false end
if redis.call('SREM', KEYS[3], ARGV[1]) == 0 then return false end
return drop_process_rooms(KEYS[1], KEYS[2], KEYS[5])
`;

/**
 * Heartbeat: refresh the heartbeat key and make sure the process is registered.
 * KEYS: processes set, heartbeat key. ARGV: processId, ttl ms.
 * Returns 1 when the process had to be (re-)registered, 0 when it already was.
 */
export const HEARTBEAT = `
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return redis.call('SADD', KEYS[1], ARGV[1])
`;

/**
 * Every registered process and whether its heartbeat is alive.
 * KEYS: processes set. ARGV: heartbeat key prefix. Returns a flat array: pid, 1|0, pid, 1|0, ...
 */
export const LIST_PROCESSES = `
local out = {}
for _, pid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = pid
  out[#out + 1] = redis.call('EXISTS', ARGV[1] .. pid)
end
return out
`;

/**
 * Deregister on shutdown: drop the heartbeat; drop the registration too unless the process still
 * has rooms listed (a shutdown without graceful cleanup), which are then left to the sweep of a
 * survivor instead of being orphaned forever.
 * KEYS: processes set, heartbeat key, process room set. ARGV: processId. Returns 1 when deregistered.
 */
export const DEREGISTER = `
redis.call('DEL', KEYS[2])
if redis.call('SCARD', KEYS[3]) > 0 then return 0 end
redis.call('SREM', KEYS[1], ARGV[1])
return 1
`;

export const SCRIPTS = {
  tavernMmWrite: WRITE_ROOM,
  tavernMmRemove: REMOVE_ROOM,
  tavernMmReadSet: READ_SET,
  tavernMmCleanup: CLEANUP_PROCESS,
  tavernMmSweep: SWEEP_PROCESS,
  tavernMmHeartbeat: HEARTBEAT,
  tavernMmProcesses: LIST_PROCESSES,
  tavernMmDeregister: DEREGISTER,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
