/** Converters from service objects to Nakama's JSON (snake_case, unset fields omitted, times RFC 3339). */
import type { Account } from '../services/accounts.js';
import type { User } from '../services/users.js';
import type { TokenPair } from '../auth/tokens.js';

/** A timestamp as protobuf's JSON mapping writes it (no fraction when it is zero). */
export function protoTime(d: Date): string {
  return d.toISOString().replace('.000Z', 'Z');
}

/** Drops keys whose value is undefined, null, '', 0 or false, as grpc-gateway does. */
function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== '' && v !== 0 && v !== false) out[k] = v;
  return out as Partial<T>;
}

export function wireUser(u: User) {
  return compact({
    id: u.id,
    username: u.username,
    display_name: u.displayName,
    avatar_url: u.avatarUrl,
    lang_tag: u.langTag,
    location: u.location,
    timezone: u.timezone,
    metadata: JSON.stringify(u.metadata),
    edge_count: u.edgeCount,
    create_time: protoTime(u.createTime),
    update_time: protoTime(u.updateTime),
    online: u.online,
  });
}

export function wireAccount(a: Account) {
  return compact({
    user: wireUser(a.user),
    wallet: a.walletJson,
    email: a.email,
    devices: a.devices.length > 0 ? a.devices.map((d) => ({ id: d.id })) : undefined,
    custom_id: a.customId,
    verify_time: a.verifyTime && protoTime(a.verifyTime),
    disable_time: a.disableTime && protoTime(a.disableTime),
  });
}

export function wireSession(pair: TokenPair, created: boolean) {
  return compact({ created, token: pair.token, refresh_token: pair.refreshToken });
}
