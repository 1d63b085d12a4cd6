/**
 * GET /healthz → { status: 'ok', labs: <running labs> }
 * GET /metrics → Prometheus text exposition (prom-client: see server/metrics.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { Sessions } from '../labs/sessions.ts';
import { serverMetrics } from '../metrics.ts';

export interface HealthSources {
  sessions: Sessions;
  /** Open shells and connected terminal sockets, from the terminal namespace. */
  terminals?: () => { shells: number; sockets: number };
}

export function registerHealthRoutes(app: FastifyInstance, sources: HealthSources): void {
  app.get('/healthz', async (_request, reply) => {
    void reply.header('cache-control', 'no-store');
    return { status: 'ok', labs: sources.sessions.runningCount() };
  });

  const exposition = serverMetrics([
    {
      name: 'atelier_labs',
      help: 'Labs on this server, by lab and status.',
      labelNames: ['lab', 'status'],
      read: () => {
        const counts = new Map<string, { labels: Record<string, string>; value: number }>();
        for (const session of sources.sessions.all()) {
          const key = `${session.labId}\0${session.status}`;
          const entry = counts.get(key) ?? { labels: { lab: session.labId, status: session.status }, value: 0 };
          entry.value += 1;
          counts.set(key, entry);
        }
        return [...counts.values()];
      },
    },
    {
      name: 'atelier_terminal_shells',
      help: 'Open lab shells.',
      labelNames: [],
      read: () => [{ labels: {}, value: sources.terminals?.().shells ?? 0 }],
    },
    {
      name: 'atelier_terminal_sockets',
      help: 'Connected terminal sockets.',
      labelNames: [],
      read: () => [{ labels: {}, value: sources.terminals?.().sockets ?? 0 }],
    },
  ]);

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await exposition();
    return reply.header('cache-control', 'no-store').type(contentType).send(body);
  });
}
