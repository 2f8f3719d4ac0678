/**
 * The base class of designer rooms (`GameRoom`, exported to modules as `tavern`'s `GameRoom`):
 * Colyseus rooms written in runtime modules, registered with `initializer.registerRoom(name,
 * RoomClass, options)`. They get everything Tavern's own rooms get (token auth in `onAuth` with
 * the user on `client.auth`, zod-validated `handle(type, schema, fn)` handlers whose failures are
 * logged and answered with an `error` message, realtime before/after hooks, flow control,
 * reconnection within TAVERN_RECONNECT_WINDOW_SEC, drain on shutdown) plus the `nk` facade and a
 * logger named after the module. An exception in a lifecycle method or timer is logged and the
 * room goes on.
 */
import { matchMaker } from '@colyseus/core';
import type { Logger } from 'pino';
import type { Nakama } from '../hooks/nk.js';
import { bindRoom, TavernRoom, type ClientAuth, type RoomDeps } from './base.room.js';

/** What a designer room class gets at registration. */
export interface GameRoomDeps {
  nk: Nakama;
  /** The registering module's logger. */
  logger: Logger;
  /** The registering module (for logs). */
  module: string;
  /** `TAVERN_RUNTIME_ENV`, as modules see it in `ctx.env`. */
  env: Readonly<Record<string, string>>;
}

export type { ClientAuth };

export abstract class GameRoom<State extends object = object> extends TavernRoom {
  /** Set by `bindGameRoom`. */
  static gameDeps: GameRoomDeps | undefined;
  declare state: State;

  private get gameDeps(): GameRoomDeps {
    const deps = (this.constructor as typeof GameRoom).gameDeps;
    if (!deps) throw new Error(`${this.constructor.name} used without initializer.registerRoom()`);
    return deps;
  }

  /** The `nk` facade: storage, wallets, leaderboards, notifications… from inside the room. */
  protected get nk(): Nakama {
    return this.gameDeps.nk;
  }

  /** `TAVERN_RUNTIME_ENV` (the modules' `ctx.env`): server-side settings clients cannot override. */
  protected get env(): Readonly<Record<string, string>> {
    return this.gameDeps.env;
  }

  private _logger?: Logger;
  /** The module's logger, with this room's name and id. */
  protected get logger(): Logger {
    return (this._logger ??= this.gameDeps.logger.child({ room: this.roomName, roomId: this.roomId }));
  }

  /** The server's log for the base room's own messages goes to the module's logger too. */
  protected override get log(): Logger {
    return this.logger;
  }
}

/** True for a class that extends `GameRoom`. */
export function isGameRoomClass(klass: unknown): klass is typeof GameRoom {
  return typeof klass === 'function' && klass.prototype instanceof GameRoom;
}

/** The class Colyseus defines: the designer's class with Tavern's auth and the module's deps. */
export function bindGameRoom(klass: typeof GameRoom, roomDeps: RoomDeps, gameDeps: GameRoomDeps): typeof GameRoom {
  const Bound = class extends (klass as unknown as new () => GameRoom) {
    static gameDeps = gameDeps;
  };
  Object.defineProperty(Bound, 'name', { value: klass.name });
  return bindRoom(Bound as unknown as typeof GameRoom & (abstract new () => TavernRoom), roomDeps);
}

/** True when `name` is a designer room type defined in this process. */
export function isGameRoomName(name: string): boolean {
  return isGameRoomClass(matchMaker.getRoomClass(name));
}

/** A designer room type as the registry holds it. */
export interface GameRoomRegistration {
  roomClass: unknown;
  options: {
    filterBy?: string[];
    sortBy?: Record<string, 1 | -1 | 'asc' | 'desc' | 'ascending' | 'descending'>;
    defaults?: Record<string, unknown>;
  };
  module: string;
}

/**
 * Keeps Colyseus's room types in step with the modules' `registerRoom` calls: called with each
 * load's registrations (boot and dev reloads). New rooms are created from the new classes; rooms
 * already running keep the class they were created with. Throws (refusing the load) when a class
 * does not extend `GameRoom`.
 */
export class GameRoomTypes {
  private defined = new Set<string>();

  constructor(
    private readonly roomDeps: RoomDeps,
    private readonly deps: (module: string) => GameRoomDeps,
  ) {}

  apply(registrations: ReadonlyMap<string, GameRoomRegistration>): void {
    for (const [name, r] of registrations) {
      if (!isGameRoomClass(r.roomClass))
        throw new Error(`registerRoom("${name}") in ${r.module}: the class must extend GameRoom (import { GameRoom } from 'tavern')`);
    }
    for (const name of this.defined) if (!registrations.has(name)) matchMaker.removeRoomType(name);
    this.defined = new Set(registrations.keys());
    for (const [name, r] of registrations) {
      const klass = bindGameRoom(r.roomClass as typeof GameRoom, this.roomDeps, this.deps(r.module));
      const handler = matchMaker.defineRoomType(name, klass as never, r.options.defaults as never);
      if (r.options.filterBy) handler.filterBy(r.options.filterBy);
      if (r.options.sortBy) handler.sortBy(r.options.sortBy);
    }
  }
}
