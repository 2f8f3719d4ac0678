/** Builds Nakama's frozen runtime context from what a transport knows about a call. */
import type { HookContext } from './registry.js';
import type { Context, ExecutionMode } from './types.js';

/** Facts about this process every context carries. */
export interface RuntimeInfo {
  env: Readonly<Record<string, string>>;
  node: string;
  version: string;
}

const asList = (v: unknown): string[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

function lists(o: Readonly<Record<string, unknown>> | undefined): Record<string, string[]> | undefined {
  if (!o) return undefined;
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(o)) out[k] = asList(v);
  return Object.freeze(out);
}

export function buildContext(info: RuntimeInfo, mode: ExecutionMode, call?: HookContext, extra: Partial<Context> = {}): Context {
  const headers = lists(call?.headers);
  const queryParams = lists(call?.queryParams);
  const ctx: Context = {
    env: info.env,
    executionMode: mode,
    node: info.node,
    version: info.version,
    ...(headers ? { headers } : {}),
    ...(queryParams ? { queryParams } : {}),
    ...(call?.userId ? { userId: call.userId } : {}),
    ...(call?.username ? { username: call.username } : {}),
    ...(call?.vars ? { vars: call.vars } : {}),
    ...(call?.expiry ? { userSessionExp: call.expiry } : {}),
    ...(call?.sessionId ? { sessionId: call.sessionId } : {}),
    ...(call?.clientIp ? { clientIp: call.clientIp } : {}),
    ...(call?.clientPort ? { clientPort: call.clientPort } : {}),
    ...(call?.lang ? { lang: call.lang } : {}),
    ...extra,
  };
  return Object.freeze(ctx);
}
