/**
 * What an authoritative match's handler does to the world, with a fake clock and in-memory ports
 * (no sockets): broadcasts (immediate and deferred), kicks and labels through the dispatcher,
 * signals, termination with a grace period, and schema state and views.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { schema, StateView, t } from '@colyseus/schema';
import { Code } from '../../src/errors.js';
import { alice, bob, carol, handler, isAppError, join, runner } from '../support/match-runner.js';

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
