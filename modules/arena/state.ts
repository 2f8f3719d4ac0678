/**
 * The arena's synchronised state (`@colyseus/schema`): what every client sees and draws. Only
 * changed fields travel, 20 times a second. Inputs stay on the server (in the room).
 */
import { schema, t } from '@colyseus/schema';

export const ArenaPlayer = schema(
  {
    name: t.string(),
    x: t.float32(),
    y: t.float32(),
    score: t.number(),
    color: t.string(),
  },
  'ArenaGamePlayer',
);
export type ArenaPlayer = InstanceType<typeof ArenaPlayer>;

export const ArenaCoin = schema({ x: t.float32(), y: t.float32(), value: t.number() }, 'ArenaGameCoin');
export type ArenaCoin = InstanceType<typeof ArenaCoin>;

export const ArenaWall = schema({ x: t.number(), y: t.number(), w: t.number(), h: t.number() }, 'ArenaGameWall');

export const ArenaState = schema(
  {
    width: t.number(),
    height: t.number(),
    walls: t.array(ArenaWall),
    /** By the client's session id (`room.sessionId` on the client). */
    players: t.map(ArenaPlayer),
    coins: t.map(ArenaCoin),
    round: t.number(),
    /** `playing`, or `results` between rounds. */
    phase: t.string(),
    /** Whole seconds left in the round. */
    timeLeft: t.number(),
  },
  'ArenaGameState',
);
export type ArenaState = InstanceType<typeof ArenaState>;
