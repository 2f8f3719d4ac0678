/**
 * Matchmaker tickets: the public shapes, the checks a ticket must pass to enter a pool, and the
 * compiled form the engine works with (property maps, the query's clauses and its index plan).
 */
import { AppError, invalid } from '../errors.js';
import { parseQueryClauses, scoreFlat, type FlatClause, type FlatProperties, type QueryClause } from './match-query.js';

/** One user in a ticket: the ticket's owner, or one of its party's members. */
export interface MatchmakerUser {
  readonly userId: string;
  readonly sessionId: string;
  readonly username: string;
}

/** What a caller hands to `MatchmakerPool.add` (Nakama's `matchmaker_add` / `party_matchmaker_add`). */
export interface TicketInput {
  id: string;
  /** One user, or every member of a party: they are matched together, never split. */
  users: readonly MatchmakerUser[];
  partyId?: string | undefined;
  /** Nakama's `string_properties`; a query reads them as `properties.<name>`. */
  stringProperties?: Readonly<Record<string, string>> | undefined;
  /** Nakama's `numeric_properties`; a query reads them as `properties.<name>`. */
  numericProperties?: Readonly<Record<string, number>> | undefined;
  /** Match query syntax (match-query.ts) over `properties.<name>` fields; `*` matches everyone. */
  query: string;
  /** Total users in a match (party members count one each): at least 2. */
  minCount: number;
  maxCount: number;
  /** The match's user count must be a multiple of this (default 1); it divides minCount and maxCount. */
  countMultiple?: number | undefined;
  /** When the ticket was created (caller's clock, ms): older tickets are served first. */
  createdAt: number;
  /** Intervals already waited (default 0), e.g. when a ticket moves between pools. */
  intervals?: number | undefined;
}

/** A ticket as the pool holds it. */
export interface MatchmakerTicket {
  readonly id: string;
  readonly users: readonly MatchmakerUser[];
  readonly partyId: string | undefined;
  readonly stringProperties: Readonly<Record<string, string>>;
  readonly numericProperties: Readonly<Record<string, number>>;
  readonly query: string;
  readonly minCount: number;
  readonly maxCount: number;
  readonly countMultiple: number;
  readonly createdAt: number;
  /** Process passes this ticket has taken part in, the current one included while it runs. */
  readonly intervals: number;
}

/** Where a ticket is: waiting, or gone (matched, withdrawn or removed). */
export const TicketState = { LIVE: 0, GONE: 1 } as const;

/**
 * The numeric window of a query's range clauses on one property. `hard` windows come from
 * required (`+`) clauses and filter; soft ones come from optional clauses and only rank.
 */
export interface RangePlan {
  /** The property's slot. */
  readonly field: number;
  readonly lo: number;
  readonly loOpen: boolean;
  readonly hi: number;
  readonly hiOpen: boolean;
  readonly hard: boolean;
}

/**
 * How to find a query's candidates: tickets whose values of `eqFields` form `eqKey` (a hash bucket),
 * within the range's window when it is hard. The bucket holds exactly the tickets that pass the
 * indexed clauses (see eqValueOf); the query's other clauses still decide.
 */
export interface QueryPlan {
  /** Property slots of required exact-value clauses, sorted and distinct; empty: one bucket of everything. */
  readonly eqFields: readonly number[];
  readonly eqKey: string;
  readonly range: RangePlan | undefined;
  /** Identifies the index (eqFields and range field) this plan reads. */
  readonly indexId: string;
  /**
   * Every ticket in the plan's bucket (and hard window) matches the query, with this score: the
   * query holds only indexed exact-value clauses and hard range clauses. Undefined otherwise.
   */
  readonly coveredScore: number | undefined;
}

/** Separates values in a bucket key; a query value holding it is not indexed (the key would be ambiguous). */
export const KEY_SEP = '\u0001';
const PREFIX = 'properties.';

/**
 * A pool's property names as small integers (so queries compare slots instead of hashing names),
 * and its index ids as one string object each (so comparing them is comparing pointers). Neither is
 * ever forgotten: a pool sees the handful of names and query shapes its game uses.
 */
