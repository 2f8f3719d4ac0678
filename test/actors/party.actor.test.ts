/** The party actor without sockets: in-memory ports record what it sends, disconnects and lists. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PartyActor, type PartyJoiner, type PartyPorts } from '../../src/actors/party.actor.js';
import { AppError, Code } from '../../src/errors.js';
import type { PartyListing, PartyMatchmaker, PartyMatchmakerRequest } from '../../src/services/parties.js';

const PARTY = '5f0c2a4e-8d7b-4c1a-9e3f-2b6d8a1c0e97';

function harness(settings: { open?: boolean; maxSize?: number; label?: string; hidden?: boolean } = {}, matchmaker?: PartyMatchmaker) {
  const sent: { to: string; type: string; message: any }[] = [];
  const disconnected: { conn: string; reason: string }[] = [];
  const listings: PartyListing[] = [];
  const failures: string[] = [];
  let ended = 0;
  const ports: PartyPorts = {
    send: (conns, type, message) => {
      for (const to of conns) sent.push({ to, type, message });
    },
    disconnect: (conn, reason) => disconnected.push({ conn, reason }),
    listed: (l) => listings.push(l),
    ended: () => void ended++,
    matchmaker,
    failed: (_err, what) => failures.push(what),
  };
  const actor = new PartyActor(ports, {
    partyId: PARTY,
    open: settings.open ?? true,
    maxSize: settings.maxSize ?? 4,
    label: settings.label,
    hidden: settings.hidden ?? false,
    createdAt: 1000,
  });
  /** Takes (and removes) what a connection got of a type. */
  const got = (to: string, type: string) => {
    const mine = sent.filter((s) => s.to === to && s.type === type);
    for (const m of mine) sent.splice(sent.indexOf(m), 1);
    return mine.map((m) => m.message);
  };
  return { actor, sent, disconnected, listings, failures, got, ended: () => ended };
}

const person = (name: string, n = 1): PartyJoiner => ({
  conn: `c-${name}-${n}`,
  userId: `u-${name}`,
  sessionId: `s-${name}-${n}`,
  username: name,
});
const alice = person('alice');
const bob = person('bob');
const carol = person('carol');
const dave = person('dave');
const ref = (j: PartyJoiner) => ({ user_id: j.userId, session_id: j.sessionId, username: j.username });
const wire = ref;

function refused(fn: () => unknown, code: number, message: string) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.message, message);
    return true;
  });
}

test('create and open joins: party messages, presence events to every member, listing', () => {
  const h = harness({ label: '{"b":1,"a":{"z":true,"y":[2]}}' });
  h.actor.create(alice);
  const [welcome] = h.got(alice.conn, 'party');
  assert.deepEqual(welcome, {
    party_id: PARTY,
    open: true,
    max_size: 4,
    self: wire(alice),
    leader: wire(alice),
    presences: [wire(alice)],
    label: '{"a":{"y":[2],"z":true},"b":1}',
  });
  assert.deepEqual(h.got(alice.conn, 'party_presence_event'), [{ party_id: PARTY, joins: [wire(alice)] }]);
  assert.equal(h.actor.join(bob), 'member');
  const [bobWelcome] = h.got(bob.conn, 'party');
  assert.deepEqual(bobWelcome.presences, [wire(alice), wire(bob)]);
  assert.deepEqual(bobWelcome.leader, wire(alice));
  assert.deepEqual(h.got(alice.conn, 'party_presence_event'), [{ party_id: PARTY, joins: [wire(bob)] }]);
  assert.deepEqual(h.got(bob.conn, 'party_presence_event'), [{ party_id: PARTY, joins: [wire(bob)] }]);
  assert.equal(h.sent.length, 0);
  assert.equal(h.listings.at(-1)!.size, 2);
  assert.equal(h.actor.size, 2);
});

test('one user per party; full parties refuse; joins before the creator find no party', () => {
  const h = harness({ maxSize: 2 });
  refused(() => h.actor.join(bob), Code.NOT_FOUND, 'Error joining party: party not found');
  h.actor.create(alice);
  refused(() => h.actor.join(person('alice', 2)), Code.ALREADY_EXISTS, 'Error joining party: party join request already member');
  h.actor.join(bob);
  refused(() => h.actor.join(carol), Code.RESOURCE_EXHAUSTED, 'Error joining party: party full');
  refused(() => h.actor.create(carol), Code.ALREADY_EXISTS, 'Error creating party: party already created');
});

