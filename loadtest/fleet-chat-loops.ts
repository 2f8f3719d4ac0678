/**
 * The send loops of the `fleet-chat` scenario (loadtest/fleet-chat.ts): chat messages from SDK
 * clients, closed loop on their acks, and chat messages from server code through an RPC.
 */
import { performance } from 'node:perf_hooks';
import type { Room } from '@colyseus/sdk';

/** A channel of the scenario. */
export interface Channel {
  id: string;
  /** The WebSocket host of its room (`127.0.0.1:<port>`). */
  host: string;
  sender: Room;
  receivers: Room[];
}

const HTTP_KEY = 'defaulthttpkey';

/** What a send loop gets: the window, counters and the stop flag. */
export interface LoopControl {
  /** A message sent at `t` to a channel of `receivers` receivers. */
  sent(t: number, receivers: number): void;
  error(what: string): void;
  stopped(): boolean;
}

/** Each sender keeps `window` messages awaiting their ack until stopped. */
export async function clientLoop(channels: Channel[], window: number, ctl: LoopControl): Promise<void> {
  let seq = 0;
  await Promise.all(
    channels.map(
      (ch) =>
        new Promise<void>((resolve) => {
          let outstanding = 0;
          const send = () => {
            const t = performance.now();
            ch.sender.send('channel_message_send', { content: { t, s: seq++ } });
            outstanding++;
            ctl.sent(t, ch.receivers.length);
          };
          const off = ch.sender.onMessage('channel_message_ack', () => {
            outstanding--;
            if (!ctl.stopped()) send();
            else if (outstanding === 0) {
              off();
              resolve();
            }
          });
          for (let i = 0; i < window; i++) send();
        }),
    ),
  );
}

/**
 * `concurrency` HTTP RPCs in flight, channels round-robin, each on the process not hosting the
 * room and sending `batch` messages (all stamped with the RPC's start time).
 */
export async function serverLoop(
  channels: Channel[],
  concurrency: number,
  batch: number,
  via: (roomHost: string) => string,
  ctl: LoopControl,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (!ctl.stopped()) {
      const ch = channels[next++ % channels.length]!;
      const t = performance.now();
      const body = JSON.stringify({ channel_id: ch.id, content: { t }, count: batch });
      try {
        const res = await fetch(`${via(ch.host)}/v2/rpc/bench_chat_send?unwrap&http_key=${HTTP_KEY}`, {
          method: 'POST',
          body,
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        if (res.status !== 200) ctl.error(`RPC ${res.status}`);
        else for (let i = 0; i < batch; i++) ctl.sent(t, ch.receivers.length);
      } catch (err) {
        ctl.error(`RPC: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
