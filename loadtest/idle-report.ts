/** The Markdown table of the idle scenario (loadtest/idle.ts). */
import type { IdleBenchOptions, IdleResults } from './idle.js';
import { fmt, type machine } from './support.js';

/** Target of the milestone: Tavern's bytes per idle connection at most this many times the baseline's. */
export const MEMORY_TARGET_RATIO = 1.1;
/** Target: idle CPU below this % of one core. */
export const CPU_TARGET_PCT = 5;

const kb = (bytes: number) => `${fmt(bytes / 1024, 1)} KB`;
const mb = (bytes: number) => `${fmt(bytes / 1048576, 1)} MB`;

export function idleMarkdown(r: IdleResults, opts: IdleBenchOptions, info: ReturnType<typeof machine>): string {
  const t = r.tavern;
  const b = r.ws;
  const out: string[] = [];
  out.push(
    `Idle sessions: memory at ${fmt(t.memory.connections)} connections (after ${opts.settleSec} s settle), CPU at ${fmt(t.cpu.connections)} connections over ${opts.cpuSec} s`,
  );
  out.push('');
  out.push('| measure | Tavern (session rooms) | raw ws | ratio (Tavern/ws) | target | met |');
  out.push('|---|---:|---:|---:|---:|---|');
  out.push(
    `| RSS per connection | ${kb(t.memory.rssPerConnection)} | ${kb(b.memory.rssPerConnection)} | ${fmt(r.memoryRatio, 2)}× | ≤ ${MEMORY_TARGET_RATIO}× raw ws | ${r.meetsMemoryTarget ? 'yes' : '**no**'} |`,
  );
  out.push(
    `| V8 heap used per connection | ${kb(t.memory.heapPerConnection)} | ${kb(b.memory.heapPerConnection)} | ${fmt(t.memory.heapPerConnection / b.memory.heapPerConnection, 2)}× | | |`,
  );
  out.push(
    `| V8 heap committed per connection | ${kb(t.memory.heapTotalPerConnection)} | ${kb(b.memory.heapTotalPerConnection)} | ${fmt(t.memory.heapTotalPerConnection / b.memory.heapTotalPerConnection, 2)}× | | |`,
  );
  out.push(
    `| idle server CPU at ${fmt(t.cpu.connections)} | ${fmt(t.cpu.serverPct, 2)} % | ${fmt(b.cpu.serverPct, 2)} % | ${fmt(t.cpu.serverPct / b.cpu.serverPct, 2)}× | < ${CPU_TARGET_PCT} % of a core | ${r.meetsCpuTarget ? 'yes' : '**no**'} |`,
  );
  out.push('');
  out.push(
    '| target | connections | RSS before → after | heap before → after | connect time | RSS at CPU count | load generator CPU | other processes CPU | dropped | errors |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of [t, b]) {
    out.push(
      `| ${x.target === 'tavern' ? 'Tavern' : 'raw ws'} | ${fmt(x.memory.connections)} | ${mb(x.memory.rssBefore)} → ${mb(x.memory.rssAfter)} | ` +
        `${mb(x.memory.heapBefore)} → ${mb(x.memory.heapAfter)} | ${fmt(x.connectSec, 1)} s | ${mb(x.cpu.rss)} | ${fmt(x.cpu.loadGeneratorPct, 1)} % | ` +
        `${x.cpu.otherProcessesPct === undefined ? 'n/a' : `${fmt(x.cpu.otherProcessesPct, 1)} %`} | ${x.dropped} | ${x.errors} |`,
    );
  }
  out.push('');
  out.push(`Machine: ${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.os}`);
  out.push(`Layout: ${opts.layout}; presence: ${opts.redisUrl ? 'Redis' : 'local'}`);
  out.push(
    `Clients: Tavern — @colyseus/sdk \`create('session')\`, one session token each (${fmt(opts.accounts)} device accounts, several sessions each); ` +
      `raw ws — \`ws\` clients to a bare \`ws\` WebSocketServer${opts.pingMs > 0 ? `; both servers ping every ${opts.pingMs} ms` : '; no pings'}. ` +
      `Memory: VmRSS of a freshly started server process (Tavern's sessions were issued by another process), V8 heap used and committed, each read after a settle and a forced full GC in the server; per connection = (after − before) / connections. RSS also holds the free heap V8 keeps after growing (committed − used). CPU over ${opts.cpuSec} s, a whole number of ping periods. For scale, Nakama holds an idle socket in about 10 KB.`,
  );
  for (const n of r.notes) out.push(`Note: ${n}`);
  return out.join('\n');
}