export class PoolSymbols {
  private readonly slots = new Map<string, number>();
  private readonly ids = new Map<string, string>();
  slot(name: string): number {
    let slot = this.slots.get(name);
    if (slot === undefined) this.slots.set(name, (slot = this.slots.size));
    return slot;
  }
  indexId(id: string): string {
    const known = this.ids.get(id);
    if (known !== undefined) return known;
    this.ids.set(id, id);
    return id;
  }
}

/** The engine's ticket: the public fields plus what matching needs, compiled once at add time. */
export class TicketEntry implements MatchmakerTicket {
  readonly id: string;
  readonly users: readonly MatchmakerUser[];
  readonly partyId: string | undefined;
  readonly stringProperties: Readonly<Record<string, string>>;
  readonly numericProperties: Readonly<Record<string, number>>;
  readonly query: string;
  readonly minCount: number;
  readonly maxCount: number;
  readonly countMultiple: number;
  readonly createdAt: number;
  intervals: number;
  /** Users in the ticket. */
  readonly size: number;
  readonly props: FlatProperties;
  /** The query's clauses, fields as property slots. */
  readonly clauses: readonly FlatClause[];
  readonly plan: QueryPlan;
  /** Insertion order: breaks createdAt ties. */
  readonly seq: number;
  state: number = TicketState.LIVE;
  /**
   * Whether one of the users held another ticket at some point while this one waited: only such
   * tickets can clash over a user, or leave other tickets to withdraw. Never cleared (a stale mark
   * only costs a slower check).
   */
  shared = false;
  /** Bucket keys by index id (see keysOf): properties never change, so they are computed once. */
  keyCache: [string, readonly string[]][] | undefined;
  /**
   * Set when the query is covered by its plan (QueryPlan.coveredScore) and the ticket's own values
   * are in its own bucket: the plan's index id and key. Between two tickets with the same `kind`,
   * a query matches the other ticket exactly when the other's `value` is in its window.
   */
  readonly kind: string | undefined;
  /** The ticket's own value of its plan's range field; 0 without a range (any value is in an unbounded window). */
  readonly value: number;
  /** The plan's hard window, copied here to spare a pointer in the hot loop. */
  readonly lo: number;
  readonly hi: number;
  readonly loOpen: boolean;
  readonly hiOpen: boolean;

  constructor(t: TicketInput, seq: number, symbols: PoolSymbols) {
    checkTicket(t);
    this.id = t.id;
    this.users = t.users.map((u) => ({ userId: u.userId, sessionId: u.sessionId, username: u.username }));
    this.partyId = t.partyId || undefined;
    this.stringProperties = { ...t.stringProperties };
    this.numericProperties = { ...t.numericProperties };
    this.query = t.query;
    this.minCount = t.minCount;
    this.maxCount = t.maxCount;
    this.countMultiple = t.countMultiple ?? 1;
    this.createdAt = t.createdAt;
    this.intervals = t.intervals ?? 0;
    this.size = t.users.length;
    const strs = Object.entries(this.stringProperties);
    const nums = Object.entries(this.numericProperties);
    this.props = {
      strSlots: strs.map(([k]) => symbols.slot(k)),
      strVals: strs.map(([, v]) => v),
      numSlots: nums.map(([k]) => symbols.slot(k)),
      numVals: nums.map(([, v]) => v),
    };
    this.clauses = compileClauses(t.query, symbols);
    this.plan = planOf(this.clauses, symbols);
    this.seq = seq;
    // Most pools index every ticket the way its own query is planned: key it now, once.
    const own = keysOf(this, this.plan.indexId, this.plan.eqFields);
    const r = this.plan.range;
    const i = r ? this.props.numSlots.indexOf(r.field) : -1;
    this.value = !r ? 0 : i < 0 ? NaN : this.props.numVals[i]!;
    [this.lo, this.hi, this.loOpen, this.hiOpen] = r ? [r.lo, r.hi, r.loOpen, r.hiOpen] : [-Infinity, Infinity, false, false];
    this.kind =
      this.plan.coveredScore !== undefined && own.includes(this.plan.eqKey) && (!r || i >= 0)
        ? `${this.plan.indexId}${KEY_SEP}${this.plan.eqKey}`
        : undefined;
  }
}

