/**
 * The authoritative match runner with a fake clock and in-memory ports (no sockets): init checks,
 * ticks at the handler's rate over the queued messages, the bounded input queue, joins and
 * leaves, broadcasts (immediate and deferred), kicks, labels, signals, termination with a grace
 * period, schema state and views, async handlers run one at a time, and a failing handler ending
 * only its own match.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { schema, StateView, t } from '@colyseus/schema';
import { pino } from 'pino';
import { MatchRunner, type MatchEndReason } from '../../src/actors/match-runner.actor.js';
import { MatchState } from '../../src/actors/match-members.js';
import { AppError, Code } from '../../src/errors.js';
import type { Nakama } from '../../src/hooks/nk.js';
import type { Context, MatchHandler, MatchMessage, Presence } from '../../src/hooks/types.js';
import { FakeTimers } from '../support/fake-timers.js';

const info = { env: {}, node: 'node-a', version: 'test' };
const alice: Presence = { userId: 'u-alice', sessionId: 's-alice', username: 'alice', node: 'node-a' };
const bob: Presence = { userId: 'u-bob', sessionId: 's-bob', username: 'bob', node: 'node-a' };
const carol: Presence = { userId: 'u-carol', sessionId: 's-carol', username: 'carol', node: 'node-a' };

/** A handler that records its calls; `over` replaces any of its functions. */
function handler(over: Partial<MatchHandler<any>> = {}) {
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
async function runner(
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

const join = async (r: MatchRunner, p: Presence) => {
  let welcome: unknown;
  await r.join(p, (m) => (welcome = m));
  return welcome as any;
};
const b64 = (s: string) => Buffer.from(s).toString('base64');
const isAppError = (code: number, message?: RegExp) => (err: unknown) =>
  err instanceof AppError && err.code === code && (!message || message.test(err.message));

describe('matchInit', () => {
  test('starts ticking at the tick rate with the label, params and a match context', async () => {
    const { h, calls, loops } = handler();
    const { r, timers } = await runner(h, { params: { a: 1 } });
    assert.deepEqual(calls[0]!.arg, { a: 1 });
    assert.equal(calls[0]!.ctx.executionMode, 'match');
    assert.equal(calls[0]!.ctx.matchId, 'm1');
    assert.equal(r.rate, 10);
    assert.equal(r.label, '{"mode":"duel"}');
    await timers.advance(1000);
    assert.deepEqual(
      loops().map((c) => c.tick),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    const ctx = loops()[0]!.ctx;
    assert.equal(ctx.matchLabel, '{"mode":"duel"}');
    assert.equal(ctx.matchTickRate, 10);
    assert.equal(ctx.matchNode, 'node-a');
    assert.ok(Object.isFrozen(ctx));
  });

  test('refuses bad tick rates, long labels, no state and throws, and starts nothing', async () => {
    const cases: [Partial<MatchHandler<any>>, RegExp, number][] = [
      [{ matchInit: () => ({ state: {}, tickRate: 0, label: '' }) }, /tick rate/, Code.INVALID_ARGUMENT],
      [{ matchInit: () => ({ state: {}, tickRate: 61, label: '' }) }, /tick rate/, Code.INVALID_ARGUMENT],
      [{ matchInit: () => ({ state: {}, tickRate: 2.5, label: '' }) }, /tick rate/, Code.INVALID_ARGUMENT],
      [{ matchInit: () => ({ state: {}, tickRate: 1, label: 'é'.repeat(1025) }) }, /2048 bytes/, Code.INVALID_ARGUMENT],
      [{ matchInit: () => ({ state: null, tickRate: 1, label: '' }) }, /with a state/, Code.INVALID_ARGUMENT],
      [
        {
          matchInit: () => {
            throw new Error('no map');
          },
        },
        /matchInit of "duel" failed: no map/,
        Code.INTERNAL,
      ],
      [{ matchInit: () => Promise.reject(new Error('no db')) }, /failed: no db/, Code.INTERNAL],
    ];
    for (const [over, message, code] of cases) {
      const timers = new FakeTimers();
      await assert.rejects(runner(handler(over).h, { timers }), isAppError(code, message));
      assert.equal(timers.pending, 0);
    }
    // A label of exactly 2048 bytes is fine, and matchInit may be async.
    const { h } = handler({ matchInit: async () => ({ state: {}, tickRate: 60, label: 'x'.repeat(2048) }) });
    assert.equal((await runner(h)).r.rate, 60);
  });
});

describe('messages and ticks', () => {
  test('the loop gets the messages received since the last tick, decoded, with their sender and time', async () => {
    const { h, loops } = handler();
    const { r, timers } = await runner(h);
    await join(r, alice);
    await timers.advance(50);
    r.receive('s-alice', 7, b64('hello'), false);
    r.receive('nobody', 7, b64('ignored'), true);
    await timers.advance(50);
    const messages = loops().at(-1)!.arg as MatchMessage[];
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.opCode, 7);
    assert.equal(Buffer.from(messages[0]!.data).toString(), 'hello');
    assert.equal(messages[0]!.reliable, false);
    assert.equal(messages[0]!.sender.sessionId, 's-alice');
    assert.equal(messages[0]!.receiveTimeMs, timers.now() - 50);
    await timers.advance(100);
    assert.deepEqual(loops().at(-1)!.arg, [], 'each message is delivered once');
  });

  test('the input queue is bounded: overflow is dropped and logged once per tick', async () => {
    const { h, loops } = handler();
    const { r, timers, logs } = await runner(h, { inputQueueSize: 3 });
    await join(r, alice);
    for (let i = 0; i < 5; i++) r.receive('s-alice', i, '', true);
    await timers.advance(100);
    assert.deepEqual(
      (loops().at(-1)!.arg as MatchMessage[]).map((m) => m.opCode),
      [0, 1, 2],
    );
    const warn = logs.find((l) => l.msg === 'match falling behind: messages dropped or ticks skipped');
    assert.equal(warn?.dropped, 2);
    assert.equal(warn?.level, 40);
  });

  test('a loop returning null ends the match and stops the clock', async () => {
    const { h } = handler({ matchLoop: (_c, _l, _n, _d, tick, state) => (tick === 2 ? null : { state }) });
    const { r, timers, ended } = await runner(h);
    await timers.advance(1000);
    assert.deepEqual(ended, ['loop_ended']);
    assert.equal(r.running, false);
    assert.equal(timers.pending, 0);
  });

  test('a handler that throws is logged and ends only its own match', async () => {
    const timers = new FakeTimers();
    const bad = handler({
      matchLoop: (_c, _l, _n, _d, tick, state) => {
        if (tick === 3) throw new Error('kaboom');
        return { state };
      },
    });
    const good = handler();
    const a = await runner(bad.h, { timers });
    const b = await runner(good.h, { timers });
    await timers.advance(1000);
    assert.deepEqual(a.ended, ['handler_error']);
    const err = a.logs.find((l) => l.msg === 'match handler failed: ending its match');
    assert.equal(err?.hook, 'matchLoop');
    assert.equal((err?.err as { message?: string })?.message, 'kaboom');
    assert.equal(err?.level, 50);
    assert.deepEqual(b.ended, []);
    assert.equal(good.loops().length, 10);
    assert.equal(b.r.running, true);
  });

  test('async handlers are awaited, never overlap, and a slow loop skips ticks (logged); a rejection ends the match', async () => {
    let active = 0;
    let overlapped = false;
    let release: (() => void) | undefined;
    const ticks: number[] = [];
    const { h } = handler({
      matchLoop: async (_c, _l, _n, _d, tick, state) => {
        ticks.push(tick);
        active++;
        overlapped ||= active > 1;
        if (tick === 1) await new Promise<void>((resolve) => (release = resolve));
        active--;
        if (tick === 4) throw new Error('async kaboom');
        return { state };
      },
      matchSignal: async (_c, _l, _n, _d, _t, state, data) => {
        active++;
        overlapped ||= active > 1;
        active--;
        return { state, data };
      },
    });
    const { r, timers, ended, logs } = await runner(h);
    await timers.advance(200); // ticks 0 and 1; 1 waits
    const answer = r.signal('queued behind the loop');
    await timers.advance(300); // three ticks skipped while tick 1 waits
    assert.deepEqual(ticks, [0, 1]);
    release!();
    assert.equal(await answer, 'queued behind the loop');
    await timers.advance(100);
    assert.deepEqual(ticks, [0, 1, 2]);
    assert.equal(logs.find((l) => l.msg === 'match falling behind: messages dropped or ticks skipped')?.skippedTicks, 3);
    await timers.advance(500);
    assert.equal(overlapped, false);
    assert.deepEqual(ended, ['handler_error']);
    assert.match(String((logs.find((l) => l.hook === 'matchLoop')?.err as { message?: string })?.message), /async kaboom/);
  });
});

describe('joins and leaves', () => {
  test('join attempts: accept, or reject with the reason; the handler sees the joiner context', async () => {
    const { h, calls } = handler();
    const { r } = await runner(h);
    assert.deepEqual(await r.joinAttempt(alice, {}, { operation: 'match_join', userId: 'u-alice', sessionId: 's-alice' }), {
      accept: true,
    });
    assert.deepEqual(await r.joinAttempt(bob, { reject: true }), { accept: false, reason: 'full' });
    const attempt = calls.find((c) => c.hook === 'joinAttempt')!;
    assert.equal(attempt.ctx.userId, 'u-alice');
    assert.equal(attempt.ctx.matchLabel, '{"mode":"duel"}');
  });

  test('a join attempt returning null refuses and ends the match', async () => {
    const { h } = handler({ matchJoinAttempt: () => null });
    const { r, ended } = await runner(h);
    assert.equal((await r.joinAttempt(alice, {})).accept, false);
    assert.deepEqual(ended, ['handler_ended']);
  });

  test('joiners get the match message, members a presence event; leaves likewise; presences are synchronised', async () => {
    const { h, calls } = handler();
    const { r, sent } = await runner(h);
    const welcomeA = await join(r, alice);
    assert.deepEqual(welcomeA, {
      match_id: 'm1',
      authoritative: true,
      label: '{"mode":"duel"}',
      size: 1,
      presences: [{ user_id: 'u-alice', session_id: 's-alice', username: 'alice' }],
      self: { user_id: 'u-alice', session_id: 's-alice', username: 'alice' },
    });
    assert.equal(sent.length, 0, 'nobody else to tell');
    const welcomeB = await join(r, bob);
    assert.equal(welcomeB.size, 2);
    assert.deepEqual(sent.at(-1), {
      type: 'match_presence_event',
      message: { match_id: 'm1', joins: [{ user_id: 'u-bob', session_id: 's-bob', username: 'bob' }] },
      except: 's-bob',
    });
    assert.deepEqual((calls.find((c) => c.hook === 'join')!.arg as Presence[])[0], alice);
    const state = r.state as InstanceType<typeof MatchState>;
    assert.ok(state instanceof MatchState);
    assert.deepEqual([...state.presences.keys()].sort(), ['s-alice', 's-bob']);
    await r.leave('s-alice');
    assert.deepEqual(sent.at(-1)!.message.leaves, [{ user_id: 'u-alice', session_id: 's-alice', username: 'alice' }]);
    assert.deepEqual([...state.presences.keys()], ['s-bob']);
    assert.deepEqual(calls.find((c) => c.hook === 'leave')!.arg, [alice]);
    await r.leave('s-alice');
    assert.equal(calls.filter((c) => c.hook === 'leave').length, 1, 'leaving twice is a no-op');
  });
});

describe('dispatcher', () => {
  test('broadcasts now or at the end of the tick, to everyone or to some, with the sender; kicks; labels', async () => {
    const { h } = handler({
      matchLoop: (_c, _l, _n, d, tick, state) => {
        if (tick === 0) {
          d.broadcastMessageDeferred(2, 'later', [bob]);
          d.broadcastMessage(1, new Uint8Array([1, 2, 3]), null, alice, false);
          d.broadcastMessage(3, 'to carol and bob', [carol, bob, { ...alice, sessionId: 'stranger' }]);
          d.broadcastMessage(4, 'to nobody', []);
          d.matchKick([carol, { ...alice, sessionId: 'stranger' }]);
          d.matchLabelUpdate('{"mode":"ffa"}');
        }
        return { state };
      },
    });
    const { r, timers, sent, kicks, labels } = await runner(h);
    await join(r, alice);
    await join(r, bob);
    await join(r, carol);
    sent.length = 0;
    await timers.advance(100);
    assert.deepEqual(
      sent.map((s) => [s.message.op_code, s.to ?? 'all']),
      [
        [1, 'all'],
        [3, ['s-carol', 's-bob']],
        [2, ['s-bob']],
      ],
    );
    assert.deepEqual(sent[0]!.message, {
      match_id: 'm1',
      presence: { user_id: 'u-alice', session_id: 's-alice', username: 'alice' },
      op_code: 1,
      data: Buffer.from([1, 2, 3]).toString('base64'),
      reliable: false,
    });
    assert.equal(Buffer.from(sent[2]!.message.data, 'base64').toString(), 'later');
    assert.equal(sent[2]!.message.presence, undefined);
    assert.deepEqual(kicks, [['s-carol']]);
    assert.deepEqual(labels, ['{"mode":"ffa"}']);
    assert.equal(r.label, '{"mode":"ffa"}');
  });

  test('a label over 2048 bytes throws in the handler, which ends the match', async () => {
    const { h } = handler({
      matchLoop: (_c, _l, _n, d, _t, state) => {
        d.matchLabelUpdate('x'.repeat(2049));
        return { state };
      },
    });
    const { timers, ended, labels } = await runner(h);
    await timers.advance(100);
    assert.deepEqual(ended, ['handler_error']);
    assert.deepEqual(labels, []);
  });
});

describe('signals and termination', () => {
  test('a signal gets the handler data; null ends the match; a throw fails the signal and ends the match', async () => {
    const { h } = handler();
    const { r } = await runner(h);
    assert.equal(await r.signal('hi'), 're:hi');

    const ending = await runner(handler({ matchSignal: () => null }).h);
    assert.equal(await ending.r.signal('x'), '');
    assert.deepEqual(ending.ended, ['handler_ended']);
    await assert.rejects(ending.r.signal('again'), isAppError(Code.NOT_FOUND));

    const failing = await runner(
      handler({
        matchSignal: () => {
          throw new Error('nope');
        },
      }).h,
    );
    await assert.rejects(failing.r.signal('x'), isAppError(Code.INTERNAL));
    assert.deepEqual(failing.ended, ['handler_error']);
  });

  test('terminate: the match keeps ticking through the grace period, then ends', async () => {
    const { h, calls, loops } = handler();
    const { r, timers, ended } = await runner(h);
    await timers.advance(100);
    await r.terminate(2);
    assert.equal(calls.find((c) => c.hook === 'terminate')!.arg, 2);
    await timers.advance(1900);
    assert.deepEqual(ended, []);
    const ticks = loops().length;
    assert.ok(ticks >= 19);
    await timers.advance(100);
    assert.deepEqual(ended, ['terminated']);
    await timers.advance(1000);
    assert.ok(loops().length <= ticks + 1);
    await r.terminate(2);
    assert.equal(calls.filter((c) => c.hook === 'terminate').length, 1);
  });

  test('terminate returning null ends the match at once', async () => {
    const { r, ended } = await runner(handler({ matchTerminate: () => null }).h);
    await r.terminate(30);
    assert.deepEqual(ended, ['handler_ended']);
  });
});

describe('schema state', () => {
  const Unit = schema({ x: t.number(), secret: t.string().view() }, 'TestUnit');
  const Arena = schema({ unit: Unit }, 'TestArena');

  test('a schema state is the room state; members get views; the state must be changed in place', async () => {
    const world = new Arena({ unit: new Unit({ x: 0, secret: 's' }) });
    const { h } = handler({
      matchInit: () => ({ state: world, tickRate: 20, label: '' }),
      matchLoop: (_c, _l, _n, _d, tick, state) => {
        state.unit.x += 1;
        return tick < 5 ? { state } : { state: new Arena() };
      },
    });
    const { r, timers, ended, patches } = await runner(h);
    assert.equal(r.state, world);
    assert.equal(r.schemaState, true);
    await join(r, alice);
    assert.ok(r.viewOf('s-alice') instanceof StateView);
    assert.equal(r.dispatcher.view(alice), r.viewOf('s-alice'));
    assert.equal(r.viewOf('s-bob'), undefined);
    await timers.advance(300);
    assert.equal(world.unit.x, 6);
    assert.ok(patches() >= 5);
    assert.deepEqual(ended, ['handler_error'], 'returning another schema object ends the match');
    assert.equal(r.viewOf('s-alice'), undefined);
  });

  test('a private state keeps views off', async () => {
    const { r } = await runner(handler().h);
    await join(r, alice);
    assert.equal(r.viewOf('s-alice'), undefined);
    assert.equal(r.dispatcher.view(alice), undefined);
  });
});
