/**
 * Nakama's match listing query over JSON labels (the query-string syntax of Bluge/Bleve that
 * Nakama indexes labels with), compiled once and scored per label. The supported subset:
 *
 * - `+field:value` must match, `-field:value` must not, `field:value` may (optional terms rank
 *   results; a query with no required term needs at least one optional term to match);
 * - fields are label paths, nested with dots (`label.mode` or just `mode`); arrays are searched
 *   element by element (`label.tags:pvp` matches `{"tags":["pvp","eu"]}`);
 * - values are exact and case-sensitive (Nakama's keyword analyzer); `"quoted phrases"` may hold
 *   spaces; `*` and `?` are wildcards; a number also matches numeric values; `T`/`F` (or
 *   `true`/`false`) match booleans;
 * - numeric comparisons `field:>5`, `>=`, `<`, `<=`;
 * - boosts `term^2` (a matching clause adds its boost to the score; the default boost is 1);
 * - `*` (or an empty query) matches every label; `\` escapes the next character.
 *
 * Not supported (a clear error rather than a silent mismatch): regular expressions, fuzzy terms.
 * Unlike Nakama, a term without a field searches every field of the label.
 *
 * The matchmaker uses the same language over a ticket's flat properties: `parseQueryClauses` gives
 * the compiled clauses (fields as written) and `scoreFlat` evaluates them (fields resolved to
 * property slots) against flat string and numeric values, without building or parsing JSON.
 */
import { invalid } from '../errors.js';

type Leaf = string | number | boolean;
/** `+` must match, `-` must not, neither: may (ranks, and filters only when nothing is required). */
export type QueryOccur = 'must' | 'should' | 'mustNot';
/** What a clause tests a field's values with. A term's `num` is its value read as a number, if it is one. */
export type QueryTest =
  | { readonly kind: 'term'; readonly value: string; readonly num: number | undefined }
  | { readonly kind: 'wildcard'; readonly pattern: RegExp }
  | { readonly kind: 'phrase'; readonly value: string }
  | { readonly kind: 'range'; readonly op: '>' | '>=' | '<' | '<='; readonly value: number };

/** One compiled clause. */
export interface QueryClause {
  readonly occur: QueryOccur;
  /** The field as the query names it (label queries drop a `label.` prefix); undefined searches every field. */
  readonly field: string | undefined;
  readonly test: QueryTest;
  readonly boost: number;
}
type Clause = QueryClause;
type Test = QueryTest;
type Occur = QueryOccur;

/** A compiled query. */
export interface MatchQuery {
  /** The label's score (higher ranks first), or null when the label does not match. */
  score(label: string): number | null;
}

const MATCH_ALL: MatchQuery = { score: () => 1 };

/** Compiles a query string; throws INVALID_ARGUMENT with the reason when it cannot be parsed. */
export function parseMatchQuery(input: string): MatchQuery {
  const text = input.trim();
  if (text === '' || text === '*') return MATCH_ALL;
  const clauses = new Parser(text)
    .clauses()
    .map((c) => (c.field?.startsWith('label.') ? { ...c, field: c.field.slice('label.'.length) } : c));
  return { score: (label) => scoreLabel(clauses, leavesOf(label)) };
}

/**
 * The clauses of a query, fields as written (no prefix dropped); `*` or an empty query gives none,
 * which matches everything. Throws INVALID_ARGUMENT like `parseMatchQuery`.
 */
export function parseQueryClauses(input: string): QueryClause[] {
  const text = input.trim();
  if (text === '' || text === '*') return [];
  return new Parser(text).clauses();
}

/**
 * Flat properties (a matchmaker ticket's): at most one string and one number per name, each name
 * replaced by a small integer slot (see `FlatClause`), in parallel arrays. Comparing slots instead of
 * hashing names is what makes evaluation cheap; tickets hold a handful of properties.
 */
export interface FlatProperties {
  readonly strSlots: readonly number[];
  readonly strVals: readonly string[];
  readonly numSlots: readonly number[];
  readonly numVals: readonly number[];
}

/** A clause whose field is a property slot; -1 searches every property. */
export interface FlatClause extends QueryClause {
  readonly slot: number;
}

function strOf(p: FlatProperties, slot: number): string | undefined {
  const slots = p.strSlots;
  for (let i = 0; i < slots.length; i++) if (slots[i] === slot) return p.strVals[i];
  return undefined;
}

function numOf(p: FlatProperties, slot: number): number | undefined {
  const slots = p.numSlots;
  for (let i = 0; i < slots.length; i++) if (slots[i] === slot) return p.numVals[i];
  return undefined;
}

/**
 * Scores flat properties against clauses with the rules of label queries; null when they do not
 * match. No clauses (`*`): everything matches, with score 1.
 */
