/**
 * The scheduler's period handlers: run every registered leaderboard-reset, tournament-reset and
 * tournament-end hook of the registry in force, each with its module's logger. A hook that throws
 * is logged and does not stop the others (the period stays claimed: hooks run at most once).
 */
import type { Logger } from 'pino';
import type { Board } from '../services/leaderboards.js';
import type { PeriodHandlers } from '../services/leaderboard-scheduler.js';
import { buildContext, type RuntimeInfo } from './context.js';
import { runtimeLeaderboard, runtimeTournament } from './nk-leaderboards.js';
import type { Runtime } from './runtime.js';
import type { ExecutionMode } from './types.js';

export function periodHandlers(runtime: Runtime, info: RuntimeInfo, log: Logger): PeriodHandlers {
  const run = async <F extends (...args: never[]) => unknown>(
    mode: ExecutionMode,
    hooks: readonly { fn: F; module: string }[],
    call: (fn: F, ctx: ReturnType<typeof buildContext>, logger: Logger) => unknown,
  ) => {
    for (const { fn, module } of hooks) {
      const logger = log.child({ module });
      try {
        await call(fn, buildContext(info, mode), logger);
      } catch (err) {
        logger.error({ err, mode }, 'leaderboard period hook failed');
      }
    }
  };
  return {
    async leaderboardReset(board: Board, reset: number) {
      const view = runtimeLeaderboard(board, reset - 1);
      await run('leaderboard_reset', runtime.registry.leaderboardReset, (fn, ctx, logger) => fn(ctx, logger, runtime.nk, view, reset));
    },
    async tournamentReset(board: Board, end: number, reset: number) {
      const view = runtimeTournament(board, reset - 1);
      await run('tournament_reset', runtime.registry.tournamentReset, (fn, ctx, logger) => fn(ctx, logger, runtime.nk, view, end, reset));
    },
    async tournamentEnd(board: Board, end: number, reset: number) {
      const view = runtimeTournament(board, end - 1);
      await run('tournament_end', runtime.registry.tournamentEnd, (fn, ctx, logger) => fn(ctx, logger, runtime.nk, view, end, reset));
    },
  };
}
