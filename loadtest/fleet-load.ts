/**
 * A load worker of the fleet scenario: a child process (`node --import tsx loadtest/fleet-load.ts`,
 * forked by loadtest/fleet-workers.ts) that holds whole `match` rooms of clients and answers the
 * parent's commands over IPC (the message types are in loadtest/fleet-ipc.ts).
 *
 * - join: for each group, the first client `create`s the room over HTTP on its group's server, the
 *   others `joinById`; every WebSocket goes where the seat reservation says. Clients are raw
 *   (loadtest/fleet-raw.ts: they count `match_data` frames by their first bytes and never decode),
 *   except the last member of each sampled group: an @colyseus/sdk client that decodes and checks
 *   every `match_data` it gets (sender session, per-sender sequence without gap or repeat, op_code,
 *   payload layout) and measures latency.
 * - start: every client sends `match_data_send` at `rate` per second, phases spread over the period
 *   by the client's index among all workers. A room keeps at most `window` of its messages in flight
 *   (sent × (members − 1) − deliveries counted in the room < window × (members − 1)): a send past
 *   that is held back, not queued. Below saturation the window never binds; at saturation it keeps
 *   the backlog, the latency and the drain bounded, and `held` says the servers (or this machine)
 *   could not take the offered rate.
 * - mark: counters now (and whether latencies of sampled receivers are recorded from now on).
 * - stop: no more sends; wait until every room got every delivery (or `drainMs`), then totals.
 * - leave: LEAVE_ROOM on every client.
 * The worker exits when its IPC channel closes (the parent exited or was killed).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type Room } from '@colyseus/sdk';
import { errorOf, matchDataSendFrames, rawJoin, reserveSeat, type RawClient } from './fleet-raw.js';
import type { FromWorker, GroupPlan, LoadPlan, SampleReport, ToWorker, WorkerCounts } from './fleet-ipc.js';

interface Member {
  /** Index among every client of the run (phases, payloads). */
  index: number;
  sessionId: string;
  seq: number;
  raw?: RawClient;
  sdk?: Room;
}

interface Group {
  g: number;
  host: string;
  members: Member[];
  sent: number;
  received: number;
}

/** The SDK receivers' checks. */
const sample: SampleReport = { receivers: 0, verified: 0, gaps: 0, repeats: 0, corrupt: 0, missingAtEnd: 0, problems: [] };
let latenciesUs: number[] = [];
let measuring = false;
let plan: LoadPlan;
let groups: Group[] = [];
const counts: Omit<WorkerCounts, 't'> = { sent: 0, held: 0, received: 0, receivedByHost: {}, errors: 0, dropped: 0 };
const errorSamples: string[] = [];
let timers: NodeJS.Timeout[] = [];
let leaving = false;

const reply = (m: FromWorker): void => void process.send!(m);
const problem = (what: string) => {
  if (sample.problems.length < 10) sample.problems.push(what);
};
const error = (what: string) => {
  counts.errors++;
  if (errorSamples.length < 5) errorSamples.push(what);
};

/** Bytes of a payload before base64: `payloadBytes`, at least 32 (room for the text below). */
const textBytes = () => Math.max(plan.payloadBytes, 32);
/** `<index> <seq> <send time>`, padded with spaces to `textBytes()`, as base64. */
function payload(index: number, seq: number, t: number): string {
  const s = `${index} ${seq} ${t.toFixed(3)}`;
  if (s.length > textBytes()) throw new Error(`payload text longer than ${textBytes()} bytes: ${s}`);
  return Buffer.from(s.padEnd(textBytes(), ' '), 'latin1').toString('base64');
}
const PAYLOAD = /^(\d+) (\d+) (\d+\.\d{3})( *)$/;

/** An SDK client whose rooms accept every message type (no warnings for types nobody registered). */
class QuietClient extends Client {
  protected override createRoom<T>(roomName: string, rootSchema?: Parameters<Client['create']>[2]): Room<any, T> {
    const room = super.createRoom<T>(roomName, rootSchema as never);
    room.onMessage('*', () => undefined);
    return room;
  }
}

/** Counts a delivery to a member of `group`. */
function delivered(group: Group): void {
  group.received++;
  counts.received++;
  counts.receivedByHost[group.host] = (counts.receivedByHost[group.host] ?? 0) + 1;
}