const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);

/** Throws INVALID_ARGUMENT naming the first thing wrong with a ticket. */
function checkTicket(t: TicketInput): void {
  if (typeof t.id !== 'string' || t.id === '') throw invalid('Matchmaker ticket id is required.');
  if (!Array.isArray(t.users) || t.users.length === 0) throw invalid('A matchmaker ticket needs at least one user.');
  const seen = new Set<string>();
  for (const u of t.users) {
    if (typeof u?.userId !== 'string' || u.userId === '') throw invalid('Every matchmaker ticket user needs a user id.');
    if (typeof u.sessionId !== 'string' || u.sessionId === '') throw invalid(`User ${u.userId} in a matchmaker ticket needs a session id.`);
    if (seen.has(u.userId)) throw invalid(`User ${u.userId} appears twice in matchmaker ticket ${t.id}.`);
    seen.add(u.userId);
  }
  const { minCount: min, maxCount: max } = t;
  const multiple = t.countMultiple ?? 1;
  if (!isInt(min) || min < 2) throw invalid(`Invalid minimum count ${String(min)}: it must be an integer of 2 or more.`);
  if (!isInt(max) || max < min)
    throw invalid(`Invalid maximum count ${String(max)}: it must be an integer of at least the minimum count ${min}.`);
  if (!isInt(multiple) || multiple < 1) throw invalid(`Invalid count multiple ${String(multiple)}: it must be an integer of 1 or more.`);
  if (min % multiple !== 0) throw invalid(`Invalid count multiple ${multiple}: the minimum count ${min} is not a multiple of it.`);
  if (max % multiple !== 0) throw invalid(`Invalid count multiple ${multiple}: the maximum count ${max} is not a multiple of it.`);
  if (t.users.length > max) throw invalid(`A matchmaker ticket of ${t.users.length} users cannot fit its maximum count ${max}.`);
  if (typeof t.query !== 'string') throw invalid('A matchmaker ticket needs a query (use "*" to match everyone).');
  if (typeof t.createdAt !== 'number' || !Number.isFinite(t.createdAt)) throw invalid('A matchmaker ticket needs a creation time.');
  if (t.intervals !== undefined && (!isInt(t.intervals) || t.intervals < 0))
    throw invalid(`Invalid interval count ${String(t.intervals)}: it must be a non-negative integer.`);
  for (const [k, v] of Object.entries(t.stringProperties ?? {}))
    if (typeof v !== 'string') throw invalid(`String property ${k} must be a string.`);
  for (const [k, v] of Object.entries(t.numericProperties ?? {}))
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`Numeric property ${k} must be a finite number.`);
}

/** The query's clauses with `properties.<name>` fields turned into property slots. */
function compileClauses(query: string, symbols: PoolSymbols): FlatClause[] {
  let clauses: QueryClause[];
  try {
    clauses = parseQueryClauses(query);
  } catch (err) {
    if (err instanceof AppError) throw invalid(err.message.replace('Invalid match query', 'Invalid matchmaker query'));
    throw err;
  }
  return clauses.map((c) => {
    if (c.field === undefined) return { ...c, slot: -1 };
    if (!c.field.startsWith(PREFIX) || c.field.length === PREFIX.length)
      throw invalid(`Invalid matchmaker query: field "${c.field}" is not a ticket property (write properties.<name>).`);
    return { ...c, slot: symbols.slot(c.field.slice(PREFIX.length)) };
  });
}

/**
 * A required clause's exact value as a bucket key, or undefined when it cannot be keyed exactly:
 * a ticket is in the bucket if and only if its values pass the clause (see keysOf).
 */
function eqValueOf(c: FlatClause): string | undefined {
  if (c.occur !== 'must' || c.slot < 0 || (c.test.kind !== 'term' && c.test.kind !== 'phrase')) return undefined;
  const v = c.test.value;
  if (v.includes(KEY_SEP)) return undefined;
  // A number is keyed by its spelling: a numeric term must be spelt that way, and a phrase (strings only) must not look like one.
  if (c.test.kind === 'term' && c.test.num !== undefined && String(c.test.num) !== v) return undefined;
  if (c.test.kind === 'phrase' && String(Number(v)) === v) return undefined;
  return v;
}

