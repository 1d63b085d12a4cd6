/**
 * Environment → typed configuration, in one place. Every setting the server reads from its
 * environment is declared here, validated with zod, and reported in one line when wrong.
 */
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { duration } from './labs/schema.ts';

/** The project's root folder (the one holding package.json, labs/ and dist/). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const boolean = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'], { error: 'expected true or false' })
  .transform((value) => ['1', 'true', 'yes', 'on'].includes(value));

/** Variable name → schema. Unset or empty variables take the default. */
const environment = z.object({
  PORT: integer(0, 65535).default(4321),
  HOST: z.string().min(1).default('0.0.0.0'),
  ATELIER_DATA_DIR: z.string().min(1).default('./data'),
  ATELIER_SITE_DIR: z.string().min(1).default(resolve(projectRoot, 'dist')),
  ATELIER_LABS_DIR: z.string().min(1).default(resolve(projectRoot, 'labs')),
  /** Hard cap on any lab's lifetime, whatever its lab.yaml says (e.g. 30m, 4h). */
  ATELIER_MAX_TTL: duration.default(4 * 3600_000),
  /** Labs running at once on this server. */
  ATELIER_MAX_LABS: integer(1, 100_000).default(300),
  /** Labs running at once for one client (one IP address until learners exist). */
  ATELIER_MAX_LABS_PER_CLIENT: integer(1, 1000).default(3),
  ATELIER_DRIVER: z.enum(['local']).default('local'),
  /** Behind a reverse proxy: trust X-Forwarded-* for the client address and the host. */
  ATELIER_TRUST_PROXY: boolean.default(false),
  /** Region the embedded S3 endpoint answers for (clients sign with it). */
  ATELIER_S3_REGION: z.string().regex(/^[a-z0-9-]{2,32}$/).default('us-east-1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  port: number;
  host: string;
  /** Absolute. Durable data (learners, repositories, buckets). */
  dataDir: string;
  /** Absolute. The built site (astro build → dist/). */
  siteDir: string;
  /** Absolute. labs/<id>/lab.yaml. */
  labsDir: string;
  limits: {
    /** Milliseconds. */
    maxTtl: number;
    maxLabs: number;
    maxLabsPerClient: number;
  };
  driver: 'local';
  trustProxy: boolean;
  s3Region: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from `env`; throws a ConfigError naming the variable at fault. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(environment.shape)) {
    const value = env[key]?.trim();
    if (value) input[key] = value;
  }
  const parsed = environment.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      return `${name}=${JSON.stringify(input[name] ?? '')}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.ATELIER_DATA_DIR),
    siteDir: resolve(e.ATELIER_SITE_DIR),
    labsDir: resolve(e.ATELIER_LABS_DIR),
    limits: { maxTtl: e.ATELIER_MAX_TTL, maxLabs: e.ATELIER_MAX_LABS, maxLabsPerClient: e.ATELIER_MAX_LABS_PER_CLIENT },
    driver: e.ATELIER_DRIVER,
    trustProxy: e.ATELIER_TRUST_PROXY,
    s3Region: e.ATELIER_S3_REGION,
    logLevel: e.LOG_LEVEL,
  };
}

/** loadConfig for entry points: a bad value prints one line and exits with status 2. */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`atelier: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}