test('closed party: requests reach the leader, accept makes a member, remove declines', () => {
  const h = harness({ open: false, maxSize: 3 });
  h.actor.create(alice);
  h.got(alice.conn, 'party');
  h.got(alice.conn, 'party_presence_event');
  assert.equal(h.actor.join(bob), 'requested');
  assert.equal(h.actor.join(carol), 'requested');
  assert.deepEqual(h.got(alice.conn, 'party_join_request'), [
    { party_id: PARTY, presences: [wire(bob)] },
    { party_id: PARTY, presences: [wire(carol)] },
  ]);
  assert.equal(h.sent.filter((s) => s.to === bob.conn).length, 0, 'a requester sees nothing of the party');
  refused(() => h.actor.join(person('bob', 2)), Code.ALREADY_EXISTS, 'Error joining party: party join request duplicate');
  refused(() => h.actor.joinRequests(bob.conn), Code.PERMISSION_DENIED, 'Error listing party join requests: party leader only');
  refused(() => h.actor.accept(bob.conn, ref(carol)), Code.PERMISSION_DENIED, 'Error accepting party join request: party leader only');
  h.actor.joinRequests(alice.conn);
  assert.deepEqual(h.got(alice.conn, 'party_join_request'), [{ party_id: PARTY, presences: [wire(bob), wire(carol)] }]);

  h.actor.accept(alice.conn, ref(bob));
  assert.equal(h.actor.isMember(bob.conn), true);
  assert.deepEqual(h.got(bob.conn, 'party')[0].presences, [wire(alice), wire(bob)]);
  assert.equal(h.got(alice.conn, 'party_presence_event').length, 1);
  refused(() => h.actor.accept(alice.conn, ref(bob)), Code.NOT_FOUND, 'Error accepting party join request: party join request not found');

  h.actor.remove(alice.conn, ref(carol));
  assert.deepEqual(h.got(carol.conn, 'party_close'), [{ party_id: PARTY }]);
  assert.deepEqual(h.disconnected, [{ conn: carol.conn, reason: 'Join request declined.' }]);
  assert.equal(h.actor.isRequester(carol.conn), false);
  assert.equal(h.got(bob.conn, 'party_presence_event').length, 1, 'only the accept: declining sends no presence event');
});

test('join requests are capped at max_size; a full party refuses accepts', () => {
  const h = harness({ open: false, maxSize: 2 });
  h.actor.create(alice);
  h.actor.join(bob);
  h.actor.join(carol);
  refused(() => h.actor.join(dave), Code.RESOURCE_EXHAUSTED, 'Error joining party: party join requests full');
  h.actor.accept(alice.conn, ref(bob));
  refused(() => h.actor.accept(alice.conn, ref(carol)), Code.RESOURCE_EXHAUSTED, 'Error accepting party join request: party full');
  refused(() => h.actor.join(dave), Code.RESOURCE_EXHAUSTED, 'Error joining party: party full');
});

test('promote, remove and leave: leader messages, kicked members hear party_close, the oldest takes over', () => {
  const h = harness();
  h.actor.create(alice);
  h.actor.join(bob);
  h.actor.join(carol);
  h.sent.length = 0;
  refused(() => h.actor.promote(bob.conn, ref(carol)), Code.PERMISSION_DENIED, 'Error promoting new party leader: party leader only');
  refused(() => h.actor.promote(alice.conn, ref(dave)), Code.NOT_FOUND, 'Error promoting new party leader: party member not found');
  h.actor.promote(alice.conn, ref(carol));
  for (const who of [alice, bob, carol]) assert.deepEqual(h.got(who.conn, 'party_leader'), [{ party_id: PARTY, presence: wire(carol) }]);
  assert.equal(h.actor.leader?.userId, carol.userId);

  refused(
    () => h.actor.remove(carol.conn, ref(carol)),
    Code.FAILED_PRECONDITION,
    'Error removing party member or join request: party cannot remove self',
  );
  refused(
    () => h.actor.remove(carol.conn, ref(dave)),
    Code.NOT_FOUND,
    'Error removing party member or join request: party member not found',
  );
  h.actor.remove(carol.conn, ref(bob));
  assert.deepEqual(h.got(bob.conn, 'party_close'), [{ party_id: PARTY }]);
  assert.deepEqual(h.disconnected, [{ conn: bob.conn, reason: 'Removed from the party.' }]);
  assert.deepEqual(h.got(alice.conn, 'party_presence_event'), [{ party_id: PARTY, leaves: [wire(bob)] }]);
  h.actor.leave(bob.conn);
  assert.equal(h.sent.length, 1, 'the kicked connection closing later changes nothing (carol saw the leave)');
  h.got(carol.conn, 'party_presence_event');

  h.actor.join(dave);
  h.sent.length = 0;
  h.actor.leave(carol.conn);
  for (const who of [alice, dave]) {
    assert.deepEqual(h.got(who.conn, 'party_presence_event'), [{ party_id: PARTY, leaves: [wire(carol)] }]);
    assert.deepEqual(h.got(who.conn, 'party_leader'), [{ party_id: PARTY, presence: wire(alice) }], 'alice is the oldest member');
  }
  h.actor.leave(alice.conn);
  assert.deepEqual(h.got(dave.conn, 'party_leader'), [{ party_id: PARTY, presence: wire(dave) }]);
  assert.equal(h.ended(), 0);
});