/** The index plan of compiled clauses (see QueryPlan). */
export function planOf(clauses: readonly FlatClause[], symbols: PoolSymbols): QueryPlan {
  const eq = new Map<number, string>();
  let covered = true;
  let score = 0;
  for (const c of clauses) {
    const v = eqValueOf(c);
    if (v !== undefined && !eq.has(c.slot)) eq.set(c.slot, v);
    else covered &&= c.occur === 'must' && c.test.kind === 'range';
    if (c.occur === 'must') score += c.boost;
  }
  const eqFields = [...eq.keys()].sort((a, b) => a - b);
  const range = rangeOf(clauses, 'must') ?? rangeOf(clauses, 'should');
  // Hard range clauses are covered only when they all bear on the indexed field.
  covered &&= clauses.every((c) => c.test.kind !== 'range' || (range?.hard === true && c.slot === range.field));
  return {
    eqFields,
    eqKey: eqFields.map((f) => eq.get(f)!).join(KEY_SEP),
    range,
    indexId: symbols.indexId(`${eqFields.join(',')}/${range?.field ?? ''}`),
    coveredScore: covered && clauses.length > 0 ? score : undefined,
  };
}

/** The window of the first field with range clauses of `occur`, every such clause on it combined. */
function rangeOf(clauses: readonly FlatClause[], occur: 'must' | 'should'): RangePlan | undefined {
  const field = clauses.find((c) => c.occur === occur && c.test.kind === 'range' && c.slot >= 0)?.slot;
  if (field === undefined) return undefined;
  let lo = -Infinity;
  let hi = Infinity;
  let loOpen = false;
  let hiOpen = false;
  for (const c of clauses) {
    if (c.occur !== occur || c.slot !== field || c.test.kind !== 'range') continue;
    const { op, value } = c.test;
    if (op === '>' || op === '>=') {
      const open = op === '>';
      if (value > lo || (value === lo && open)) [lo, loOpen] = [value, open];
    } else {
      const open = op === '<';
      if (value < hi || (value === hi && open)) [hi, hiOpen] = [value, open];
    }
  }
  return { field, lo, loOpen, hi, hiOpen, hard: occur === 'must' };
}

/** The values of a property slot as bucket key parts: its string and/or its number's spelling. */
function partsOf(e: TicketEntry, slot: number): string[] {
  const { strSlots, strVals, numSlots, numVals } = e.props;
  const s = strVals[strSlots.indexOf(slot)];
  const ni = numSlots.indexOf(slot);
  const n = ni < 0 ? undefined : String(numVals[ni]);
  if (s === undefined) return n === undefined ? [] : [n];
  return n === undefined || n === s ? [s] : [s, n];
}

/**
 * The bucket keys of a ticket's values for the slots `fields` of index `indexId` (several when a
 * name has both a string and a number; none if one is missing), cached on the ticket.
 */
export function keysOf(e: TicketEntry, indexId: string, fields: readonly number[]): readonly string[] {
  const cache = (e.keyCache ??= []);
  for (let i = 0; i < cache.length; i++) if (cache[i]![0] === indexId) return cache[i]![1];
  let keys = [''];
  for (let i = 0; i < fields.length; i++) {
    const parts = partsOf(e, fields[i]!);
    const sep = i === 0 ? '' : KEY_SEP;
    keys = parts.length === 1 && keys.length === 1 ? [keys[0] + sep + parts[0]] : keys.flatMap((k) => parts.map((v) => k + sep + v));
    if (keys.length === 0) break;
  }
  if (cache.length < 4) cache.push([indexId, keys]);
  return keys;
}

/** Whether `a`'s query matches `b`'s properties; a comparison of numbers when they are of one kind. */
export function accepts(a: TicketEntry, b: TicketEntry): boolean {
  if (a.kind !== undefined && a.kind === b.kind) {
    const v = b.value;
    return (a.loOpen ? v > a.lo : v >= a.lo) && (a.hiOpen ? v < a.hi : v <= a.hi);
  }
  return scoreFlat(a.clauses, b.props) !== null;
}
