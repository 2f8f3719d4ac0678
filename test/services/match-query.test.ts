/** The match listing query (Nakama's query syntax over JSON labels) and the listing selection rules. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError, Code } from '../../src/errors.js';
import { parseMatchQuery } from '../../src/services/match-query.js';
import { checkMatchFilter, selectMatches, type MatchListing } from '../../src/services/matches.js';

const label = (o: unknown) => JSON.stringify(o);
const ranked = label({
  mode: 'ranked',
  level: 12,
  region: 'eu',
  tags: ['pvp', 'night'],
  open: true,
  name: 'big room',
  owner: { name: 'ann', rating: 1500 },
});
const casual = label({
  mode: 'casual',
  level: 3,
  region: 'us',
  tags: ['pve'],
  open: false,
  name: 'small',
  owner: { name: 'bob', rating: 900 },
});
const score = (q: string, l: string) => parseMatchQuery(q).score(l);

describe('parseMatchQuery', () => {
  test('fields with or without the label. prefix, nested paths, exact and case-sensitive values', () => {
    assert.equal(score('+label.mode:ranked', ranked), 1);
    assert.equal(score('+mode:ranked', ranked), 1);
    assert.equal(score('+mode:ranked', casual), null);
    assert.equal(score('+mode:Ranked', ranked), null);
    assert.equal(score('+mode:rank', ranked), null, 'no partial matches (keyword values)');
    assert.equal(score('+label.owner.name:ann', ranked), 1);
    assert.equal(score('+owner.rating:1500', ranked), 1, 'a number matches a numeric value');
    assert.equal(score('+level:12.0', ranked), 1);
  });

  test('required, excluded and optional terms; optional terms rank', () => {
    assert.equal(score('+mode:ranked -region:eu', ranked), null);
    assert.equal(score('+mode:ranked -region:us', ranked), 1);
    assert.equal(score('-region:us', ranked), 1, 'only exclusions: everything else matches');
    assert.equal(score('-region:us', casual), null);
    assert.equal(score('mode:ranked region:eu', ranked), 2);
    assert.equal(score('mode:ranked region:us', ranked), 1);
    assert.equal(score('mode:ranked region:us', casual), 1);
    assert.equal(score('mode:none region:none', ranked), null, 'without a required term, one optional term must match');
    assert.equal(score('+open:T region:us', ranked), 1, 'optional terms do not filter when something is required');
  });

  test('numeric comparisons, arrays, phrases, booleans, wildcards, boosts, match-all', () => {
    assert.equal(score('+level:>10', ranked), 1);
    assert.equal(score('+level:>12', ranked), null);
    assert.equal(score('+level:>=12', ranked), 1);
    assert.equal(score('+level:<12', ranked), null);
    assert.equal(score('+level:<=12 +level:>=3', casual), 2);
    assert.equal(score('+label.tags:pvp', ranked), 1);
    assert.equal(score('+label.tags:pvp', casual), null);
    assert.equal(score('+name:"big room"', ranked), 1);
    assert.equal(score('+name:"big"', ranked), null);
    assert.equal(score('+open:T', ranked), 1);
    assert.equal(score('+open:true', ranked), 1);
    assert.equal(score('+open:F', casual), 1);
    assert.equal(score('+open:T', casual), null);
    assert.equal(score('+region:e*', ranked), 1);
    assert.equal(score('+region:e?', ranked), 1);
    assert.equal(score('+region:e*', casual), null);
    assert.equal(score('mode:ranked^5 region:eu', ranked), 6);
    assert.equal(score('+mode:casual^2.5', casual), 2.5);
    assert.equal(score('*', casual), 1);
    assert.equal(score('', casual), 1);
    assert.equal(score('ranked', ranked), 1, 'a term without a field searches every field');
  });

  test('escapes', () => {
    const l = label({ 'a:b': 'x y', path: 'c:\\d*' });
    assert.equal(score('+a\\:b:x\\ y', l), 1);
    assert.equal(score('+path:c\\:\\\\d\\*', l), 1);
    assert.equal(score('+path:c\\:\\\\d*', l), 1);
  });

  test('labels that are not JSON objects match nothing but match-all and exclusions', () => {
    assert.equal(score('+mode:ranked', 'ranked'), null);
    assert.equal(score('-mode:ranked', 'not json'), 1);
    assert.equal(score('*', ''), 1);
  });

  test('syntax errors are INVALID_ARGUMENT with the reason', () => {
    for (const [q, why] of [
      ['+mode:"open', /unterminated quote/],
      ['level:>ten', /needs a number/],
      ['mode:x^high', /boost/],
      [':x', /missing field/],
      ['mode:', /missing value/],
      ['name:/ab+/', /regular expressions/],
      ['name:ann~2', /fuzzy/],
      ['mode:ranked"x"', /unexpected|quote/],
    ] as const) {
      assert.throws(
        () => parseMatchQuery(q),
        (err: unknown) => err instanceof AppError && err.code === Code.INVALID_ARGUMENT && why.test(err.message),
        q,
      );
    }
  });
});

describe('selectMatches', () => {
  const m = (id: string, o: Partial<MatchListing>): MatchListing => ({
    matchId: id,
    authoritative: true,
    label: '',
    size: 1,
    tickRate: 10,
    handlerName: 'h',
    createdAt: 0,
    ...o,
  });
  const all = [
    m('a1', { label: ranked, size: 2, createdAt: 1 }),
    m('a2', { label: casual, size: 4, createdAt: 2 }),
    m('a3', { label: label({ mode: 'ranked', level: 20 }), size: 0, createdAt: 3 }),
    m('r1', { authoritative: false, tickRate: 0, handlerName: '', size: 3, createdAt: 4 }),
  ];
  const ids = (l: MatchListing[]) => l.map((x) => x.matchId);

  test('no filter: authoritative newest first, then relayed; authoritative=true/false; limit', () => {
    assert.deepEqual(ids(selectMatches(all, { limit: 10 })), ['a3', 'a2', 'a1', 'r1']);
    assert.deepEqual(ids(selectMatches(all, { limit: 10, authoritative: true })), ['a3', 'a2', 'a1']);
    assert.deepEqual(ids(selectMatches(all, { limit: 10, authoritative: false })), ['r1']);
    assert.deepEqual(ids(selectMatches(all, { limit: 2 })), ['a3', 'a2']);
  });

  test('label is exact; query ranks by score then newest; sizes filter everything', () => {
    assert.deepEqual(ids(selectMatches(all, { limit: 10, label: casual })), ['a2']);
    assert.deepEqual(ids(selectMatches(all, { limit: 10, query: '+mode:ranked' })), ['a3', 'a1']);
    assert.deepEqual(ids(selectMatches(all, { limit: 10, query: '+mode:ranked region:eu' })), ['a1', 'a3']);
    assert.deepEqual(ids(selectMatches(all, { limit: 10, query: '+level:>=10' })), ['a3', 'a1']);
    assert.deepEqual(ids(selectMatches(all, { limit: 10, minSize: 2, maxSize: 3 })), ['a1', 'r1']);
    assert.deepEqual(ids(selectMatches(all, { limit: 10, query: '*', maxSize: 0 })), ['a3']);
  });

  test("filter checks follow Nakama's order and messages", () => {
    const msg = (f: Parameters<typeof checkMatchFilter>[0]) => {
      try {
        checkMatchFilter(f);
        return 'ok';
      } catch (err) {
        return (err as AppError).message;
      }
    };
    assert.equal(msg({ limit: 0 }), 'Invalid limit - limit must be between 1 and 100.');
    assert.equal(msg({ limit: 101, minSize: -1 }), 'Invalid limit - limit must be between 1 and 100.');
    assert.equal(msg({ limit: Number.NaN }), 'Invalid limit - limit must be between 1 and 100.');
    assert.equal(msg({ limit: 1, authoritative: false, label: '' }), 'Label filtering is not supported for non-authoritative matches.');
    assert.equal(msg({ limit: 1, authoritative: false, query: '*' }), 'Query filtering is not supported for non-authoritative matches.');
    assert.equal(msg({ limit: 1, minSize: -1 }), 'Minimum size must be 0 or above.');
    assert.equal(msg({ limit: 1, maxSize: -1 }), 'Maximum size must be 0 or above.');
    assert.equal(
      msg({ limit: 1, minSize: 3, maxSize: 2 }),
      'Maximum size must be greater than or equal to minimum size when both are specified.',
    );
    assert.equal(msg({ limit: 100, minSize: 2, maxSize: 2 }), 'ok');
  });
});