export function scoreFlat(clauses: readonly FlatClause[], props: FlatProperties): number | null {
  let score = 0;
  let musts = 0;
  let shoulds = 0;
  let shouldHits = 0;
  for (let i = 0; i < clauses.length; i++) {
    const c = clauses[i]!;
    const hit = matchesFlat(c, props);
    if (c.occur === 'must') {
      if (!hit) return null;
      musts++;
      score += c.boost;
    } else if (c.occur === 'should') {
      shoulds++;
      if (hit) {
        shouldHits++;
        score += c.boost;
      }
    } else if (hit) return null;
  }
  if (musts === 0 && shoulds > 0 && shouldHits === 0) return null;
  return musts === 0 && shoulds === 0 ? 1 : score;
}

/** `test` over one property's values, reading only what the test can match (ranges: numbers; phrases and wildcards: strings). */
function matchesFlat(c: FlatClause, props: FlatProperties): boolean {
  const t = c.test;
  if (c.slot < 0) return props.strVals.some((v) => test(t, v)) || props.numVals.some((v) => test(t, v));
  switch (t.kind) {
    case 'term':
      return strOf(props, c.slot) === t.value || (t.num !== undefined && numOf(props, c.slot) === t.num);
    case 'range': {
      const n = numOf(props, c.slot);
      return n !== undefined && test(t, n);
    }
    case 'phrase':
      return strOf(props, c.slot) === t.value;
    case 'wildcard': {
      const v = strOf(props, c.slot);
      return v !== undefined && t.pattern.test(v);
    }
  }
}

/** Label leaves by path: `{"a":{"b":[1,2]}}` → `a.b` → [1, 2]. Labels that are not JSON objects have none. */
export function leavesOf(label: string): Map<string, Leaf[]> {
  const out = new Map<string, Leaf[]>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(label);
  } catch {
    return out;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return out;
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) for (const x of v) walk(x, path);
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      const list = out.get(path);
      if (list) list.push(v);
      else out.set(path, [v]);
    }
  };
  walk(parsed, '');
  return out;
}

function scoreLabel(clauses: readonly Clause[], leaves: Map<string, Leaf[]>): number | null {
  let score = 0;
  let musts = 0;
  let shoulds = 0;
  let shouldHits = 0;
  for (const c of clauses) {
    const hit = matches(c, leaves);
    if (c.occur === 'mustNot') {
      if (hit) return null;
    } else if (c.occur === 'must') {
      musts++;
      if (!hit) return null;
      score += c.boost;
    } else {
      shoulds++;
      if (hit) {
        shouldHits++;
        score += c.boost;
      }
    }
  }
  if (musts === 0 && shoulds > 0 && shouldHits === 0) return null;
  // Only exclusions: everything else matches, equally.
  return musts === 0 && shoulds === 0 ? 1 : score;
}

function matches(c: Clause, leaves: Map<string, Leaf[]>): boolean {
  if (c.field !== undefined) return (leaves.get(c.field) ?? []).some((leaf) => test(c.test, leaf));
  for (const list of leaves.values()) if (list.some((leaf) => test(c.test, leaf))) return true;
  return false;
}

function test(t: Test, leaf: Leaf): boolean {
  switch (t.kind) {
    case 'phrase':
      return typeof leaf === 'string' && leaf === t.value;
    case 'wildcard':
      return typeof leaf === 'string' && t.pattern.test(leaf);
    case 'range': {
      if (typeof leaf !== 'number') return false;
      if (t.op === '>') return leaf > t.value;
      if (t.op === '>=') return leaf >= t.value;
      if (t.op === '<') return leaf < t.value;
      return leaf <= t.value;
    }
    case 'term': {
      if (typeof leaf === 'string') return leaf === t.value;
      if (typeof leaf === 'boolean') return leaf ? t.value === 'T' || t.value === 'true' : t.value === 'F' || t.value === 'false';
      return t.num !== undefined && leaf === t.num;
    }
  }
}

