/**
 * One error type for the whole server. Services throw it; the API maps it to Nakama's error body
 * and rooms answer with an `error` message. `code` is the gRPC status code Nakama uses.
 */
export const Code = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

/** HTTP status for each gRPC code, as grpc-gateway (and so Nakama) maps them. */
const HTTP_STATUS: Record<number, number> = {
  1: 499,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  16: 401,
};

export function httpStatusOf(code: number): number {
  return HTTP_STATUS[code] ?? 500;
}

/** An error whose message is safe to show a client. */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get httpStatus(): number {
    return httpStatusOf(this.code);
  }
  /** Whether this error is the client's doing (logged at warn or below) rather than ours. */
  get expected(): boolean {
    return this.code !== Code.INTERNAL && this.code !== Code.UNKNOWN && this.code !== Code.UNAVAILABLE;
  }
}

export const invalid = (message: string) => new AppError(Code.INVALID_ARGUMENT, message);
export const notFound = (message: string) => new AppError(Code.NOT_FOUND, message);
export const unauthenticated = (message: string) => new AppError(Code.UNAUTHENTICATED, message);
export const denied = (message: string) => new AppError(Code.PERMISSION_DENIED, message);
export const exists = (message: string) => new AppError(Code.ALREADY_EXISTS, message);
