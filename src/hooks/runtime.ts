/**
 * The designer runtime: loads every module under the runtime path, calls its `InitModule` with a
 * context, a logger named after the module, `nk` and an `Initializer`, and serves the resulting
 * registry to the API and rooms. In dev mode it watches the folder and swaps in a freshly built
 * registry when a file changes, without restarting the process or dropping clients; running
 * matches keep the handler object they started with.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { buildContext, type RuntimeInfo } from './context.js';
import { createInitializer } from './initializer.js';
import { discoverModules, importModule } from './loader.js';
import type { Nakama } from './nk.js';
import { HookRegistry, type HookLookup } from './registry.js';
import type { InitModule } from './types.js';

/** A module failed to load or initialise; the message names the file and the cause. */
export class ModuleLoadError extends Error {
  override name = 'ModuleLoadError';
}

export interface RuntimeOptions {
  /** Folder of modules. */
  path: string;
  log: Logger;
  nk: Nakama;
  info: RuntimeInfo;
}

export class Runtime implements HookLookup {
  private current = new HookRegistry();
  private version = 0;
  private watcher?: FSWatcher;
  private reloadTimer?: NodeJS.Timeout;
  private loading: Promise<void> = Promise.resolve();
  /** Operations the API serves (canonical names), for registration warnings. */
  private served: ReadonlySet<string> = new Set();

  private readonly loadListeners: ((registry: HookRegistry) => void)[] = [];

  constructor(private readonly opts: RuntimeOptions) {}

  /**
   * Calls `fn` with every registry a load produces, before it goes into force (at boot and on each
   * dev reload). Throwing refuses the registry: the load fails and the previous one stays.
   */
  onLoad(fn: (registry: HookRegistry) => void): void {
    this.loadListeners.push(fn);
  }

  /** The registry in force. Tests may register on it directly. */
  get registry(): HookRegistry {
    return this.current;
  }

  get nk(): Nakama {
    return this.opts.nk;
  }

  /** Loads every module into a new registry and swaps it in; throws `ModuleLoadError` and keeps the old one on failure. */
  async load(served?: ReadonlySet<string>): Promise<string[]> {
    if (served) this.served = served;
    const dir = path.resolve(this.opts.path);
    const files = await discoverModules(dir);
    const registry = new HookRegistry();
    const version = ++this.version;
    for (const file of files) {
      const name = path.relative(process.cwd(), file);
      const logger = this.opts.log.child({ module: name });
      let mod: Record<string, unknown>;
      try {
        mod = await importModule(dir, file, version);
      } catch (err) {
        throw new ModuleLoadError(`module ${name} failed to load: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      }
      const init = mod.InitModule ?? (mod.default as Record<string, unknown> | undefined)?.InitModule;
      if (typeof init !== 'function') throw new ModuleLoadError(`module ${name} does not export an InitModule function`);
      const initializer = createInitializer({
        registry,
        module: name,
        logger,
        nk: this.opts.nk,
        info: this.opts.info,
        served: this.served,
      });
      try {
        await (init as InitModule)(buildContext(this.opts.info, 'init'), logger, this.opts.nk, initializer);
      } catch (err) {
        throw new ModuleLoadError(`module ${name} failed in InitModule: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      }
    }
    // Whoever acts on a new registry (the server defines its room types) may still refuse it.
    for (const check of this.loadListeners) {
      try {
        check(registry);
      } catch (err) {
        throw new ModuleLoadError((err as Error)?.message ?? String(err), { cause: err });
      }
    }
    this.current = registry;
    this.opts.log.info(
      { path: this.opts.path, modules: files.map((f) => path.basename(f)), ...registry.summary() },
      'runtime modules loaded',
    );
    return files;
  }

  /** Watches the runtime folder and reloads on change (dev mode). A failed reload keeps the previous registry. */
  watch(): void {
    const dir = path.resolve(this.opts.path);
    try {
      this.watcher = watch(dir, { recursive: true }, () => this.scheduleReload());
    } catch (err) {
      this.opts.log.warn({ err, path: dir }, 'cannot watch the runtime folder; dev reload is off');
      return;
    }
    this.watcher.on('error', (err) => this.opts.log.warn({ err }, 'runtime watcher failed'));
  }

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.loading = this.loading.then(async () => {
        try {
          await this.load();
          this.opts.log.info('runtime reloaded');
        } catch (err) {
          this.opts.log.error({ err }, 'runtime reload failed; keeping the previous modules');
        }
      });
    }, 150);
  }

  /** Stops watching, then runs registered shutdown hooks (their errors are logged). */
  async stop(): Promise<void> {
    clearTimeout(this.reloadTimer);
    this.watcher?.close();
    await this.loading;
    for (const { fn, module } of this.current.shutdown) {
      try {
        await fn(buildContext(this.opts.info, 'shutdown'), this.opts.log.child({ module }), this.opts.nk);
      } catch (err) {
        this.opts.log.error({ err, module }, 'shutdown hook failed');
      }
    }
  }

  before(operation: string) {
    return this.current.before(operation);
  }
  after(operation: string) {
    return this.current.after(operation);
  }
  rtBefore(message: string) {
    return this.current.rtBefore(message);
  }
  rtAfter(message: string) {
    return this.current.rtAfter(message);
  }
  rpc(id: string) {
    return this.current.rpc(id);
  }
}
