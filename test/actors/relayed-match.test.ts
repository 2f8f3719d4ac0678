/** The relayed match with an in-memory send port: presences as state and events, data to the others or to targets only. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RelayedMatch } from '../../src/actors/relayed-match.actor.js';
import type { Presence } from '../../src/hooks/types.js';

const p = (name: string): Presence => ({ userId: `u-${name}`, sessionId: `s-${name}`, username: name, node: 'n' });
const [alice, bob, carol] = [p('alice'), p('bob'), p('carol')];

function relayed() {
  const sent: { type: string; message: any; to?: readonly string[]; except?: string }[] = [];
  const m = new RelayedMatch('m9', { send: (type, message, target) => sent.push({ type, message, ...target }) });
  const welcomes: any[] = [];
  for (const x of [alice, bob, carol]) m.join(x, (w) => welcomes.push(w));
  return { m, sent, welcomes };
}

test('joins and leaves: state, presence events to the others, the match message to the joiner', () => {
  const { m, sent, welcomes } = relayed();
  assert.deepEqual([...m.state.presences.keys()], ['s-alice', 's-bob', 's-carol']);
  assert.equal(m.state.presences.get('s-bob')!.username, 'bob');
  assert.equal(welcomes[2].authoritative, false);
  assert.equal(welcomes[2].label, undefined);
  assert.equal(welcomes[2].size, 3);
  assert.deepEqual(welcomes[2].self, { user_id: 'u-carol', session_id: 's-carol', username: 'carol' });
  assert.deepEqual(
    sent.map((s) => [s.type, s.except, s.message.joins[0].username]),
    [
      ['match_presence_event', 's-bob', 'bob'],
      ['match_presence_event', 's-carol', 'carol'],
    ],
  );
  m.leave('s-bob');
  assert.deepEqual(sent.at(-1)!.message, { match_id: 'm9', leaves: [{ user_id: 'u-bob', session_id: 's-bob', username: 'bob' }] });
  assert.equal(m.state.presences.has('s-bob'), false);
  assert.equal(m.size, 2);
});

test('data goes to every other member, or only to the named members (never back to the sender)', () => {
  const { m, sent } = relayed();
  sent.length = 0;
  m.data('s-alice', { op_code: 5, data: 'aGk=' });
  assert.deepEqual(sent[0], {
    type: 'match_data',
    message: {
      match_id: 'm9',
      presence: { user_id: 'u-alice', session_id: 's-alice', username: 'alice' },
      op_code: 5,
      data: 'aGk=',
      reliable: true,
    },
    except: 's-alice',
  });
  m.data('s-alice', { op_code: 6, presences: ['s-carol', 's-alice', 's-nobody', 's-carol'], reliable: false });
  assert.deepEqual(sent[1]!.to, ['s-carol']);
  assert.equal(sent[1]!.message.reliable, false);
  assert.equal(sent[1]!.message.data, '');
  m.data('s-alice', { op_code: 7, presences: ['s-alice'] });
  m.data('s-stranger', { op_code: 8 });
  assert.equal(sent.length, 2, 'no targets left, or a sender not in the match: nothing sent');
});
