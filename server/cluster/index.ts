/**
 * The coordinator a server runs: on PostgreSQL when replicas share a database
 * (ATELIER_DATABASE_URL), in process otherwise. See coordinator.ts.
 */
import type { Coordinator } from './coordinator.ts';
import { InProcessCoordinator } from './in-process.ts';
import { PgCoordinator } from './postgres.ts';

export * from './coordinator.ts';
export { InProcessCoordinator } from './in-process.ts';
export { PgCoordinator, type PgCoordinatorOptions } from './postgres.ts';

export function createCoordinator(options: { databaseUrl?: string | undefined; deployment: string; onError: (error: unknown, context: string) => void }): Promise<Coordinator> {
  if (options.databaseUrl === undefined) return Promise.resolve(new InProcessCoordinator(options.onError));
  return PgCoordinator.open({ url: options.databaseUrl, deployment: options.deployment, onError: options.onError });
}
