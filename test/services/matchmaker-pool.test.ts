/** The matchmaker's matching engine: Nakama's rules, then a randomized check against a slow reference. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError, Code } from '../../src/errors.js';
import { parseMatchQuery } from '../../src/services/match-query.js';
import { MatchmakerPool, type MatchedGroup, type MatchmakerTicket, type TicketInput } from '../../src/services/matchmaker-pool.js';

let seq = 0;
type Spec = Partial<TicketInput> & { user?: string; party?: string[] };
/** A ticket; `user` names its single user, `party` its members (partyId = their names joined). */
function ticket(o: Spec = {}): TicketInput {
  const n = ++seq;
  const names = o.party ?? [o.user ?? `u${n}`];
  const { user: _u, party: _p, ...rest } = o;
  return {
    id: `t${n}`,
    users: names.map((u) => ({ userId: u, sessionId: `s-${u}`, username: u })),
    ...(o.party ? { partyId: o.party.join('+') } : {}),
    query: '*',
    minCount: 2,
    maxCount: 2,
    createdAt: n,
    ...rest,
  };
}

const ids = (groups: readonly MatchedGroup[]) => groups.map((g) => g.tickets.map((t) => t.id).sort());
const sizes = (groups: readonly MatchedGroup[]) => groups.map((g) => g.size);

