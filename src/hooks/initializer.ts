/**
 * The `Initializer` handed to one module's `InitModule`: checks each registration (known names,
 * functions) and stores it, wrapped with the module's logger and `nk`, in the registry being built.
 */
import type { Logger } from 'pino';
import { AppError, Code } from '../errors.js';
import { translateDbError } from '../services/db.js';
import { buildContext, type RuntimeInfo } from './context.js';
import type { Nakama } from './nk.js';
import { canonicalOperation, REALTIME_MESSAGES } from './operations.js';
import { realtimeName, type HookRegistry } from './registry.js';
import type { Initializer } from './types.js';

/** Thrown when a module registers something invalid; stops startup (or a reload). */
export class RegistrationError extends Error {
  override name = 'RegistrationError';
}

export interface InitializerDeps {
  registry: HookRegistry;
  module: string;
  logger: Logger;
  nk: Nakama;
  info: RuntimeInfo;
  /** Operations the API serves now (canonical names). */
  served: ReadonlySet<string>;
}

const realtime = new Set<string>(REALTIME_MESSAGES);
/** Designer room names; Tavern's own rooms keep theirs. */
const ROOM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const RESERVED_ROOMS = new Set(['session', 'chat', 'match', 'matchmaker', 'party']);

function mustBeFunction(fn: unknown, what: string): void {
  if (typeof fn !== 'function') throw new RegistrationError(`${what}: expected a function, got ${typeof fn}`);
}

/** Converts what a hook returned or threw into the shapes the transports expect. */
function asAppError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const db = translateDbError(err);
  if (db instanceof AppError) return db;
  const e = err as { message?: unknown; code?: unknown };
  if (e && typeof e.message === 'string' && typeof e.code === 'number' && Number.isInteger(e.code) && e.code > 0 && e.code <= 16) {
    return new AppError(e.code as Code, e.message);
  }
  return err;
}

export function createInitializer(d: InitializerDeps): Initializer {
  const { registry, logger, nk, info } = d;
  const operation = (name: unknown, kind: string): string => {
    if (typeof name !== 'string') throw new RegistrationError(`${kind}: operation name must be a string`);
    const canonical = canonicalOperation(name);
    if (!canonical) throw new RegistrationError(`${kind}("${name}"): not a Nakama API operation (see shared/reference/nakama-rest-v2.tsv)`);
    if (!d.served.has(canonical))
      logger.warn({ operation: canonical }, `${kind}: Tavern does not serve ${canonical} yet; the hook will run once it does`);
    return canonical;
  };
  const message = (name: unknown, kind: string): string => {
    if (typeof name !== 'string' || !realtime.has(realtimeName(name))) {
      throw new RegistrationError(`${kind}("${String(name)}"): not a realtime message name (see shared/reference/realtime-messages.md)`);
    }
    return realtimeName(name);
  };
  const rethrow = (err: unknown): never => {
    throw asAppError(err);
  };

  return {
    registerRpc(id, fn) {
      if (typeof id !== 'string' || id.length === 0 || id.length > 128)
        throw new RegistrationError('registerRpc: id must be 1-128 characters');
      mustBeFunction(fn, `registerRpc("${id}")`);
      registry.registerRpc(id, async (call, payload) => {
        const ctx = buildContext(info, 'rpc', call);
        const result = await Promise.resolve(fn(ctx, logger, nk, payload)).catch(rethrow);
        if (result === null || result === undefined) return undefined;
        if (typeof result !== 'string') throw new AppError(Code.INTERNAL, `RPC "${id}" returned a ${typeof result}, expected a string.`);
        return result;
      });
    },
    registerBefore(op, fn) {
      const name = operation(op, 'registerBefore');
      mustBeFunction(fn, `registerBefore("${name}")`);
      registry.registerBefore(name, async (call, request) =>
        Promise.resolve(fn(buildContext(info, 'before', call), logger, nk, request as never)).catch(rethrow),
      );
    },
    registerAfter(op, fn) {
      const name = operation(op, 'registerAfter');
      mustBeFunction(fn, `registerAfter("${name}")`);
      registry.registerAfter(name, (call, response, request) =>
        fn(buildContext(info, 'after', call), logger, nk, response as never, request as never),
      );
    },
    registerRtBefore(msg, fn) {
      const name = message(msg, 'registerRtBefore');
      mustBeFunction(fn, `registerRtBefore("${name}")`);
      registry.registerRtBefore(name, async (call, envelope) =>
        Promise.resolve(fn(buildContext(info, 'before', call), logger, nk, envelope as Record<string, unknown>)).catch(rethrow),
      );
    },
    registerRtAfter(msg, fn) {
      const name = message(msg, 'registerRtAfter');
      mustBeFunction(fn, `registerRtAfter("${name}")`);
      registry.registerRtAfter(name, (call, output, input) =>
        fn(buildContext(info, 'after', call), logger, nk, output, input as Record<string, unknown>),
      );
    },
    registerMatch(name, handler) {
      if (typeof name !== 'string' || name.length === 0) throw new RegistrationError('registerMatch: name must be a non-empty string');
      const required = ['matchInit', 'matchJoinAttempt', 'matchJoin', 'matchLeave', 'matchLoop', 'matchTerminate', 'matchSignal'] as const;
      for (const m of required) mustBeFunction((handler as unknown as Record<string, unknown>)?.[m], `registerMatch("${name}").${m}`);
      if (registry.matches.has(name))
        throw new RegistrationError(`registerMatch("${name}"): already registered by ${registry.matches.get(name)!.module}`);
      registry.matches.set(name, { fn: handler as never, module: d.module });
    },
    registerRoom(name, roomClass, options = {}) {
      if (typeof name !== 'string' || !ROOM_NAME.test(name))
        throw new RegistrationError('registerRoom: name must be 1–64 letters, digits, `_`, `-` or `.`');
      if (RESERVED_ROOMS.has(name)) throw new RegistrationError(`registerRoom("${name}"): the name is Tavern's own room`);
      mustBeFunction(roomClass, `registerRoom("${name}")`);
      if (registry.rooms.has(name))
        throw new RegistrationError(`registerRoom("${name}"): already registered by ${registry.rooms.get(name)!.module}`);
      if (typeof options !== 'object' || options === null)
        throw new RegistrationError(`registerRoom("${name}"): options must be an object`);
      if (options.filterBy !== undefined && (!Array.isArray(options.filterBy) || options.filterBy.some((f) => typeof f !== 'string')))
        throw new RegistrationError(`registerRoom("${name}"): filterBy must be an array of option names`);
      registry.rooms.set(name, { fn: { roomClass, options }, module: d.module });
    },
    registerMatchmakerMatched(fn) {
      mustBeFunction(fn, 'registerMatchmakerMatched');
      registry.matchmakerMatched = { fn, module: d.module };
    },
    registerLeaderboardReset(fn) {
      mustBeFunction(fn, 'registerLeaderboardReset');
      registry.leaderboardReset.push({ fn, module: d.module });
    },
    registerTournamentReset(fn) {
      mustBeFunction(fn, 'registerTournamentReset');
      registry.tournamentReset.push({ fn, module: d.module });
    },
    registerTournamentEnd(fn) {
      mustBeFunction(fn, 'registerTournamentEnd');
      registry.tournamentEnd.push({ fn, module: d.module });
    },
    registerShutdown(fn) {
      mustBeFunction(fn, 'registerShutdown');
      registry.shutdown.push({ fn, module: d.module });
    },
  };
}
