/**
 * A `MatchRunner` on fake timers with recording ports and a recording handler, for the runner's
 * unit suites (test/actors/match-runner*.test.ts).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { MatchRunner, type MatchEndReason } from '../../src/actors/match-runner.actor.js';
import { AppError } from '../../src/errors.js';
import type { Nakama } from '../../src/hooks/nk.js';
import type { Context, MatchHandler, Presence } from '../../src/hooks/types.js';
import { FakeTimers } from './fake-timers.js';

const info = { env: {}, node: 'node-a', version: 'test' };
export const alice: Presence = { userId: 'u-alice', sessionId: 's-alice', username: 'alice', node: 'node-a' };
export const bob: Presence = { userId: 'u-bob', sessionId: 's-bob', username: 'bob', node: 'node-a' };
export const carol: Presence = { userId: 'u-carol', sessionId: 's-carol', username: 'carol', node: 'node-a' };

/** A handler that records its calls; `over` replaces any of its functions. */
export function handler(over: Partial<MatchHandler<any>> = {}) {
  const calls: { hook: string; tick?: number; ctx: Context; arg?: unknown }[] = [];
  const h: MatchHandler<any> = {
    matchInit: (ctx, _l, _nk, params) => {
      calls.push({ hook: 'init', ctx, arg: params });
      return { state: { n: 0 }, tickRate: 10, label: '{"mode":"duel"}' };
    },
    matchJoinAttempt: (ctx, _l, _nk, _d, tick, state, presence, metadata) => {
      calls.push({ hook: 'joinAttempt', tick, ctx, arg: { presence, metadata } });
      return metadata.reject ? { state, accept: false, rejectMessage: 'full' } : { state, accept: true };
    },
    matchJoin: (ctx, _l, _nk, _d, tick, state, presences) => {
      calls.push({ hook: 'join', tick, ctx, arg: presences });
      return { state };
    },
    matchLeave: (ctx, _l, _nk, _d, tick, state, presences) => {
      calls.push({ hook: 'leave', tick, ctx, arg: presences });
      return { state };
    },
    matchLoop: (ctx, _l, _nk, _d, tick, state, messages) => {
      calls.push({ hook: 'loop', tick, ctx, arg: messages });
      return { state };
    },
    matchTerminate: (ctx, _l, _nk, _d, tick, state, grace) => {
      calls.push({ hook: 'terminate', tick, ctx, arg: grace });
      return { state };
    },
    matchSignal: (ctx, _l, _nk, _d, tick, state, data) => {
      calls.push({ hook: 'signal', tick, ctx, arg: data });
      return { state, data: `re:${data}` };
    },
    ...over,
  };
  return { h, calls, loops: () => calls.filter((c) => c.hook === 'loop') };
}

/** A runner on fake timers with recording ports. */
export async function runner(
  h: MatchHandler<any>,
  opts: { timers?: FakeTimers; inputQueueSize?: number; params?: Record<string, unknown>; init?: boolean } = {},
) {
  const timers = opts.timers ?? new FakeTimers();
  const logs: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const sent: { type: string; message: any; to?: readonly string[]; except?: string }[] = [];
  const kicks: string[][] = [];
  const labels: string[] = [];
  const ended: MatchEndReason[] = [];
  let patches = 0;
  const r = new MatchRunner(
    {
      matchId: 'm1',
      handlerName: 'duel',
      handler: h,
      logger: log.child({ module: 'duel.ts' }),
      log,
      nk: {} as Nakama,
      info,
      ...(opts.inputQueueSize !== undefined ? { inputQueueSize: opts.inputQueueSize } : {}),
    },
    {
      timers,
      send: (type, message, target) => sent.push({ type, message, ...target }),
      kick: (ids) => kicks.push([...ids]),
      labelChanged: (label) => labels.push(label),
      patch: () => patches++,
      ended: (reason) => ended.push(reason),
    },
  );
  if (opts.init !== false) await r.init(opts.params ?? {});
  return { r, timers, logs, sent, kicks, labels, ended, patches: () => patches };
}

export const join = async (r: MatchRunner, p: Presence) => {
  let welcome: unknown;
  await r.join(p, (m) => (welcome = m));
  return welcome as any;
};
export const b64 = (s: string) => Buffer.from(s).toString('base64');
export const isAppError = (code: number, message?: RegExp) => (err: unknown) =>
  err instanceof AppError && err.code === code && (!message || message.test(err.message));
