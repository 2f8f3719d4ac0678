/**
 * Reset periods: cron schedules (UTC, through `cron-parser`) and tournament windows. Times are
 * whole seconds since the epoch. A record written at t belongs to the period whose expiry is the
 * first reset strictly after t; expiry 0 means the board never resets.
 */
import { CronExpressionParser } from 'cron-parser';
import { invalid } from '../errors.js';

const cron = (expr: string, tSec: number) => CronExpressionParser.parse(expr, { currentDate: new Date(tSec * 1000), tz: 'UTC' });

/** Throws an invalid-argument error unless `expr` is a cron expression that fires. */
export function checkSchedule(expr: string): void {
  try {
    cron(expr, 0).next();
  } catch (err) {
    throw invalid(`Invalid reset schedule: ${(err as Error).message}`);
  }
}

/** The first reset strictly after t. */
export function nextReset(expr: string, tSec: number): number {
  return Math.floor(cron(expr, tSec).next().getTime() / 1000);
}

/** The last reset at or before t. */
export function lastReset(expr: string, tSec: number): number {
  const next = nextReset(expr, tSec - 1);
  return next <= tSec ? next : Math.floor(cron(expr, tSec).prev().getTime() / 1000);
}

/** A tournament's current window: it accepts scores in [startActive, endActive); records expire at `expiry` (0: never). */
export interface Deadlines {
  startActive: number;
  endActive: number;
  expiry: number;
}

/**
 * The window in force at t (Nakama's calculateTournamentDeadlines): with a schedule, each period
 * starts at a reset and stays active for `duration` seconds (capped at the next reset); without
 * one, there is a single window from the start time. An end time caps both.
 */
export function tournamentDeadlines(startTime: number, endTime: number, duration: number, schedule: string | null, t: number): Deadlines {
  if (!schedule) {
    const endActive = endTime > 0 ? Math.min(startTime + duration, endTime) : startTime + duration;
    return { startActive: startTime, endActive, expiry: endTime };
  }
  let startActive = t < startTime ? nextReset(schedule, startTime) : lastReset(schedule, t);
  let expiry = nextReset(schedule, startActive);
  let endActive = Math.min(startActive + duration, expiry);
  if (startTime > endActive) {
    // The start time falls after this window but before the next reset: the first window is the next one.
    startActive = nextReset(schedule, startTime);
    expiry = nextReset(schedule, startActive);
    endActive = Math.min(startActive + duration, expiry);
  } else if (startTime > startActive) {
    startActive = startTime;
  }
  if (endTime > 0 && expiry > endTime) {
    expiry = endTime;
    endActive = Math.min(endActive, expiry);
  }
  return { startActive, endActive, expiry };
}
