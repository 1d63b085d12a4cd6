/**
 * GET /healthz → { status: 'ok', labs: <running labs> }
 * GET /metrics → Prometheus text exposition (no client library needed for a handful of gauges).
 */
import type { FastifyInstance } from 'fastify';
import type { Sessions } from '../labs/sessions.ts';

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

  app.get('/metrics', async (_request, reply) => {
    const byStatus = { starting: 0, running: 0 };
    for (const session of sources.sessions.all()) {
      if (session.status === 'starting' || session.status === 'running') byStatus[session.status] += 1;
    }
    const terminals = sources.terminals?.() ?? { shells: 0, sockets: 0 };
    const memory = process.memoryUsage();
    const lines = [
      '# HELP atelier_labs Labs on this server by status.',
      '# TYPE atelier_labs gauge',
      `atelier_labs{status="starting"} ${byStatus.starting}`,
      `atelier_labs{status="running"} ${byStatus.running}`,
      '# HELP atelier_terminal_shells Open lab shells.',
      '# TYPE atelier_terminal_shells gauge',
      `atelier_terminal_shells ${terminals.shells}`,
      '# HELP atelier_terminal_sockets Connected terminal sockets.',
      '# TYPE atelier_terminal_sockets gauge',
      `atelier_terminal_sockets ${terminals.sockets}`,
      '# HELP process_resident_memory_bytes Resident memory size in bytes.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${memory.rss}`,
      '# HELP nodejs_heap_used_bytes V8 heap used in bytes.',
      '# TYPE nodejs_heap_used_bytes gauge',
      `nodejs_heap_used_bytes ${memory.heapUsed}`,
      '',
    ];
    return reply.header('cache-control', 'no-store').type('text/plain; version=0.0.4; charset=utf-8').send(lines.join('\n'));
  });
}