test('the last member leaving ends the party; pending requesters hear party_close', () => {
  const h = harness({ open: false });
  h.actor.create(alice);
  h.actor.join(bob);
  h.sent.length = 0;
  h.actor.leave(alice.conn);
  assert.equal(h.ended(), 1);
  assert.equal(h.actor.ended, true);
  assert.deepEqual(h.got(bob.conn, 'party_close'), [{ party_id: PARTY }]);
  refused(() => h.actor.join(carol), Code.NOT_FOUND, 'Error joining party: party closed');
});

test('close: leader only; everyone, requesters too, hears party_close and the party ends', () => {
  const h = harness({ open: true });
  h.actor.create(alice);
  h.actor.join(bob);
  h.actor.update(alice.conn, { label: '', open: false, hidden: false });
  h.actor.join(carol);
  h.sent.length = 0;
  refused(() => h.actor.close(bob.conn), Code.PERMISSION_DENIED, 'Error closing party: party leader only');
  h.actor.close(alice.conn);
  for (const who of [alice, bob, carol]) assert.deepEqual(h.got(who.conn, 'party_close'), [{ party_id: PARTY }]);
  assert.equal(h.ended(), 1);
  h.actor.leave(bob.conn);
  assert.equal(h.sent.length, 0, 'leaves after the end change nothing');
});

test('data goes to the other members only; requesters cannot send', () => {
  const h = harness({ open: false });
  h.actor.create(alice);
  h.actor.join(bob);
  h.sent.length = 0;
  h.actor.data(alice.conn, 7, 'aGk=');
  assert.deepEqual(h.sent, [], 'a party of one: nobody to send to');
  refused(() => h.actor.data(bob.conn, 1, ''), Code.NOT_FOUND, 'Error sending party data: party member not found');
  h.actor.accept(alice.conn, ref(bob));
  h.sent.length = 0;
  h.actor.data(bob.conn, 3, 'eA==');
  assert.deepEqual(h.sent, [
    { to: alice.conn, type: 'party_data', message: { party_id: PARTY, presence: wire(bob), op_code: 3, data: 'eA==' } },
  ]);
});

test('update: leader only, label rules, members hear party_update, the listing follows', () => {
  const h = harness({ open: false });
  h.actor.create(alice);
  h.actor.join(bob);
  h.actor.accept(alice.conn, ref(bob));
  h.sent.length = 0;
  refused(
    () => h.actor.update(bob.conn, { label: '{}', open: true, hidden: false }),
    Code.PERMISSION_DENIED,
    'Error updating party: party leader only',
  );
  refused(
    () => h.actor.update(alice.conn, { label: '{"a":1}', open: true, hidden: true }),
    Code.INVALID_ARGUMENT,
    'Error updating party: party is hidden and label is not empty, invalid operation',
  );
  refused(
    () => h.actor.update(alice.conn, { label: '[1]', open: true, hidden: false }),
    Code.INVALID_ARGUMENT,
    'Error updating party: failed to unmarshal party label: the label must be a JSON object',
  );
  refused(
    () => h.actor.update(alice.conn, { label: JSON.stringify({ x: 'y'.repeat(2048) }), open: true, hidden: false }),
    Code.INVALID_ARGUMENT,
    'Error updating party: party label too long',
  );
  h.actor.update(alice.conn, { label: '{"mode":"ranked"}', open: true, hidden: false });
  for (const who of [alice, bob]) {
    assert.deepEqual(h.got(who.conn, 'party_update'), [{ party_id: PARTY, open: true, hidden: false, label: '{"mode":"ranked"}' }]);
  }
  assert.deepEqual(h.listings.at(-1), {
    partyId: PARTY,
    open: true,
    hidden: false,
    maxSize: 4,
    size: 2,
    label: '{"mode":"ranked"}',
    createdAt: 1000,
  });
  assert.equal(h.actor.join(carol), 'member', 'open now');
  assert.throws(() => harness({ label: 'not json' }), /Error creating party: failed to unmarshal party label/);
});

