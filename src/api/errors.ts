/** Maps any error to Nakama's HTTP error body `{"error","code","message"}` and its status. */
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError, Code, httpStatusOf } from '../errors.js';
import { translateDbError } from '../services/db.js';
import { firstIssue } from '../services/validation.js';

export interface ErrorBody {
  error: string;
  code: number;
  message: string;
}

export function errorBody(code: number, message: string): ErrorBody {
  return { error: message, code, message };
}

/** Turns an error into a status and body, logging what is not the client's fault. */
export function toHttpError(err: unknown, log: Logger): { status: number; body: ErrorBody } {
  const e = translateDbError(toAppErrorIfKnown(err));
  if (e instanceof AppError) {
    if (e.expected) log.debug({ code: e.code, msg: e.message }, 'request refused');
    else log.warn({ err: e.cause ?? e, code: e.code }, e.message);
    return { status: e.httpStatus, body: errorBody(e.code, e.message) };
  }
  log.error({ err: e }, 'unexpected error');
  return { status: 500, body: errorBody(Code.INTERNAL, 'Internal server error.') };
}

/** Errors with a known client meaning that do not come as AppErrors: zod, body parsing, designer errors. */
function toAppErrorIfKnown(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (err instanceof z.ZodError) return new AppError(Code.INVALID_ARGUMENT, firstIssue(err));
  const e = err as { type?: string; status?: number; code?: unknown; message?: unknown };
  if (e?.type === 'entity.too.large') return new AppError(Code.INVALID_ARGUMENT, 'Request body too large.');
  if (e?.type === 'entity.parse.failed' || e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return new AppError(Code.INVALID_ARGUMENT, 'Request body is not valid JSON.');
  }
  // Designer code may throw Nakama's `{ message, code }` shape.
  if (e && typeof e.code === 'number' && typeof e.message === 'string' && Number.isInteger(e.code) && e.code > 0 && e.code <= 16) {
    return new AppError(e.code as Code, e.message);
  }
  return err;
}

export { httpStatusOf };