describe('MatchmakerPool rules', () => {
  test('queries must match both ways', () => {
    const pool = new MatchmakerPool();
    const a = pool.add(ticket({ stringProperties: { mode: 'ranked', region: 'us' }, query: '+properties.mode:ranked' }));
    pool.add(ticket({ stringProperties: { mode: 'ranked', region: 'eu' }, query: '+properties.region:eu' }));
    assert.deepEqual(pool.process(), [], 'A wants B, but B does not want A');
    const c = pool.add(ticket({ stringProperties: { mode: 'ranked', region: 'eu' }, query: '+properties.mode:ranked' }));
    const groups = pool.process();
    assert.equal(groups.length, 1);
    assert.deepEqual(ids(groups), [[a.id, c.id].sort()]);
    assert.equal(pool.size, 1);
  });

  test('numeric properties and ranges, optional and excluded terms', () => {
    const pool = new MatchmakerPool();
    const q = (lo: number, hi: number) => `+properties.skill:>=${lo} +properties.skill:<=${hi} -properties.region:cn`;
    const a = pool.add(ticket({ numericProperties: { skill: 100 }, query: q(50, 150) }));
    pool.add(ticket({ numericProperties: { skill: 160 }, query: q(50, 250) })); // outside a's window
    pool.add(ticket({ numericProperties: { skill: 120 }, stringProperties: { region: 'cn' }, query: q(0, 200) })); // excluded by a
    const d = pool.add(ticket({ numericProperties: { skill: 140 }, query: q(90, 200) }));
    assert.deepEqual(ids(pool.process()), [[a.id, d.id].sort()]);

    const p2 = new MatchmakerPool();
    p2.add(ticket({ stringProperties: { region: 'eu' }, query: 'properties.region:us properties.region:asia' }));
    p2.add(ticket({ stringProperties: { region: 'eu' }, query: '*' }));
    assert.deepEqual(p2.process(), [], 'no required term: an optional term must match');
    p2.add(ticket({ stringProperties: { region: 'us' }, query: '*' }));
    assert.equal(p2.process().length, 1);
  });

  test('fills up to the max count; fewer only after maxIntervals', () => {
    const pool = new MatchmakerPool({ maxIntervals: 3 });
    const t = () => pool.add(ticket({ minCount: 2, maxCount: 4 }));
    t();
    t();
    t();
    assert.deepEqual(pool.process(), [], 'interval 1: 3 of 4');
    assert.deepEqual(pool.process(), [], 'interval 2: 3 of 4');
    for (const x of pool.tickets()) assert.equal(x.intervals, 2);
    const groups = pool.process();
    assert.deepEqual(sizes(groups), [3], 'interval 3 = maxIntervals: 3 is enough');
    assert.ok(groups[0]!.tickets.every((x) => x.intervals === 3));

    const full = new MatchmakerPool({ maxIntervals: 3 });
    for (let i = 0; i < 9; i++) full.add(ticket({ minCount: 2, maxCount: 4 }));
    assert.deepEqual(sizes(full.process()), [4, 4], 'full matches at once, the ninth waits');
    assert.equal(full.size, 1);
  });

  test('a ticket still waiting for a full match only joins a match of its max count', () => {
    const pool = new MatchmakerPool({ maxIntervals: 2 });
    const old1 = pool.add(ticket({ minCount: 2, maxCount: 4 }));
    const old2 = pool.add(ticket({ minCount: 2, maxCount: 4 }));
    pool.process();
    const fresh = pool.add(ticket({ minCount: 2, maxCount: 4 }));
    const groups = pool.process();
    assert.deepEqual(ids(groups), [[old1.id, old2.id].sort()], 'the fresh ticket would need 4: it waits');
    assert.equal(pool.get(fresh.id)?.intervals, 1);
  });

  test('count multiple: the largest acceptable count', () => {
    const pool = new MatchmakerPool({ maxIntervals: 1 });
    for (let i = 0; i < 5; i++) pool.add(ticket({ minCount: 2, maxCount: 6, countMultiple: 2 }));
    assert.deepEqual(sizes(pool.process()), [4], '5 waiting, multiple of 2: 4, not 5');
    assert.equal(pool.size, 1);

    const mixed = new MatchmakerPool({ maxIntervals: 1 });
    mixed.add(ticket({ minCount: 2, maxCount: 6, countMultiple: 2 }));
    for (let i = 0; i < 4; i++) mixed.add(ticket({ minCount: 2, maxCount: 5 }));
    const groups = mixed.process();
    assert.deepEqual(sizes(groups), [4], "5 users could meet, but 5 is no multiple of 2 and 6 is above the others' max");
    assert.equal(mixed.size, 1);

    const fresh = new MatchmakerPool({ maxIntervals: 5 });
    for (let i = 0; i < 7; i++) fresh.add(ticket({ minCount: 4, maxCount: 8, countMultiple: 2 }));
    assert.deepEqual(fresh.process(), [], 'fresh tickets wait for 8');
  });

  test('parties count every member and are never split', () => {
    const pool = new MatchmakerPool({ maxIntervals: 1 });
    const p3 = pool.add(ticket({ party: ['a', 'b', 'c'], minCount: 4, maxCount: 4 }));
    const p2 = pool.add(ticket({ party: ['d', 'e'], minCount: 4, maxCount: 4 }));
    const s1 = pool.add(ticket({ user: 'f', minCount: 4, maxCount: 4 }));
    const groups = pool.process();
    assert.deepEqual(ids(groups), [[p3.id, s1.id].sort()], '3 + 1 = 4; the pair of 2 does not fit');
    assert.equal(groups[0]!.size, 4);
    assert.deepEqual(groups[0]!.users.map((u) => u.userId).sort(), ['a', 'b', 'c', 'f']);
    assert.ok(pool.get(p2.id));

    const big = new MatchmakerPool();
    assert.throws(() => big.add(ticket({ party: ['a', 'b', 'c'], minCount: 2, maxCount: 2 })), /3 users cannot fit its maximum count 2/);
    const alone = new MatchmakerPool({ maxIntervals: 1 });
    alone.add(ticket({ party: ['a', 'b'], minCount: 2, maxCount: 2 }));
    assert.deepEqual(alone.process(), [], 'a ticket never matches alone');
  });

  test('ranges widen over intervals (the client re-adds a ticket with a wider query)', () => {
    const pool = new MatchmakerPool();
    const q = (skill: number, w: number) => ({
      numericProperties: { skill },
      query: `+properties.skill:>=${skill - w} +properties.skill:<=${skill + w}`,
    });
    const a = pool.add(ticket({ user: 'a', ...q(1000, 50) }));
    pool.add(ticket({ user: 'b', ...q(1150, 50) }));
    assert.deepEqual(pool.process(), []);
    pool.removeUser('a');
    pool.removeUser('b');
    const a2 = pool.add(ticket({ user: 'a', ...q(1000, 200), intervals: a.intervals }));
    const b2 = pool.add(ticket({ user: 'b', ...q(1150, 200) }));
    assert.deepEqual(ids(pool.process()), [[a2.id, b2.id].sort()]);
  });

  test('no double booking: a user with 3 tickets is in one match at most, the others are withdrawn', () => {
    const pool = new MatchmakerPool();
    const a1 = pool.add(ticket({ user: 'a', stringProperties: { mode: 'x' }, query: '+properties.mode:x' }));
    const a2 = pool.add(ticket({ user: 'a', stringProperties: { mode: 'y' }, query: '+properties.mode:y' }));
    const party = pool.add(ticket({ party: ['a', 'd'], minCount: 4, maxCount: 4 }));
    const bx = pool.add(ticket({ user: 'b', stringProperties: { mode: 'x' }, query: '*' }));
    pool.add(ticket({ user: 'c', stringProperties: { mode: 'y' }, query: '*' }));
    assert.throws(
      () => pool.add(ticket({ user: 'a' })),
      (err: unknown) => err instanceof AppError && err.code === Code.RESOURCE_EXHAUSTED && /user a already holds 3/.test(err.message),
    );
    const groups = pool.process();
    assert.deepEqual(ids(groups), [[a1.id, bx.id].sort()]);
    assert.deepEqual(groups[0]!.withdrawn.map((t) => t.id).sort(), [a2.id, party.id].sort());
    assert.equal(pool.size, 1, "only c's ticket is left");
    assert.deepEqual(pool.ticketsOf('a'), []);
    assert.deepEqual(pool.ticketsOf('d'), [], "d's party ticket went with a's");
  });

  test('two tickets of one user, or of one party, never match each other', () => {
    const pool = new MatchmakerPool();
    pool.add(ticket({ user: 'a' }));
    pool.add(ticket({ user: 'a' }));
    assert.deepEqual(pool.process(), []);
    const party = new MatchmakerPool();
    party.add({ ...ticket({ user: 'b' }), partyId: 'p' });
    party.add({ ...ticket({ user: 'c' }), partyId: 'p' });
    assert.deepEqual(party.process(), []);
  });

  test('per-user ticket limit is configurable and counts party tickets', () => {
    const pool = new MatchmakerPool({ maxTicketsPerUser: 1 });
    pool.add(ticket({ party: ['a', 'b'], minCount: 4, maxCount: 4 }));
    assert.throws(() => pool.add(ticket({ user: 'b' })), /Too many matchmaker tickets: user b already holds 1 \(the limit is 1\)/);
    assert.throws(() => new MatchmakerPool({ maxTicketsPerUser: 0 }), /maxTicketsPerUser/);
    assert.throws(() => new MatchmakerPool({ maxIntervals: 1.5 }), /maxIntervals/);
  });

  test('maxScan bounds the candidates one searcher examines', () => {
    const run = (maxScan: number) => {
      const pool = new MatchmakerPool({ maxScan });
      // The oldest excludes asia: the index cannot narrow that, so it scans oldest first.
      const s = pool.add(ticket({ stringProperties: { region: 'eu' }, query: '-properties.region:asia' }));
      const c1 = pool.add(ticket({ stringProperties: { region: 'asia' } }));
      const c2 = pool.add(ticket({ stringProperties: { region: 'asia' } }));
      const c3 = pool.add(ticket({ stringProperties: { region: 'eu' } }));
      return { groups: ids(pool.process()), s, c1, c2, c3 };
    };
    const all = run(Infinity);
    assert.deepEqual(all.groups, [[all.s.id, all.c3.id].sort(), [all.c1.id, all.c2.id].sort()]);
    const capped = run(2);
    assert.deepEqual(
      capped.groups,
      [[capped.c1.id, capped.c2.id].sort(), [capped.s.id, capped.c3.id].sort()],
      'the oldest gave up after 2',
    );
    assert.throws(() => new MatchmakerPool({ maxScan: 0 }), /maxScan/);
  });

  test('removal by ticket, user, session and party', () => {
    const pool = new MatchmakerPool();
    const t1 = pool.add(ticket({ user: 'a' }));
    pool.add(ticket({ user: 'a' }));
    const t3 = pool.add(ticket({ user: 'b' }));
    pool.add(ticket({ party: ['c', 'd'], minCount: 4, maxCount: 4 }));
    pool.add(ticket({ party: ['e', 'f'], minCount: 4, maxCount: 4 }));
    assert.equal(pool.size, 5);
    assert.equal(pool.remove(t1.id), true);
    assert.equal(pool.remove(t1.id), false);
    assert.equal(pool.removeUser('a').length, 1);
    assert.deepEqual(
      pool.removeSession('s-b').map((t) => t.id),
      [t3.id],
    );
    assert.equal(pool.removeParty('c+d').length, 1);
    assert.equal(pool.removeUser('f').length, 1, "a member's removal takes the party ticket");
    assert.equal(pool.size, 0);
    assert.deepEqual(pool.process(), []);
    // A removed ticket's id and its users' slots are free again.
    pool.add({ ...ticket({ user: 'a' }), id: t1.id });
  });

  test('oldest tickets are served first, whatever order they were added in', () => {
    const pool = new MatchmakerPool();
    const young = pool.add(ticket({ createdAt: 300 }));
    const oldest = pool.add(ticket({ createdAt: 100 }));
    const middle = pool.add(ticket({ createdAt: 200 }));
    assert.deepEqual(ids(pool.process()), [[oldest.id, middle.id].sort()]);
    assert.deepEqual(
      [...pool.tickets()].map((t) => t.id),
      [young.id],
    );

    const ranged = new MatchmakerPool();
    const q = { query: '+properties.skill:>=0 +properties.skill:<=100' };
    const r1 = ranged.add(ticket({ numericProperties: { skill: 50 }, ...q }));
    ranged.add(ticket({ numericProperties: { skill: 51 }, ...q }));
    const r3 = ranged.add(ticket({ numericProperties: { skill: 80 }, ...q, createdAt: -1 }));
    assert.deepEqual(ids(ranged.process()), [[r1.id, r3.id].sort()], 'the oldest searches first and prefers the oldest candidate');
  });

  test('invalid tickets are rejected with clear messages', () => {
    const pool = new MatchmakerPool();
    const bad = (o: Partial<TicketInput>, why: RegExp, code: number = Code.INVALID_ARGUMENT) =>
      assert.throws(
        () => pool.add({ ...ticket(), ...o }),
        (err: unknown) => err instanceof AppError && err.code === code && why.test(err.message),
        String(why),
      );
    bad({ minCount: 1, maxCount: 2 }, /Invalid minimum count 1: it must be an integer of 2 or more/);
    bad({ minCount: 2.5 }, /Invalid minimum count 2.5/);
    bad({ minCount: 4, maxCount: 3 }, /Invalid maximum count 3: it must be an integer of at least the minimum count 4/);
    bad({ countMultiple: 0 }, /Invalid count multiple 0/);
    bad({ minCount: 2, maxCount: 5, countMultiple: 2 }, /maximum count 5 is not a multiple of it/);
    bad({ minCount: 3, maxCount: 6, countMultiple: 2 }, /minimum count 3 is not a multiple of it/);
    bad({ query: '+properties.mode:"open' }, /Invalid matchmaker query at character \d+: unterminated quote/);
    bad({ query: '+mode:ranked' }, /field "mode" is not a ticket property \(write properties.<name>\)/);
    bad({ query: '+properties.skill:>high' }, /needs a number/);
    bad({ users: [] }, /at least one user/);
    bad(
      {
        users: [
          { userId: 'a', sessionId: 's', username: 'a' },
          { userId: 'a', sessionId: 's', username: 'a' },
        ],
      },
      /User a appears twice/,
    );
    bad({ id: '' }, /ticket id is required/);
    bad({ numericProperties: { skill: Number.NaN } }, /Numeric property skill must be a finite number/);
    bad({ stringProperties: { mode: 3 as unknown as string } }, /String property mode must be a string/);
    const t = pool.add(ticket());
    bad({ id: t.id }, /already exists/, Code.ALREADY_EXISTS);
    assert.equal(pool.size, 1, 'nothing else was added');
  });

  test('wildcards, field-less terms, numeric terms and soft (optional) ranges use the same language as labels', () => {
    const pool = new MatchmakerPool();
    const a = pool.add(
      ticket({ stringProperties: { mode: 'ranked-duo' }, numericProperties: { level: 3 }, query: '+properties.mode:ranked-*' }),
    );
    const b = pool.add(ticket({ stringProperties: { mode: 'ranked-solo' }, query: '+properties.level:3' }));
    assert.deepEqual(ids(pool.process()), [[a.id, b.id].sort()]);
    const p2 = new MatchmakerPool();
    const c = p2.add(ticket({ stringProperties: { region: 'eu' }, query: 'eu' }));
    const d = p2.add(ticket({ stringProperties: { zone: 'eu' }, query: '*' }));
    assert.deepEqual(ids(p2.process()), [[c.id, d.id].sort()]);
    // Optional range clauses only rank: the candidate inside the window is preferred, the other still matches.
    const p3 = new MatchmakerPool();
    const soft = { stringProperties: { mode: 'm' }, query: '+properties.mode:m properties.skill:>=90 properties.skill:<=110' };
    const s1 = p3.add(ticket({ ...soft, numericProperties: { skill: 100 } }));
    const s2 = p3.add(ticket({ ...soft, numericProperties: { skill: 300 } }));
    const s3 = p3.add(ticket({ ...soft, numericProperties: { skill: 105 } }));
    const s4 = p3.add(ticket({ ...soft }));
    assert.deepEqual(ids(p3.process()), [[s1.id, s3.id].sort(), [s2.id, s4.id].sort()]);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized: every formed match obeys every rule, checked by a slow reference.

function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

interface Snapshot {
  ticket: MatchmakerTicket;
  intervals: number;
}

/** The query matched the slow way: the properties as a JSON label, through the label query engine. */
function refMatches(query: string, t: MatchmakerTicket): boolean {
  return parseMatchQuery(query).score(JSON.stringify({ properties: { ...t.stringProperties, ...t.numericProperties } })) !== null;
}

/** Checks one pass: `before` is the pool before it, `groups` what it returned, `pool` the pool after. */
function checkPass(
  before: Map<string, Snapshot>,
  groups: readonly MatchedGroup[],
  pool: MatchmakerPool,
  maxIntervals: number,
  full = true,
) {
  const usedTickets = new Set<string>();
  const usedUsers = new Set<string>();
  const gone = new Set<string>();
  for (const g of groups) {
    assert.ok(g.tickets.length >= 2, 'a match has two tickets or more');
    const n = g.tickets.reduce((s, t) => s + t.users.length, 0);
    assert.equal(g.size, n);
    assert.equal(g.users.length, n);
    const parties = new Set<string>();
    for (const t of g.tickets) {
      const snap = before.get(t.id);
      assert.ok(snap, `ticket ${t.id} was waiting`);
      assert.ok(!usedTickets.has(t.id), `ticket ${t.id} is in one match`);
      usedTickets.add(t.id);
      gone.add(t.id);
      for (const u of t.users) {
        assert.ok(!usedUsers.has(u.userId), `user ${u.userId} is in one match`);
        usedUsers.add(u.userId);
      }
      if (t.partyId) {
        assert.ok(!parties.has(t.partyId), 'one ticket per party');
        parties.add(t.partyId);
      }
      const waited = snap.intervals + 1;
      assert.ok(n >= t.minCount && n <= t.maxCount, `count ${n} within ${t.minCount}..${t.maxCount}`);
      assert.equal(n % t.countMultiple, 0, `count ${n} is a multiple of ${t.countMultiple}`);
      assert.ok(waited >= maxIntervals || n === t.maxCount, `ticket ${t.id} waited ${waited} intervals: needs ${t.maxCount}, got ${n}`);
    }
    if (full)
      for (const a of g.tickets)
        for (const b of g.tickets)
          if (a !== b)
            assert.ok(
              refMatches(a.query, b),
              `"${a.query}" matches ${JSON.stringify(b.stringProperties)} ${JSON.stringify(b.numericProperties)}`,
            );
    for (const w of g.withdrawn) {
      assert.ok(before.has(w.id) && !usedTickets.has(w.id));
      assert.ok(
        w.users.some((u) => g.users.some((x) => x.userId === u.userId)),
        'withdrawn tickets share a user with the match',
      );
      gone.add(w.id);
    }
  }
  // The pool after = before − matched − withdrawn; no matched user is left waiting.
  assert.equal(pool.size, before.size - gone.size);
  for (const t of pool.tickets()) {
    assert.ok(before.has(t.id) && !gone.has(t.id));
    for (const u of t.users) assert.ok(!usedUsers.has(u.userId), `matched user ${u.userId} still has ticket ${t.id}`);
  }
  if (!full) return;
  // Maximality for the simple case: no two waiting single 1v1 tickets could have matched each other.
  const duels = [...pool.tickets()].filter((t) => t.minCount === 2 && t.maxCount === 2 && t.users.length === 1);
  for (const a of duels)
    for (const b of duels)
      if (a !== b && a.users[0]!.userId !== b.users[0]!.userId && refMatches(a.query, b) && refMatches(b.query, a))
        assert.fail(`tickets ${a.id} and ${b.id} could have matched`);
}

const snapshot = (pool: MatchmakerPool) => new Map([...pool.tickets()].map((t) => [t.id, { ticket: t, intervals: t.intervals }]));

describe('MatchmakerPool randomized', () => {
  test('random tickets over many passes: every match obeys every rule (slow reference checker)', () => {
    const random = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const modes = ['alpha', 'beta', 'gamma'];
    const regions = ['eu', 'us'];
    const counts = [
      [2, 2, 1],
      [2, 4, 1],
      [2, 4, 2],
      [4, 4, 2],
      [2, 5, 1],
      [3, 6, 3],
      [2, 8, 2],
      [4, 8, 2],
    ] as const;
    const queries: ((m: string, r: string, s: number) => string)[] = [
      (m, _r, s) => `+properties.mode:${m} +properties.skill:>=${s - 20} +properties.skill:<=${s + 20}`,
      (m, r) => `+properties.mode:${m} +properties.region:${r}`,
      (m, r, s) => `+properties.mode:${m} +properties.region:${r} +properties.skill:>${s - 30} +properties.skill:<${s + 30}`,
      (m, r) => `properties.region:${r} properties.mode:${m}`,
      () => '*',
      (m, r) => `+properties.mode:${m} -properties.region:${r}`,
      (_m, r, s) => `+properties.region:${r} properties.skill:>=${s - 10}^3`,
      (m) => `-properties.mode:${m}`,
      (_m, _r, s) => `+properties.skill:>=${s - 40}`,
      (m) => `+properties.mode:${m.slice(0, 2)}*`,
      (_m, _r, s) => `+properties.level:${s % 3}`,
      (m) => m,
    ];
    const maxIntervals = 2;
    const pool = new MatchmakerPool({ maxIntervals });
    let id = 0;
    let rejected = 0;
    let matched = 0;
    for (let round = 0; round < 25; round++) {
      for (let i = 0; i < 150; i++) {
        const [min, max, mult] = pick(counts);
        const partySize = random() < 0.2 ? Math.min(max, 2 + Math.floor(random() * 2)) : 1;
        const users = new Set<string>();
        while (users.size < partySize) users.add(`u${Math.floor(random() * 400)}`);
        const m = pick(modes);
        const r = pick(regions);
        const s = Math.floor(random() * 100);
        try {
          pool.add({
            id: `r${id++}`,
            users: [...users].map((u) => ({ userId: u, sessionId: `s-${u}`, username: u })),
            ...(partySize > 1 ? { partyId: `p${id}` } : {}),
            stringProperties: { mode: m, region: r },
            numericProperties: random() < 0.9 ? { skill: s, level: s % 3 } : { level: s % 3 },
            query: pick(queries)(m, r, s),
            minCount: min,
            maxCount: max,
            countMultiple: mult,
            createdAt: Math.floor(random() * 1e6),
          });
        } catch (err) {
          assert.ok(err instanceof AppError && err.code === Code.RESOURCE_EXHAUSTED, String(err));
          rejected++;
        }
      }
      const before = snapshot(pool);
      const groups = pool.process();
      checkPass(before, groups, pool, maxIntervals);
      matched += groups.length;
      // Some users leave.
      for (let k = 0; k < 10; k++) pool.removeUser(`u${Math.floor(random() * 400)}`);
    }
    assert.ok(matched > 200, `${matched} matches formed`);
    assert.ok(rejected > 0, 'some adds hit the per-user limit');
  });

  test('1v1 tickets of few kinds: every match obeys the rules, and no two waiting tickets could still match', () => {
    const random = rng(3);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const pool = new MatchmakerPool({ maxIntervals: 3 });
    let id = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 120; i++) {
        const mode = pick(['a', 'b']);
        const region = pick(['x', 'y']);
        const skill = Math.floor(random() * 60);
        const w = 1 + Math.floor(random() * 8);
        const queries = [
          `+properties.mode:${mode} +properties.region:${region}`,
          `+properties.mode:${mode} +properties.region:${region} +properties.skill:>=${skill - w} +properties.skill:<=${skill + w}`,
          `+properties.mode:${mode} +properties.skill:>${skill - w} +properties.skill:<${skill + w}`,
          `+properties.skill:>=${skill - w} +properties.skill:<=${skill + w}`,
          `+properties.mode:${pick(['a', 'b'])} +properties.region:${region}`,
          `+properties.mode:${mode} properties.region:${region}`,
          `+properties.mode:"${mode}" +properties.skill:>=${skill - w}`,
        ];
        const user = `u${Math.floor(random() * 300)}`;
        try {
          pool.add({
            id: `d${id++}`,
            users: [{ userId: user, sessionId: user, username: user }],
            stringProperties: random() < 0.9 ? { mode, region } : { mode },
            numericProperties: random() < 0.9 ? { skill } : {},
            query: pick(queries),
            minCount: 2,
            maxCount: 2,
            createdAt: id,
          });
        } catch (err) {
          assert.ok(err instanceof AppError && err.code === Code.RESOURCE_EXHAUSTED, String(err));
        }
      }
      const before = snapshot(pool);
      checkPass(before, pool.process(), pool, 3);
    }
  });

  test('a realistic pool of 100,000 tickets is processed in one pass', () => {
    const random = rng(11);
    const normal = () => {
      let s = 0;
      for (let i = 0; i < 6; i++) s += random();
      return s / 6;
    };
    const modes = [
      { mode: 'duel', min: 2, max: 2, mult: 1 },
      { mode: 'duo', min: 4, max: 4, mult: 2 },
      { mode: 'squad', min: 4, max: 8, mult: 2 },
      { mode: 'brawl', min: 3, max: 6, mult: 1 },
    ];
    const regions = ['eu', 'us-east', 'us-west', 'asia', 'sa'];
    const maxIntervals = 2;
    const pool = new MatchmakerPool({ maxIntervals });
    for (let i = 0; i < 100_000; i++) {
      const m = modes[Math.floor(random() * modes.length)]!;
      const region = regions[Math.floor(random() * regions.length)]!;
      const skill = Math.round(3000 * normal());
      const w = 50 + Math.round(random() * 150);
      const party = m.max > 2 && random() < 0.1;
      pool.add({
        id: `b${i}`,
        users: (party ? [`b${i}a`, `b${i}b`] : [`b${i}`]).map((u) => ({ userId: u, sessionId: u, username: u })),
        ...(party ? { partyId: `p${i}` } : {}),
        stringProperties: { mode: m.mode, region },
        numericProperties: { skill },
        query: `+properties.mode:${m.mode} +properties.region:${region} +properties.skill:>=${skill - w} +properties.skill:<=${skill + w}`,
        minCount: m.min,
        maxCount: m.max,
        countMultiple: m.mult,
        createdAt: i,
        intervals: random() < 0.25 ? maxIntervals : 0,
      });
    }
    const before = snapshot(pool);
    const groups = pool.process();
    assert.ok(groups.length > 10_000, `${groups.length} matches`);
    checkPass(before, groups, pool, maxIntervals, false);
    // The slow reference on a sample of the matches.
    for (const g of groups.filter((_, i) => i % 50 === 0))
      for (const a of g.tickets) for (const b of g.tickets) if (a !== b) assert.ok(refMatches(a.query, b));
  });
});
