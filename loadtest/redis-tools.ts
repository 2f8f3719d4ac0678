/** Redis measurements for the benchmarks: the server's CPU time and raw PUBLISH throughput. */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';

/** CPU seconds the Redis server has used (main thread, user + system), from `INFO cpu`. */
export async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return get('used_cpu_sys') + get('used_cpu_user');
}

/** Publishes per second by redis-benchmark, or undefined when it is not installed. */
export function redisBenchmark(port: string): number | undefined {
  try {
    const out = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', port, '-q', '-n', '200000', 'PUBLISH', 'bench', 'x'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    // "PUBLISH bench x: 123456.79 requests per second, p50=0.2 msec" (after \r progress lines).
    const m = /([\d.]+) requests per second/.exec(out.split('\r').pop() ?? out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** PUBLISH in pipelines of 1000 on one ioredis connection: publishes per second. */
export async function pipelinedPublish(url: string): Promise<number> {
  const client = new Redis(url);
  try {
    const t0 = performance.now();
    for (let batch = 0; batch < 200; batch++) {
      const p = client.pipeline();
      for (let i = 0; i < 1000; i++) p.publish('bench', 'x');
      await p.exec();
    }
    return 200_000 / ((performance.now() - t0) / 1000);
  } finally {
    client.disconnect();
  }
}
