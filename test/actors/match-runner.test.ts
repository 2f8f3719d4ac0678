/**
 * The authoritative match runner with a fake clock and in-memory ports (no sockets): init checks,
 * ticks at the handler's rate over the queued messages, the bounded input queue, async handlers
 * run one at a time, a failing handler ending only its own match, and joins and leaves.
 * Broadcasts, kicks, labels, signals, termination and schema state are in
 * match-runner-dispatch.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MatchState } from '../../src/actors/match-members.js';
import { Code } from '../../src/errors.js';
import type { MatchHandler, MatchMessage, Presence } from '../../src/hooks/types.js';
import { FakeTimers } from '../support/fake-timers.js';
import { alice, b64, bob, handler, isAppError, join, runner } from '../support/match-runner.js';

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