function rawHandlers(group: () => Group | undefined) {
  return {
    onMatchData() {
      const gr = group();
      if (gr) delivered(gr);
      else error('match_data before the room was complete');
    },
    onOther(message: Buffer) {
      const e = errorOf(message);
      if (e !== undefined) error(e);
    },
    onDrop(code: number, reason: string) {
      if (!leaving) {
        counts.dropped++;
        error(`dropped: ${code} ${reason}`);
      }
    },
  };
}

/** The SDK receiver of a sampled group: decodes and checks every `match_data`. */
function wireSampler(room: Room, group: () => Group | undefined, self: () => Member | undefined): void {
  sample.receivers++;
  const next = new Map<number, number>();
  room.onMessage('match_data', (m: { op_code?: unknown; data?: unknown; presence?: { session_id?: unknown } }) => {
    const now = performance.now();
    const gr = group();
    if (!gr) return problem('match_data before the room was complete');
    delivered(gr);
    const text = typeof m.data === 'string' ? Buffer.from(m.data, 'base64').toString('latin1') : '';
    const parsed = PAYLOAD.exec(text);
    const sender = parsed ? gr.members.find((x) => x.index === Number(parsed[1])) : undefined;
    if (
      !parsed ||
      !sender ||
      sender === self() ||
      m.op_code !== 1 ||
      m.presence?.session_id !== sender.sessionId ||
      text.length !== textBytes()
    ) {
      sample.corrupt++;
      return problem(`corrupt match_data: ${JSON.stringify(m).slice(0, 200)}`);
    }
    const seq = Number(parsed[2]);
    const want = next.get(sender.index) ?? 0;
    if (seq > want) {
      sample.gaps += seq - want;
      problem(`gap: sender ${sender.index} seq ${seq}, expected ${want}`);
    } else if (seq < want) {
      sample.repeats++;
      problem(`repeat or reorder: sender ${sender.index} seq ${seq}, expected ${want}`);
      return;
    }
    next.set(sender.index, seq + 1);
    sample.verified++;
    if (measuring) latenciesUs.push(Math.max(1, Math.round((now - Number(parsed[3])) * 1000)));
  });
  room.onMessage('error', (m: unknown) => error(`error: ${JSON.stringify(m)}`));
  room.onError((code, message) => error(`${code} ${message}`));
  room.onLeave((code) => {
    if (!leaving) {
      counts.dropped++;
      error(`SDK receiver left: ${code}`);
    }
  });
  // At the end (after the drain): every other member's last message arrived.
  finalChecks.push(() => {
    const gr = group();
    for (const m of gr?.members ?? []) {
      if (m === self()) continue;
      const got = next.get(m.index) ?? 0;
      if (got !== m.seq) {
        sample.missingAtEnd += m.seq - got;
        problem(`sender ${m.index}: sent ${m.seq}, the SDK receiver got up to ${got}`);
      }
    }
  });
}
const finalChecks: (() => void)[] = [];

async function joinGroup(p: GroupPlan): Promise<Group> {
  // Set once every member joined: frames that come earlier find no group.
  const holder: { group?: Group } = {};
  const members: Member[] = [];
  const ref = () => holder.group;
  const token = (k: number) => p.tokens[k]!;
  // The creator is raw: its seat reservation names the room and the process that hosts it.
  const seat = await reserveSeat(p.url, token(0), 'create', plan.roomName);
  const creator = await rawJoin(p.url, token(0), seat, rawHandlers(ref));
  members.push({ index: p.first, sessionId: creator.sessionId, seq: 0, raw: creator });
  const rest = await Promise.all(
    p.tokens.slice(1).map(async (tk, k): Promise<Member> => {
      const index = p.first + 1 + k;
      if (p.sampled && k === p.tokens.length - 2) {
        const self: Member = { index, sessionId: '', seq: 0 };
        const c = new QuietClient(p.url);
        c.auth.token = tk;
        const room = await c.joinById(seat.roomId);
        wireSampler(room, ref, () => self);
        return Object.assign(self, { sessionId: room.sessionId, sdk: room });
      }
      const s = await reserveSeat(p.url, tk, 'joinById', seat.roomId);
      const raw = await rawJoin(p.url, tk, s, rawHandlers(ref));
      if (raw.host !== creator.host) throw new Error(`group ${p.g}: seats on ${creator.host} and ${raw.host}`);
      return { index, sessionId: raw.sessionId, seq: 0, raw };
    }),
  );
  members.push(...rest);
  holder.group = { g: p.g, host: creator.host, members, sent: 0, received: 0 };
  return holder.group;
}

