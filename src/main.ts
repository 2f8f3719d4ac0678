/** Process entry: checks the Node version, loads config, starts the server, stops on signals. */
import { ConfigError, loadConfig, stdoutIsTty } from './config.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(
    `Tavern needs Node 22 or newer (this is ${process.version}). Run it through npm scripts (npm start), which use the Node installed in node_modules.\n`,
  );
  process.exit(1);
}

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`tavern: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
const log = createLogger(config, stdoutIsTty());

try {
  const server = await startServer(config, log);
  process.send?.('ready'); // PM2 wait_ready
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'signal received');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('message', (msg) => {
    if (msg === 'shutdown') stop('shutdown'); // PM2 on Windows and some supervisors
  });
} catch (err) {
  log.fatal({ err }, 'startup failed');
  // Let pino flush before exiting.
  setTimeout(() => process.exit(1), 100);
}
