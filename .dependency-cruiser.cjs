// dependency-cruiser: enforces the layer table of DESIGN.md ("Layers and what each may import").
// Run: npx depcruise src --config .dependency-cruiser.cjs   (part of `npm run lint`)
//
// Type-only imports count (tsPreCompilationDeps): a layer that needs another layer's types is
// coupled to it just the same.

/** Shared leaf modules at the root of src/: any layer but entities may import them. */
const SHARED = '^src/(config|errors|logger|metrics|metrics-loop)\\.ts$';
/** Express and its type packages. */
const EXPRESS = '^node_modules/(@types/)?(express|express-serve-static-core)/';
const COLYSEUS_CORE = '^node_modules/@colyseus/core/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, type-only ones included: they hide which layer owns what.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that cannot be resolved (missing package or file).',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-dev-deps-in-src',
      severity: 'error',
      comment: 'src/ runs in production: it may only use "dependencies" (type-only imports of @types/* are fine).',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'], pathNot: '^node_modules/@types/' },
    },
    {
      name: 'entities-only-mikro-orm',
      severity: 'error',
      comment: 'src/entities holds MikroORM entities and migrations: it imports @mikro-orm/* and other entities, nothing else.',
      from: { path: '^src/entities/' },
      to: { pathNot: ['^src/entities/', '^node_modules/@mikro-orm/'] },
    },
    {
      name: 'services-no-transport',
      severity: 'error',
      comment:
        'src/services holds the business rules: no express, no @colyseus/core, and none of the layers above it ' +
        '(api, rooms, auth, hooks, actors). Talk to the world through small ports (services/ports.ts).',
      from: { path: '^src/services/' },
      to: { path: [EXPRESS, COLYSEUS_CORE, '^src/(api|rooms|auth|hooks|actors)/'] },
    },
    {
      name: 'auth-not-api-rooms',
      severity: 'error',
      comment: 'src/auth may import entities, services and config; never api or rooms (nor hooks or actors, which sit above it).',
      from: { path: '^src/auth/' },
      to: { path: '^src/(api|rooms|hooks|actors)/' },
    },
    {
      name: 'api-not-rooms-actors',
      severity: 'error',
      comment: 'src/api may import services, auth and hooks; never rooms or actors.',
      from: { path: '^src/api/' },
      to: { path: '^src/(rooms|actors)/' },
    },
    {
      name: 'actors-transport-free',
      severity: 'error',
      comment: 'src/actors are transport-free state machines: no @colyseus/core, no express, no rooms, no api.',
      from: { path: '^src/actors/' },
      to: { path: [EXPRESS, COLYSEUS_CORE, '^src/(rooms|api)/'] },
    },
    {
      name: 'rooms-not-api',
      severity: 'error',
      comment: 'src/rooms may import actors, auth, services and hooks; never api.',
      from: { path: '^src/rooms/' },
      to: { path: '^src/api/' },
    },
    {
      name: 'rooms-not-other-rooms',
      severity: 'error',
      comment: 'A room (x.room.ts) may import the shared base room and helpers, never another room.',
      from: { path: '^src/rooms/([^/]+)\\.room\\.ts$' },
      to: { path: '^src/rooms/[^/]+\\.room\\.ts$', pathNot: ['^src/rooms/$1\\.room\\.ts$', '^src/rooms/base\\.room\\.ts$'] },
    },
    {
      name: 'hooks-not-api-rooms',
      severity: 'error',
      comment: 'src/hooks (designer runtime) may import services and auth; rooms and api look hooks up, never the reverse.',
      from: { path: '^src/hooks/' },
      to: { path: '^src/(api|rooms)/' },
    },
    {
      name: 'db-only-from-composition-roots',
      severity: 'error',
      comment: 'Only src/server.ts (the composition root), src/main.ts and src/migrate.ts open the database.',
      from: { path: '^src/', pathNot: ['^src/(server|main|migrate)\\.ts$', '^src/db/'] },
      to: { path: '^src/db/' },
    },
    {
      name: 'server-only-from-main',
      severity: 'error',
      comment: 'src/server.ts is the composition root: only src/main.ts (and tests) import it.',
      from: { pathNot: ['^src/main\\.ts$', '^test/'] },
      to: { path: '^src/server\\.ts$' },
    },
    {
      name: 'shared-leaves-are-leaves',
      severity: 'error',
      comment:
        'config.ts, errors.ts, logger.ts and metrics.ts (with metrics-loop.ts) are imported by every layer, so they import no layer.',
      from: { path: SHARED },
      to: { path: '^src/[^/]+/' },
    },
    {
      name: 'config-imports-nothing-in-src',
      severity: 'error',
      comment: 'src/config.ts is the only reader of process.env and argv; it depends on nothing else in src.',
      from: { path: '^src/config\\.ts$' },
      to: { path: '^src/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(data|dist|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
