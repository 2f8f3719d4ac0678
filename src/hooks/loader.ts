/**
 * Finds and imports designer modules. TypeScript loads without a build step (the server runs
 * under tsx). A resolve hook maps `tavern` to the public entry point, sends every `@colyseus/*`
 * import to the server's own copy (two copies of @colyseus/schema break state sync), lets
 * modules outside the project use the project's packages, and gives each reload's files a fresh
 * version so edited helper files are re-evaluated too.
 */
import { readdir } from 'node:fs/promises';
import { registerHooks } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const PUBLIC_ENTRY = new URL('../public.ts', import.meta.url).href;
const SERVER_URL = import.meta.url;
const MODULE_FILE = /\.(m?ts|m?js)$/;

/** Module directories whose imports the resolve hook rewrites (a process may load one runtime). */
const roots: string[] = [];
let installed = false;

function isBare(specifier: string): boolean {
  return !specifier.startsWith('.') && !specifier.startsWith('/') && !/^[a-z]+:/i.test(specifier);
}

function versionOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const q = url.indexOf('?');
  return q >= 0 ? (new URLSearchParams(url.slice(q + 1)).get('tavern-v') ?? undefined) : undefined;
}

function installResolveHook(): void {
  if (installed) return;
  installed = true;
  registerHooks({
    resolve(specifier, context, next) {
      const parent = context.parentURL;
      const fromModules = parent !== undefined && roots.some((r) => parent.startsWith(r));
      if (!fromModules) return next(specifier, context);
      if (specifier === 'tavern') return { url: PUBLIC_ENTRY, format: 'module', shortCircuit: true };
      if (specifier.startsWith('@colyseus/')) return next(specifier, { ...context, parentURL: SERVER_URL });
      if (isBare(specifier)) {
        try {
          return next(specifier, context);
        } catch {
          return next(specifier, { ...context, parentURL: SERVER_URL });
        }
      }
      const resolved = next(specifier, context);
      const v = versionOf(parent);
      // Relative imports of a reloaded module get its version, so they are evaluated afresh too.
      if (v && resolved.url.startsWith('file:') && roots.some((r) => resolved.url.startsWith(r)) && !resolved.url.includes('?')) {
        return { ...resolved, url: `${resolved.url}?tavern-v=${v}` };
      }
      return resolved;
    },
  });
}

/** The module files of a runtime directory, in a deterministic (sorted) order. Subfolders hold helpers. */
export async function discoverModules(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter(
      (n) => MODULE_FILE.test(n) && !n.endsWith('.d.ts') && !n.startsWith('.') && !n.startsWith('_') && !/\.test\.[mc]?[jt]s$/.test(n),
    )
    .sort()
    .map((n) => path.join(dir, n));
}

/** Imports a module file; `version` makes a reload evaluate it (and its local imports) again. */
export async function importModule(dir: string, file: string, version: number): Promise<Record<string, unknown>> {
  const root = pathToFileURL(path.resolve(dir) + path.sep).href;
  if (!roots.includes(root)) roots.push(root);
  installResolveHook();
  return (await import(`${pathToFileURL(file).href}?tavern-v=${version}`)) as Record<string, unknown>;
}