function numberOf(s: string): number | undefined {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** A run of query text with the positions of characters that were escaped. */
interface Token {
  text: string;
  /** Indexes (UTF-16 offsets in `text`) of characters written with a backslash: never operators or wildcards. */
  escaped: ReadonlySet<number>;
}

const NO_ESCAPES: ReadonlySet<number> = new Set();

/** `/\s/` for one UTF-16 code unit, without a regular expression for ASCII (parsing is on the matchmaker's add path). */
function isSpace(code: number): boolean {
  if (code < 128) return code === 32 || (code >= 9 && code <= 13);
  return /\s/.test(String.fromCharCode(code));
}

/** Whether `ch` occurs in the token without a backslash. */
function hasUnescaped(t: Token, ch: string): boolean {
  for (let k = t.text.indexOf(ch); k >= 0; k = t.text.indexOf(ch, k + 1)) if (!t.escaped.has(k)) return true;
  return false;
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  private fail(reason: string): never {
    throw invalid(`Invalid match query at character ${this.i + 1}: ${reason}.`);
  }

  clauses(): Clause[] {
    const out: Clause[] = [];
    for (;;) {
      while (this.i < this.s.length && isSpace(this.s.charCodeAt(this.i))) this.i++;
      if (this.i >= this.s.length) return out;
      out.push(this.clause());
      if (this.i < this.s.length && !isSpace(this.s.charCodeAt(this.i))) this.fail(`unexpected "${this.s[this.i]}"`);
    }
  }

  private clause(): Clause {
    let occur: Occur = 'should';
    if (this.s[this.i] === '+' || this.s[this.i] === '-') {
      occur = this.s[this.i] === '+' ? 'must' : 'mustNot';
      this.i++;
    }
    let field: string | undefined;
    let test: Test;
    if (this.s[this.i] === '"') test = { kind: 'phrase', value: this.quoted() };
    else {
      const first = this.token(':^');
      if (this.s[this.i] === ':') {
        this.i++;
        if (first.text === '') this.fail('missing field name');
        field = first.text;
        test = this.value();
      } else test = this.plain(first);
    }
    let boost = 1;
    if (this.s[this.i] === '^') {
      this.i++;
      const raw = this.token('').text;
      const n = numberOf(raw);
      if (n === undefined || n < 0) this.fail(`boost must be a non-negative number, got "${raw}"`);
      boost = n;
    }
    return { occur, field, test, boost };
  }

  /** The value after `field:`. */
  private value(): Test {
    const c = this.s[this.i];
    if (c === '"') return { kind: 'phrase', value: this.quoted() };
    if (c === '>' || c === '<') {
      let op: '>' | '>=' | '<' | '<=' = c;
      this.i++;
      if (this.s[this.i] === '=') {
        op = c === '>' ? '>=' : '<=';
        this.i++;
      }
      const raw = this.s[this.i] === '"' ? this.quoted() : this.token('^').text;
      const n = numberOf(raw);
      if (n === undefined) this.fail(`"${op}" needs a number, got "${raw}"`);
      return { kind: 'range', op, value: n };
    }
    return this.plain(this.token('^'));
  }

  /** A bare value: exact, or a wildcard pattern when it holds an unescaped `*` or `?`. */
  private plain(t: Token): Test {
    if (t.text === '') this.fail('missing value');
    if (t.text.startsWith('/') && !t.escaped.has(0)) this.fail('regular expressions are not supported');
    if (hasUnescaped(t, '~')) this.fail('fuzzy terms are not supported (escape "~" to search for it)');
    if (!hasUnescaped(t, '*') && !hasUnescaped(t, '?')) return { kind: 'term', value: t.text, num: numberOf(t.text) };
    let re = '';
    for (let k = 0; k < t.text.length; k++) {
      const x = t.text[k]!;
      if (!t.escaped.has(k) && x === '*') re += '.*';
      else if (!t.escaped.has(k) && x === '?') re += '.';
      else re += x.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
    return { kind: 'wildcard', pattern: new RegExp(`^${re}$`, 's') };
  }

  /** Characters up to whitespace or one of `stops` (unescaped). */
  private token(stops: string): Token {
    const s = this.s;
    let text = '';
    let escaped: Set<number> | undefined;
    let run = this.i;
    while (this.i < s.length) {
      const code = s.charCodeAt(this.i);
      if (code === 92 /* \\ */) {
        if (this.i + 1 >= s.length) this.fail('nothing to escape after "\\"');
        text += s.slice(run, this.i);
        (escaped ??= new Set()).add(text.length);
        text += s[this.i + 1];
        this.i += 2;
        run = this.i;
        continue;
      }
      if (isSpace(code) || (stops !== '' && stops.includes(s[this.i]!))) break;
      if (code === 34 /* " */) this.fail('a quote inside a term (put the whole value in quotes)');
      this.i++;
    }
    text += s.slice(run, this.i);
    return { text, escaped: escaped ?? NO_ESCAPES };
  }

  /** A `"quoted phrase"`; `\"` and `\\` inside it are literal. */
  private quoted(): string {
    this.i++;
    let text = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === '\\' && this.i + 1 < this.s.length) {
        text += this.s[this.i + 1];
        this.i += 2;
        continue;
      }
      if (c === '"') {
        this.i++;
        return text;
      }
      text += c;
      this.i++;
    }
    this.fail('unterminated quote');
  }
}
