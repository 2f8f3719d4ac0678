/** Small interfaces the services need from the outside, implemented elsewhere and injected. */

/** Hashes and checks passwords (implemented with argon2 in src/auth). */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

/** Wall-clock time in milliseconds since the epoch; tests inject one they control. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Publishes to a Presence channel (Colyseus's `presence.publish`). Payloads must be JSON-safe:
 * RedisPresence encodes them, LocalPresence hands the same object to subscribers.
 */
export interface Publisher {
  publish(channel: string, data: unknown): unknown;
}
