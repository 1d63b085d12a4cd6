/**
 * `node server/main.ts`: configuration from the environment → lab definitions → driver →
 * sessions → HTTP + sockets → listen. Wiring only; see server/app.ts.
 */
import { ConfigError, configFromEnvironment } from './config.ts';
import { loadLabs, LabDefinitionError } from './labs/registry.ts';
import { startServer } from './app.ts';
import { openFileLimit } from './http/connection-limits.ts';

const config = configFromEnvironment();

let labs;
try {
  labs = loadLabs(config.labsDir);
} catch (error) {
  if (!(error instanceof LabDefinitionError)) throw error;
  process.stderr.write(`atelier: invalid lab definitions:\n${error.problems.map((problem) => `  ${problem}`).join('\n')}\n`);
  process.exit(2);
}

// Labs left by a previous process (a crash, a SIGKILL) are stopped before anyone can launch.
// A bad ATELIER_SECRET_KEY_FILE shows as the keys are read: one line too, as for the environment.
const server = await startServer({ config, labs, reapOrphans: true }).catch((error: unknown) => {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`atelier: ${error.message}\n`);
  process.exit(2);
});
// atelier.localhost: there the labs' services (its subdomains, the same site) open inside the dock.
server.app.log.info(`Atelier on http://atelier.localhost:${server.port} (or http://localhost:${server.port}, where services open in a tab of their own)`);
// Node raised the soft limit on open files to the hard limit as it started: what is left to do
// is to say when that is too low for a class (each connection, lab pty and git pipe is one).
const fdLimit = openFileLimit();
server.app.log.info({ fdLimit, maxConnections: server.app.server.maxConnections }, 'connection limits');
if (fdLimit !== undefined && fdLimit < 8192) {
  server.app.log.warn({ fdLimit }, 'the open file limit is low for a class: raise the hard limit (ulimit -Hn, systemd LimitNOFILE)');
}

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  server.app.log.info(`${signal}: stopping every lab`);
  const timer = setTimeout(() => {
    server.app.log.error('shutdown took too long');
    process.exit(1);
  }, 20_000);
  timer.unref();
  try {
    await server.close();
    process.exit(0);
  } catch (error) {
    server.app.log.error({ err: error }, 'shutdown failed');
    process.exit(1);
  }
}
process.on('SIGTERM', (signal) => void shutdown(signal));
process.on('SIGINT', (signal) => void shutdown(signal));
