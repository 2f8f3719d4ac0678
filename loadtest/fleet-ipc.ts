/**
 * The messages between the fleet scenario's parent (loadtest/fleet-workers.ts) and its load workers
 * (loadtest/fleet-load.ts), over the workers' IPC channel (JSON), and what they carry.
 */
/** What every worker of a run gets. */
export interface LoadPlan {
  roomName: string;
  payloadBytes: number;
  /** Sends per client per second. */
  rate: number;
  /** Messages a room may have in flight. */
  window: number;
  /** Clients of the run, over all workers (send phases). */
  total: number;
}
export interface GroupPlan {
  g: number;
  /** HTTP base URL of the server this group's clients talk to. */
  url: string;
  /** Index of its first client among all. */
  first: number;
  tokens: string[];
  /** Whether its last member is a decoding SDK receiver. */
  sampled: boolean;
}
export interface WorkerCounts {
  sent: number;
  /** Sends the room window held back. */
  held: number;
  received: number;
  receivedByHost: Record<string, number>;
  errors: number;
  dropped: number;
  /** The worker's performance.now() when counted. */
  t: number;
}
/** What the decoding SDK receivers found. */
export interface SampleReport {
  receivers: number;
  /** Messages decoded and found in order, from the right sender, intact. */
  verified: number;
  gaps: number;
  repeats: number;
  corrupt: number;
  /** Messages the senders sent that had not arrived after the drain. */
  missingAtEnd: number;
  problems: string[];
}
export type ToWorker =
  | { type: 'join'; plan: LoadPlan; groups: GroupPlan[]; concurrency: number }
  | { type: 'start' }
  | { type: 'mark'; measuring: boolean }
  | { type: 'stop'; drainMs: number }
  | { type: 'leave' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'joined'; hosts: Record<number, string>; seconds: number }
  | { type: 'started' }
  | { type: 'counts'; counts: WorkerCounts }
  | {
      type: 'stopped';
      counts: WorkerCounts;
      expected: number;
      received: number;
      /** Deliveries missing (summed over rooms) and deliveries beyond what a room was due. */
      lost: number;
      extra: number;
      sample: SampleReport;
      latenciesUs: number[];
      errorSamples: string[];
    }
  | { type: 'left'; counts: WorkerCounts }
  | { type: 'failed'; error: string };
