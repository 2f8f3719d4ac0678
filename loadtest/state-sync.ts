/**
 * State sync cost, part of the `relay` scenario of `npm run bench`: a schema state of
 * BENCH_SYNC_ENTITIES (100) entities {x, y, angle: float32, hp: uint8} in a map, every entity moving
 * every tick at 20 Hz, encoded with @colyseus/schema's `Encoder` as a room's patch would be
 * (`encode()` then `discardChanges()`), against `JSON.stringify` of the same state (a plain object
 * with the same values) per tick as the baseline. Positions are rounded to 1/100 so the JSON text is
 * what a game would send, not 17-digit doubles. In this process, no network: BENCH_SYNC_TICKS (2000)
 * measured ticks after 200 warm-up ticks; only the encoding is timed (the movement is not).
 */
import { performance } from 'node:perf_hooks';
import { Encoder, schema, t } from '@colyseus/schema';

const Entity = schema({ x: t.float32(), y: t.float32(), angle: t.float32(), hp: t.uint8() }, 'BenchEntity');
type Entity = InstanceType<typeof Entity>;
const World = schema({ entities: t.map(Entity) }, 'BenchWorld');

interface Plain {
  x: number;
  y: number;
  angle: number;
  hp: number;
}

export interface SyncResult {
  entities: number;
  hz: number;
  ticks: number;
  schema: { bytesPerPatch: number; fullStateBytes: number; encodeUsPerTick: number; cpuPctAtHz: number };
  json: { bytesPerTick: number; encodeUsPerTick: number; cpuPctAtHz: number };
}

const r2 = (v: number) => Math.round(v * 100) / 100;

export function stateSyncBench(opts: { entities: number; hz: number; ticks: number }): SyncResult {
  const world = new World();
  const plain: { entities: Record<string, Plain> } = { entities: {} };
  const live: Entity[] = [];
  const mirror: Plain[] = [];
  for (let i = 0; i < opts.entities; i++) {
    const v = { x: r2(Math.random() * 1000), y: r2(Math.random() * 1000), angle: r2(Math.random() * 6.28), hp: 100 };
    const e = new Entity();
    Object.assign(e, v);
    world.entities.set(`e${i}`, e);
    live.push(e);
    plain.entities[`e${i}`] = { ...v };
    mirror.push(plain.entities[`e${i}`]!);
  }
  const encoder = new Encoder(world);
  const fullStateBytes = encoder.encodeAll().length;
  encoder.discardChanges();

  let tick = 0;
  const move = () => {
    tick++;
    for (let i = 0; i < live.length; i++) {
      const e = live[i]!;
      const p = mirror[i]!;
      const a = r2((p.angle + 0.05) % 6.28);
      const x = r2(p.x + Math.cos(a) * 2);
      const y = r2(p.y + Math.sin(a) * 2);
      e.x = p.x = x;
      e.y = p.y = y;
      e.angle = p.angle = a;
      if ((tick + i) % 50 === 0) e.hp = p.hp = (p.hp + 99) % 100;
    }
  };

  const run = (ticks: number, measure: boolean) => {
    let schemaBytes = 0;
    let jsonBytes = 0;
    let schemaMs = 0;
    let jsonMs = 0;
    for (let k = 0; k < ticks; k++) {
      move();
      const t0 = performance.now();
      const patch = encoder.encode();
      const n = patch.length;
      encoder.discardChanges();
      const t1 = performance.now();
      const text = JSON.stringify(plain);
      const t2 = performance.now();
      if (measure) {
        schemaBytes += n;
        jsonBytes += Buffer.byteLength(text);
        schemaMs += t1 - t0;
        jsonMs += t2 - t1;
      }
    }
    return { schemaBytes, jsonBytes, schemaMs, jsonMs };
  };
  run(200, false);
  const m = run(opts.ticks, true);
  const perTickUs = (ms: number) => (ms * 1000) / opts.ticks;
  return {
    entities: opts.entities,
    hz: opts.hz,
    ticks: opts.ticks,
    schema: {
      bytesPerPatch: m.schemaBytes / opts.ticks,
      fullStateBytes,
      encodeUsPerTick: perTickUs(m.schemaMs),
      cpuPctAtHz: (perTickUs(m.schemaMs) * opts.hz) / 1e4,
    },
    json: {
      bytesPerTick: m.jsonBytes / opts.ticks,
      encodeUsPerTick: perTickUs(m.jsonMs),
      cpuPctAtHz: (perTickUs(m.jsonMs) * opts.hz) / 1e4,
    },
  };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function stateSyncMarkdown(r: SyncResult): string {
  return [
    `State sync, ${r.entities} entities all moving, ${r.hz} Hz, ${fmt(r.ticks)} ticks measured (encoding only, one encode per tick, no per-client views)`,
    '',
    '| encoding | bytes per tick | encode µs per tick | CPU at 20 Hz (% of a core) | bytes/s at 20 Hz |',
    '|---|---:|---:|---:|---:|',
    `| @colyseus/schema patch | ${fmt(r.schema.bytesPerPatch)} | ${fmt(r.schema.encodeUsPerTick, 1)} | ${fmt(r.schema.cpuPctAtHz, 2)} % | ${fmt(r.schema.bytesPerPatch * r.hz)} |`,
    `| JSON.stringify (full state) | ${fmt(r.json.bytesPerTick)} | ${fmt(r.json.encodeUsPerTick, 1)} | ${fmt(r.json.cpuPctAtHz, 2)} % | ${fmt(r.json.bytesPerTick * r.hz)} |`,
    `| ratio (schema/JSON) | ${fmt(r.schema.bytesPerPatch / r.json.bytesPerTick, 2)} | ${fmt(r.schema.encodeUsPerTick / r.json.encodeUsPerTick, 2)} | | |`,
    '',
    `Schema full state (a joining client's first sync): ${fmt(r.schema.fullStateBytes)} bytes.`,
  ].join('\n');
}