/** `p` settled, or `ms` passed (an SDK leave whose socket closed early never settles). */
const within = (p: Promise<unknown>, ms: number): Promise<void> =>
  Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    sleep(ms),
  ]);

async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * One timer for every client of this worker: each client is due once a period at its phase
 * (index × period / total); a tick sends what is due, at most once per client (a late worker sends
 * less, as per-client intervals would), and checks the room window first.
 */
function start(): void {
  const period = 1000 / plan.rate;
  const frame = matchDataSendFrames(1, payload(0, 0, 0).length);
  const t0 = performance.now();
  const due = groups
    .filter((gr) => gr.members.length > 1)
    .flatMap((gr) => gr.members.map((m) => ({ m, gr, next: t0 + (m.index * period) / plan.total })))
    .sort((x, y) => x.next - y.next);
  let cursor = 0;
  const tick = () => {
    const now = performance.now();
    for (let k = 0; k < due.length && due[cursor]!.next <= now; k++) {
      const d = due[cursor]!;
      cursor = (cursor + 1) % due.length;
      d.next = Math.max(d.next + period, now);
      const fanout = d.gr.members.length - 1;
      if (d.gr.sent * fanout - d.gr.received >= plan.window * fanout) {
        counts.held++;
        continue;
      }
      const data = payload(d.m.index, d.m.seq, now);
      if (d.m.raw) d.m.raw.send(frame(data));
      else d.m.sdk!.send('match_data_send', { op_code: 1, data });
      d.m.seq++;
      d.gr.sent++;
      counts.sent++;
    }
  };
  if (due.length > 0) timers.push(setInterval(tick, Math.min(5, period / 4)));
}

const snapshot = (): WorkerCounts => ({ ...counts, receivedByHost: { ...counts.receivedByHost }, t: performance.now() });

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'join': {
      plan = msg.plan;
      leaving = false;
      const t0 = performance.now();
      groups = await pool(msg.groups, msg.concurrency, joinGroup);
      reply({ type: 'joined', hosts: Object.fromEntries(groups.map((g) => [g.g, g.host])), seconds: (performance.now() - t0) / 1000 });
      return;
    }
    case 'start':
      start();
      return reply({ type: 'started' });
    case 'mark':
      measuring = msg.measuring;
      return reply({ type: 'counts', counts: snapshot() });
    case 'stop': {
      for (const t of timers) clearInterval(t);
      timers = [];
      const until = performance.now() + msg.drainMs;
      const due = (g: Group) => g.sent * (g.members.length - 1);
      const missing = () => groups.reduce((s, g) => s + Math.max(0, due(g) - g.received), 0);
      while (missing() > 0 && performance.now() < until) await sleep(20);
      for (const check of finalChecks) check();
      const expected = groups.reduce((s, g) => s + due(g), 0);
      const received = groups.reduce((s, g) => s + g.received, 0);
      const lost = missing();
      const extra = groups.reduce((s, g) => s + Math.max(0, g.received - due(g)), 0);
      reply({ type: 'stopped', counts: snapshot(), expected, received, lost, extra, sample: { ...sample }, latenciesUs, errorSamples });
      return;
    }
    case 'leave': {
      leaving = true;
      await pool(
        groups.flatMap((g) => g.members),
        256,
        (m) => m.raw?.leave() ?? within(m.sdk!.leave(true), 3000),
      );
      reply({ type: 'left', counts: snapshot() });
      // Fresh state for the next run.
      groups = [];
      finalChecks.length = 0;
      latenciesUs = [];
      Object.assign(counts, { sent: 0, held: 0, received: 0, receivedByHost: {}, errors: 0, dropped: 0 });
      Object.assign(sample, { receivers: 0, verified: 0, gaps: 0, repeats: 0, corrupt: 0, missingAtEnd: 0, problems: [] });
      errorSamples.length = 0;
      return;
    }
  }
}

process.on('message', (msg: ToWorker) => {
  handle(msg).catch((err: unknown) => reply({ type: 'failed', error: (err as Error)?.stack ?? String(err) }));
});
process.on('disconnect', () => process.exit(0));
reply({ type: 'ready' });