function recordingMatchmaker() {
  const added: { party: Parameters<PartyMatchmaker['addParty']>[0]; request: PartyMatchmakerRequest }[] = [];
  const removed: string[] = [];
  let n = 0;
  let gate: Promise<void> | undefined;
  const mm: PartyMatchmaker = {
    async addParty(party, request) {
      added.push({ party, request });
      await gate;
      return `ticket-${++n}`;
    },
    async removeParty(partyId, ticket) {
      assert.equal(partyId, PARTY);
      removed.push(ticket);
    },
  };
  return {
    mm,
    added,
    removed,
    hold: (p: Promise<void>) => {
      gate = p;
    },
  };
}

const request: PartyMatchmakerRequest = {
  query: '*',
  minCount: 2,
  maxCount: 4,
  countMultiple: 1,
  stringProperties: {},
  numericProperties: {},
};
const settle = () => new Promise((r) => setImmediate(r));

test('matchmaker: leader only, whole party in one ticket, every member hears the ticket, membership changes withdraw it', async () => {
  const mm = recordingMatchmaker();
  const h = harness({}, mm.mm);
  h.actor.create(alice);
  h.actor.join(bob);
  h.sent.length = 0;
  await assert.rejects(h.actor.matchmakerAdd(bob.conn, request), /Error adding party to matchmaker: party leader only/);
  const ticket = await h.actor.matchmakerAdd(alice.conn, request);
  assert.equal(ticket, 'ticket-1');
  assert.deepEqual(mm.added[0]!.party, {
    partyId: PARTY,
    leader: { userId: alice.userId, sessionId: alice.sessionId, username: 'alice' },
    members: [alice, bob].map(({ userId, sessionId, username }) => ({ userId, sessionId, username })),
  });
  for (const who of [alice, bob]) assert.deepEqual(h.got(who.conn, 'party_matchmaker_ticket'), [{ party_id: PARTY, ticket }]);

  await assert.rejects(h.actor.matchmakerRemove(alice.conn, ''), /Invalid matchmaker ticket/);
  await h.actor.matchmakerAdd(alice.conn, request);
  await h.actor.matchmakerRemove(alice.conn, 'ticket-2');
  assert.deepEqual(mm.removed, ['ticket-2']);
  h.actor.join(carol);
  await settle();
  assert.deepEqual(mm.removed, ['ticket-2', 'ticket-1'], 'a join withdraws the live ticket');

  // The membership changes while the matchmaker answers: the ticket is withdrawn at once.
  let release!: () => void;
  mm.hold(new Promise<void>((r) => (release = r)));
  const pending = h.actor.matchmakerAdd(alice.conn, request);
  h.actor.leave(carol.conn);
  release();
  await assert.rejects(pending, (err: unknown) => err instanceof AppError && err.code === Code.ABORTED);
  await settle();
  assert.deepEqual(mm.removed, ['ticket-2', 'ticket-1', 'ticket-3']);

  mm.hold(Promise.resolve());
  await h.actor.matchmakerAdd(alice.conn, request);
  h.actor.dispose();
  await settle();
  assert.deepEqual(mm.removed.at(-1), 'ticket-4', 'disposal withdraws live tickets');
});

test('matchmaker absent: UNAVAILABLE, and not logged as a server failure', async () => {
  const h = harness();
  h.actor.create(alice);
  await assert.rejects(h.actor.matchmakerAdd(alice.conn, request), (err: unknown) => {
    assert.ok(err instanceof AppError);
    assert.equal(err.code, Code.UNAVAILABLE);
    assert.equal(err.message, 'Error adding party to matchmaker: matchmaker not enabled');
    assert.equal(err.expected, true);
    return true;
  });
});
