/**
 * The lab server's Prometheus metrics (prom-client): one registry, named for what operators
 * watch during a class — labs by lab, launches and their latency, check results, terminal
 * traffic and sockets — plus Node's own process metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const launches = new Counter({
  name: 'atelier_launches_total',
  help: 'Lab launches, by lab and result (started, failed, refused, queued).',
  labelNames: ['lab', 'result'] as const,
  registers: [registry],
});

export const launchDuration = new Histogram({
  name: 'atelier_launch_duration_seconds',
  help: 'From the launch request to a lab ready for a shell.',
  labelNames: ['lab'] as const,
  buckets: [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10, 30],
  registers: [registry],
});

export const checkResults = new Counter({
  name: 'atelier_check_results_total',
  help: 'Checks run, by kind and result (passed, failed).',
  labelNames: ['kind', 'result'] as const,
  registers: [registry],
});

export const webhookEvents = new Counter({
  name: 'atelier_webhook_events_total',
  help: 'Activity events for the webhook, by result: sent, failed (given up after its tries, or refused), dropped (the queue was full).',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const terminalBytes = new Counter({
  name: 'atelier_terminal_bytes_total',
  help: 'Characters through lab terminals, by direction (input from browsers, output from shells).',
  labelNames: ['direction'] as const,
  registers: [registry],
});

export const terminalMirrorSeconds = new Counter({
  name: 'atelier_terminal_mirror_seconds_total',
  help: 'Time the mirror workers spent parsing shell output for screen replay.',
  registers: [registry],
});

export const terminalMirrorFailures = new Counter({
  name: 'atelier_terminal_mirror_failures_total',
  help: 'Mirror workers that died (replaced at once; their shells lost their screen history).',
  registers: [registry],
});

export const terminalMirrorThrottled = new Counter({
  name: 'atelier_terminal_mirror_throttled_total',
  help: 'Times a shell used up its mirror CPU budget (its output then waits: a flood).',
  registers: [registry],
});

export interface GaugeSource {
  name: string;
  help: string;
  labelNames: string[];
  read(): Array<{ labels: Record<string, string>; value: number }>;
}

/**
 * The exposition for one server: the process-wide counters plus gauges read at scrape time
 * from that server's own state (several servers share a process in tests).
 */
export function serverMetrics(sources: GaugeSource[]): () => Promise<{ contentType: string; body: string }> {
  const own = new Registry();
  for (const source of sources) {
    new Gauge({
      name: source.name,
      help: source.help,
      labelNames: source.labelNames,
      registers: [own],
      collect() {
        this.reset();
        for (const { labels, value } of source.read()) this.set(labels, value);
      },
    });
  }
  return async () => {
    const merged = Registry.merge([registry, own]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  };
}
