/**
 * The hook registry the API pipeline and rooms consult. Operation names are case-insensitive
 * (`AuthenticateDevice`, `authenticatedevice`). The designer runtime (src/hooks) fills it.
 */

/** What a hook knows about the call it wraps. */
export interface HookContext {
  readonly operation: string;
  readonly userId?: string;
  readonly username?: string;
  readonly vars?: Readonly<Record<string, string>>;
  readonly sessionId?: string;
  readonly expiry?: number;
  readonly clientIp?: string;
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
  readonly queryParams?: Readonly<Record<string, unknown>>;
}

/** Returns the (possibly changed) request, or null/undefined to reject it. */
export type BeforeHook = (ctx: HookContext, request: unknown) => unknown;
/** Runs after the response was sent; its errors are logged, never sent. */
export type AfterHook = (ctx: HookContext, response: unknown, request: unknown) => unknown;

/** `ChannelMessageSend` and `channel_message_send` name the same realtime message. */
export function realtimeName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export class HookRegistry {
  private readonly befores = new Map<string, BeforeHook>();
  private readonly afters = new Map<string, AfterHook>();
  private readonly rtBefores = new Map<string, BeforeHook>();
  private readonly rtAfters = new Map<string, AfterHook>();

  registerRtBefore(message: string, fn: BeforeHook): void {
    this.rtBefores.set(realtimeName(message), fn);
  }

  registerRtAfter(message: string, fn: AfterHook): void {
    this.rtAfters.set(realtimeName(message), fn);
  }

  rtBefore(message: string): BeforeHook | undefined {
    return this.rtBefores.get(realtimeName(message));
  }

  rtAfter(message: string): AfterHook | undefined {
    return this.rtAfters.get(realtimeName(message));
  }

  registerBefore(operation: string, fn: BeforeHook): void {
    this.befores.set(operation.toLowerCase(), fn);
  }

  registerAfter(operation: string, fn: AfterHook): void {
    this.afters.set(operation.toLowerCase(), fn);
  }

  before(operation: string): BeforeHook | undefined {
    return this.befores.get(operation.toLowerCase());
  }

  after(operation: string): AfterHook | undefined {
    return this.afters.get(operation.toLowerCase());
  }
}
