/**
 * The `tavern` entry point for designer modules: `import { type InitModule, Code } from 'tavern'`.
 * Types follow Nakama's TypeScript runtime names; helpers are the pure part of `nk`.
 */
export type {
  AfterHookFunction,
  ApiAccount,
  ApiRequests,
  ApiResponses,
  ApiUser,
  BeforeHookFunction,
  Context,
  ExecutionMode,
  Initializer,
  InitModule,
  LeaderboardResetFunction,
  Logger,
  MatchDispatcher,
  MatchHandler,
  MatchMessage,
  MaybePromise,
  MatchmakerMatchedFunction,
  MatchmakerResult,
  Presence,
  RequestOf,
  RoomClass,
  RoomTypeOptions,
  ResponseOf,
  RpcFunction,
  RtAfterHookFunction,
  RtBeforeHookFunction,
  RuntimeError,
  Session,
  ShutdownFunction,
  TournamentEndFunction,
  TournamentResetFunction,
} from './hooks/types.js';
export type { Nakama, RuntimeAccount, RuntimeUser, AuthResult, AccountUpdateFields } from './hooks/nk.js';
export type { RuntimeMatch } from './hooks/nk-matches.js';
export type { NakamaOperation, RealtimeMessage } from './hooks/operations.js';
export { helpers } from './hooks/nk-helpers.js';
export { AppError, Code } from './errors.js';
/** Designer rooms: `class MyRoom extends GameRoom { … }`, then `initializer.registerRoom('my_room', MyRoom)`. */
export { GameRoom, type ClientAuth } from './rooms/game.room.js';
/** zod, for the schemas of `GameRoom.handle` (the server's own copy). */
export { z } from 'zod';

import { AppError, type Code } from './errors.js';

/** An error for designer code to throw: the client gets `message` and the status that `code` maps to. */
export function runtimeError(code: Code, message: string): AppError {
  return new AppError(code, message);
}
