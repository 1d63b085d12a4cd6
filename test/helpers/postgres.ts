/**
 * A real PostgreSQL for the tests and benches, from Debian's packages (`postgresql`, installed by
 * `node server/cli/setup.ts --test`): a throw-away cluster made by `initdb` in a temporary
 * directory, run as the `postgres` user when the tests run as root (PostgreSQL refuses root),
 * listening on a Unix socket in that directory only (no port to collide with another test file).
 * One cluster per test file; `database()` gives each test an empty database of its own, with
 * an ICU English collation.
 * Durability is off (fsync, synchronous commit): nothing here outlives the test run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  /** A new empty database; its connection URL. */
  database(): Promise<string>;
  /** The URL of an existing database of the cluster. */
  url(database: string): string;
  /** Stops the server and removes the cluster. */
  stop(): Promise<void>;
}

/** Debian installs each major version's server programs in /usr/lib/postgresql/<major>/bin. */
function serverBin(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((major) => existsSync(join(root, major, 'bin', 'initdb'))) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error("PostgreSQL's server is not installed: run `node server/cli/setup.ts --test` (Debian's postgresql)");
  return join(root, newest, 'bin');
}

/** The uid and gid to run the server as: the postgres user when we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const [uid, gid] = [id('-u'), id('-g')];
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('no postgres user to run PostgreSQL as (Debian\'s postgresql package creates it)');
  return { uid, gid };
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = serverBin();
  const user = runAs();
  const root = mkdtempSync(join(tmpdir(), 'atelier-pg-'));
  const data = join(root, 'data');
  const socketDir = join(root, 'run');
  mkdirSync(socketDir);
  if (user) for (const dir of [root, socketDir]) chownSync(dir, user.uid, user.gid);
  const asUser = { ...(user ?? {}), cwd: root, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' } };

  const initdb = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], { ...asUser, encoding: 'utf8' });
  if (initdb.status !== 0) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`initdb failed: ${initdb.stderr || initdb.error?.message}`);
  }

  const server: ChildProcess = spawn(
    join(bin, 'postgres'),
    ['-D', data, '-k', socketDir, '-c', 'listen_addresses=', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
    { ...asUser, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`PostgreSQL did not start in 30 s:\n${log}`)), 30_000);
    server.stderr!.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString('utf8')).slice(-4000);
      if (log.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`PostgreSQL exited (${code}) while starting:\n${log}`));
    });
  }).catch(async (error: unknown) => {
    server.kill('SIGKILL');
    await exited;
    rmSync(root, { recursive: true, force: true });
    throw error;
  });

  const url = (database: string) => `postgres://postgres@localhost/${database}?host=${encodeURIComponent(socketDir)}`;
  const admin = new pg.Client({ connectionString: url('postgres') });
  await admin.connect();
  let databases = 0;

  return {
    url,
    async database() {
      databases += 1;
      const name = `test_${databases}`;
      // A linguistic default collation, as a real installation's (en_US.UTF-8) has: where the
      // store needs byte order, it must say so itself.
      await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
      return url(name);
    },
    async stop() {
      await admin.end().catch(() => undefined);
      // Fast shutdown: sessions still open are ended, no checkpoint wait worth having here.
      if (server.exitCode === null) server.kill('SIGINT');
      await exited;
      rmSync(root, { recursive: true, force: true });
    },
  };
}
