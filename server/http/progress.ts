/**
 * Step progress of the caller (learner cookie), so that it follows them between browsers:
 *   GET  /api/progress[?page=/tp/terminal/] → { learner, pages } or { learner, page, steps }
 *   POST /api/progress { page, steps: { id: done } } → merges what the browser held: its ticks and
 *        un-ticks of manual steps apply, checked steps in it are ignored → { page, steps }
 *   PUT  /api/progress { page, step, done } → one manual step; a checked step is refused (403):
 *        only a check passing on the server ticks it (checks.ts, auto-checks.ts)
 *   GET  /api/progress/events → Server-Sent Events, one `progress` event per change of any page
 * The stream is SSE rather than socket.io: the page's JavaScript before a launch must stay small
 * (EventSource is built into browsers; socket.io-client weighs ~13 KB gzipped), and a one-way
 * feed is all it needs. Tabs of one browser tell each other through BroadcastChannel; the stream
 * is for the learner's other devices. Bounded: 8 streams per learner (tabs and devices; more:
 * 429, the browser falls back to syncing on focus), a heartbeat every 25 s (below the idle limit of
 * connections, and proof the client is still there), each stream ended after 30 minutes
 * (EventSource reconnects by itself, pages hidden close theirs), and every connection counts in the
 * server's connection limits like any other. With several replicas a change made through one
 * reaches the streams of all (the learner bus, server/cluster); after a gap in that bus every
 * stream here is ended, and the browser, reconnecting, reads the progress it may have missed.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { LearnerStore } from '../learners/store.ts';
import { ProgressRefusal, type Progress, type ProgressChange } from '../learners/progress.ts';
import { ApiError, parseWith } from './errors.ts';
import { currentLearner, ensureLearner, requireLearner } from './identity.ts';
import { languageOf } from './language.ts';
import { defaultStreamTiming, openEventStream, sendEvent, type StreamTiming } from './sse.ts';

/** A page's path without its language: `/`, `/tp/terminal/`; lower-case segments, no dot segments. */
export const progressPage = z.string().max(200).regex(/^\/(?:[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+)*\/)*$/);
export const progressStep = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/);
/** Steps one merge may carry: more than any page has. */
export const maxStepsPerPage = 100;

const mergeBody = z.object({
  page: progressPage,
  steps: z.record(progressStep, z.boolean()).refine((steps) => Object.keys(steps).length <= maxStepsPerPage, { message: `at most ${maxStepsPerPage} steps` }),
});
const stepBody = z.object({ page: progressPage, step: progressStep, done: z.boolean() });
const pageQuery = z.object({ page: progressPage.optional() });

export interface ProgressStreamOptions extends StreamTiming {
  maxPerLearner: number;
}

export const defaultStreamOptions: ProgressStreamOptions = { maxPerLearner: 8, ...defaultStreamTiming };

export interface ProgressEvents {
  on(event: 'progress', listener: (learnerId: string, change: ProgressChange) => void): unknown;
  on(event: 'resync', listener: () => void): unknown;
}

async function applying<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ProgressRefusal) throw new ApiError(error.code, error.params);
    throw error;
  }
}

export function registerProgressRoutes(
  app: FastifyInstance,
  store: LearnerStore,
  progress: Progress,
  events: ProgressEvents,
  streamOptions: ProgressStreamOptions = defaultStreamOptions,
): void {
  app.get('/api/progress', async (request) => {
    const { page } = parseWith(pageQuery, request.query, languageOf(request.headers), 'query');
    const id = await currentLearner(request, store);
    if (page === undefined) return { learner: id !== undefined, pages: id ? await progress.all(id) : {} };
    return { learner: id !== undefined, page, steps: id ? await progress.of(id, page) : [] };
  });

  app.post('/api/progress', async (request, reply) => {
    const { page, steps } = parseWith(mergeBody, request.body, languageOf(request.headers));
    const id = await ensureLearner(request, reply, store);
    return { learner: true, page, steps: await applying(() => progress.apply(id, page, steps, false)) };
  });

  app.put('/api/progress', async (request, reply) => {
    const { page, step, done } = parseWith(stepBody, request.body, languageOf(request.headers));
    const id = await ensureLearner(request, reply, store);
    return { learner: true, page, steps: await applying(() => progress.apply(id, page, { [step]: done }, true)) };
  });

  /** Open streams by learner: one listener on the events for all of them. */
  const streams = new Map<string, Set<ServerResponse>>();
  events.on('progress', (learnerId, change) => {
    for (const response of streams.get(learnerId) ?? []) sendEvent(response, 'progress', change);
  });
  const endAll = () => {
    for (const open of streams.values()) for (const response of open) response.end();
  };
  // The client syncs when its stream reopens (site/client/progress.ts).
  events.on('resync', endAll);
  app.addHook('preClose', async () => endAll());

  app.get('/api/progress/events', async (request: FastifyRequest, reply: FastifyReply) => {
    const id = await requireLearner(request, store);
    const open = streams.get(id) ?? new Set<ServerResponse>();
    if (open.size >= streamOptions.maxPerLearner) throw new ApiError('too_many_progress_streams', { max: streamOptions.maxPerLearner });
    streams.set(id, open.add(reply.raw));
    openEventStream(reply, streamOptions, () => {
      open.delete(reply.raw);
      if (open.size === 0) streams.delete(id);
    });
  });
}
