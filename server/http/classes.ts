/**
 * Classes over HTTP. Every route says who asks: a trainer (trainer-auth.ts) sees and acts on
 * their own classes only (another's is 404, as a missing one); a learner (their cookie) joins
 * with a code and a display name, leaves, and hears their trainer's messages; no learner route
 * ever lists anyone else.
 * Trainer:
 *   GET  /api/trainer/courses                         → { courses: [{ path, title }] }
 *   GET  /api/trainer/classes                         → { classes }
 *   POST /api/trainer/classes { course, title, startsAt, endsAt } → class (201)
 *   GET  /api/trainer/classes/:id                     → class
 *   POST /api/trainer/classes/:id/close               → class
 *   GET  /api/trainer/classes/:id/snapshot            → { class, members: MemberRow[], at }
 *   GET  /api/trainer/classes/:id/events              → SSE: `snapshot` once, then `members` (changed rows), `removed`
 *   GET  /api/trainer/classes/:id/export.csv          → text/csv
 *   POST /api/trainer/classes/:id/members/:member/extend → { expiresAt }
 *   DELETE /api/trainer/classes/:id/members/:member/lab  → 204
 *   POST /api/trainer/classes/:id/messages { text, member? } → { sent }
 * Learner:
 *   POST   /api/classes/join { code, name }           → { class: { id, title, course, start }, name }
 *   GET    /api/classes/mine                          → { classes: [{ id, title, course, name }] }
 *   DELETE /api/classes/mine/:id                      → 204
 *   GET    /api/classes/mine/messages                 → { messages }
 *   GET    /api/classes/mine/messages/events          → SSE: `message` for each unread, then live
 *   POST   /api/classes/mine/messages/:id/read        → 204
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { translator, type Language } from '../../i18n/index.ts';
import type { Sessions } from '../labs/sessions.ts';
import { RateLimiter } from '../labs/quotas.ts';
import type { LearnerStore } from '../learners/store.ts';
import type { Course } from '../classes/course.ts';
import type { ClassLive } from '../classes/live.ts';
import { normalizeJoinCode, type ClassMessage, type ClassRecord, type ClassStore } from '../classes/store.ts';
import { classView, courseLab, csvOf, memberKey, memberRow, type MemberRow } from '../classes/view.ts';
import { clientKey } from './client-address.ts';
import { ApiError, parseWith } from './errors.ts';
import { requireLearner, ensureLearner } from './identity.ts';
import { languageOf } from './language.ts';
import { defaultStreamTiming, openEventStream, sendEvent, type StreamTiming } from './sse.ts';
import { requireTrainer } from './trainer-auth.ts';

export const limits = {
  displayName: 60,
  title: 120,
  message: 500,
  openClassesPerTrainer: 50,
  viewsPerTrainer: 8,
  inboxesPerLearner: 4,
  messagesPerMinute: 20,
  /** Wrong join codes per client address and 10 minutes. */
  joinAttempts: 20,
} as const;

/** Control characters (C0, C1) and the bidirectional overrides that could disguise a name. */
const unwanted = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** A name as people write it, in any script, minus what could hide or forge text; NFC. */
export function cleanText(text: string, keepNewlines = false): string {
  const normalized = text.normalize('NFC');
  const cleaned = keepNewlines ? normalized.split('\n').map((line) => line.replace(unwanted, '')).join('\n') : normalized.replace(unwanted, ' ');
  return keepNewlines ? cleaned.trim() : cleaned.replace(/\s+/g, ' ').trim();
}

const cleaned = (max: number, keepNewlines = false) =>
  z
    .string()
    .max(max * 4)
    .transform((text) => cleanText(text, keepNewlines))
    .pipe(z.string().min(1).max(max));

const classId = z.string().regex(/^c[A-Za-z0-9_-]{16}$/);
const member = z.string().regex(/^[A-Za-z0-9_-]{16}$/);
const time = z.number().int().min(0).max(8.64e15);
const createBody = z
  .object({ course: z.string().max(200), title: cleaned(limits.title), startsAt: time, endsAt: time })
  .strict();
const joinBody = z.object({ code: z.string().max(32), name: cleaned(limits.displayName) }).strict();
const messageBody = z.object({ text: cleaned(limits.message, true), member: member.optional() }).strict();

export interface ClassRouteOptions {
  store: ClassStore;
  learners: LearnerStore;
  courses: ReadonlyMap<string, Course>;
  sessions: Sessions;
  live: ClassLive;
  streamTiming?: StreamTiming;
}

export function registerClassRoutes(app: FastifyInstance, options: ClassRouteOptions): void {
  const { store, learners, courses, sessions, live } = options;
  const streamTiming = options.streamTiming ?? defaultStreamTiming;
  const joinAttempts = new RateLimiter(limits.joinAttempts, 600_000);
  const messageRate = new RateLimiter(limits.messagesPerMinute, 60_000);
  const views = new Map<string, number>();
  const inboxes = new Map<string, number>();

  /** The trainer's class `id` names; 404 for a missing one and for another trainer's alike. */
  async function ownClass(request: FastifyRequest<{ Params: { id: string } }>): Promise<ClassRecord> {
    const trainer = requireTrainer(request);
    const id = classId.safeParse(request.params.id);
    const record = id.success ? await store.get(id.data) : undefined;
    if (!record || record.trainerId !== trainer.id) throw new ApiError('not_found');
    return record;
  }

  async function rows(record: ClassRecord, language: Language, only?: Set<string>): Promise<{ rows: MemberRow[]; gone: string[] }> {
    const course = courses.get(record.course);
    const single = only?.size === 1 ? [...only][0] : undefined;
    const [members, done, outcomes] = await Promise.all([
      store.members(record.id),
      store.progress(record.id, record.course, single),
      store.outcomes(record.id, single),
    ]);
    const all = sessions.all();
    const wanted = members.filter((m) => !only || only.has(m.learnerId));
    const gone = only ? [...only].filter((learner) => !members.some((m) => m.learnerId === learner)).map((learner) => memberKey(record.id, learner)) : [];
    return {
      rows: wanted.map((m) =>
        memberRow(
          record.id,
          course,
          m,
          done.filter((d) => d.learnerId === m.learnerId),
          outcomes.filter((o) => o.learnerId === m.learnerId),
          courseLab(course, all, m.learnerId),
          language,
        ),
      ),
      gone,
    };
  }

  async function memberOf(record: ClassRecord, key: string): Promise<string> {
    const parsed = member.safeParse(key);
    const found = parsed.success ? (await store.members(record.id)).find((m) => memberKey(record.id, m.learnerId) === parsed.data) : undefined;
    if (!found) throw new ApiError('not_found');
    return found.learnerId;
  }

  app.get('/api/trainer/courses', async (request) => {
    requireTrainer(request);
    const language = languageOf(request.headers);
    return { courses: [...courses.values()].map((course) => ({ path: course.path, title: course.title[language], steps: course.steps.length })) };
  });

  app.get('/api/trainer/classes', async (request) => {
    const trainer = requireTrainer(request);
    const language = languageOf(request.headers);
    return { classes: (await store.ofTrainer(trainer.id)).map((record) => classView(record, courses.get(record.course), language)) };
  });

  app.post('/api/trainer/classes', async (request, reply) => {
    const trainer = requireTrainer(request);
    const language = languageOf(request.headers);
    const body = parseWith(createBody, request.body, language);
    if (!courses.has(body.course)) throw new ApiError('bad_request', { field: 'course', problem: translator(language)('classes.unknownCourse') }, 'course');
    if (body.endsAt <= body.startsAt) throw new ApiError('bad_request', { field: 'endsAt', problem: translator(language)('classes.endsBeforeStart') }, 'endsAt');
    const open = (await store.ofTrainer(trainer.id)).filter((record) => record.closedAt === undefined);
    if (open.length >= limits.openClassesPerTrainer) throw new ApiError('too_many_classes', { max: limits.openClassesPerTrainer });
    const record = await store.create({ trainerId: trainer.id, ...body });
    return reply.code(201).send(classView(record, courses.get(record.course), language));
  });

  app.get<{ Params: { id: string } }>('/api/trainer/classes/:id', async (request) => {
    const record = await ownClass(request);
    return classView(record, courses.get(record.course), languageOf(request.headers));
  });

  app.post<{ Params: { id: string } }>('/api/trainer/classes/:id/close', async (request) => {
    const record = await ownClass(request);
    await store.closeClass(record.id, Date.now());
    return classView((await store.get(record.id))!, courses.get(record.course), languageOf(request.headers));
  });

  app.get<{ Params: { id: string } }>('/api/trainer/classes/:id/snapshot', async (request) => {
    const record = await ownClass(request);
    const language = languageOf(request.headers);
    return { class: classView(record, courses.get(record.course), language), members: (await rows(record, language)).rows, at: Date.now() };
  });

  app.get<{ Params: { id: string } }>('/api/trainer/classes/:id/events', async (request, reply) => {
    const record = await ownClass(request);
    const trainer = requireTrainer(request);
    const language = languageOf(request.headers);
    const open = views.get(trainer.id) ?? 0;
    if (open >= limits.viewsPerTrainer) throw new ApiError('too_many_class_views', { max: limits.viewsPerTrainer });
    views.set(trainer.id, open + 1);
    let stop: (() => void) | undefined;
    let closed = false;
    const response = openEventStream(reply, streamTiming, () => {
      closed = true;
      stop?.();
      const left = (views.get(trainer.id) ?? 1) - 1;
      if (left > 0) views.set(trainer.id, left);
      else views.delete(trainer.id);
    });
    // One redraw at a time: updates that arrive meanwhile wait for the next one.
    let drawing: Promise<void> = Promise.resolve();
    const draw = (only: Set<string> | 'all') => {
      drawing = drawing.then(async () => {
        if (closed) return;
        try {
          const { rows: changed, gone } = await rows(record, language, only === 'all' ? undefined : only);
          if (closed) return;
          if (only === 'all') sendEvent(response, 'snapshot', { class: classView(record, courses.get(record.course), language), members: changed, at: Date.now() });
          else {
            if (changed.length > 0) sendEvent(response, 'members', { members: changed, at: Date.now() });
            if (gone.length > 0) sendEvent(response, 'removed', { members: gone });
          }
        } catch (error) {
          request.log.error({ err: error }, 'class view');
          response.end();
        }
      });
    };
    try {
      stop = await live.watch(record.id, { update: draw });
    } catch (error) {
      // The headers are gone: the stream ends and the browser retries.
      request.log.error({ err: error }, 'class view');
      response.end();
      return;
    }
    if (closed) stop();
    else draw('all');
  });

  app.get<{ Params: { id: string } }>('/api/trainer/classes/:id/export.csv', async (request, reply) => {
    const record = await ownClass(request);
    const language = languageOf(request.headers);
    const t = translator(language);
    const now = Date.now();
    const body = csvOf(
      ['name', 'joined', 'done', 'total', 'current', 'minutes', 'failed', 'lab'].map((column) => t(`classes.csv.${column}`)),
      (await rows(record, language)).rows.map((row) => [
        row.name,
        new Date(row.joinedAt).toISOString(),
        row.done,
        row.total,
        row.current?.label ?? t('classes.finished'),
        row.current ? Math.floor((now - row.current.since) / 60_000) : '',
        row.failed.map((failure) => `${failure.label}: ${failure.feedback}`).join(' | '),
        row.lab ? t(`services.status.${row.lab.status}`) : t('classes.noLab'),
      ]),
    );
    const name = `${record.title.replace(/[^\p{L}\p{N}_-]+/gu, '-').slice(0, 60) || 'class'}.csv`;
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="class.csv"; filename*=UTF-8''${encodeURIComponent(name)}`)
      .send(`\ufeff${body}`);
  });

  app.post<{ Params: { id: string; member: string } }>('/api/trainer/classes/:id/members/:member/extend', async (request) => {
    const record = await ownClass(request);
    const learnerId = await memberOf(record, request.params.member);
    const lab = courseLab(courses.get(record.course), sessions.all(), learnerId);
    if (!lab) throw new ApiError('lab_gone');
    const result = sessions.extend(lab.id);
    if (!result) throw new ApiError('lab_gone');
    if (!result.ok) throw new ApiError(result.code, { max: new Date(lab.maxExpiresAt).toISOString() });
    return { expiresAt: result.session.expiresAt };
  });

  app.delete<{ Params: { id: string; member: string } }>('/api/trainer/classes/:id/members/:member/lab', async (request, reply) => {
    const record = await ownClass(request);
    const learnerId = await memberOf(record, request.params.member);
    const lab = courseLab(courses.get(record.course), sessions.all(), learnerId);
    if (!lab) throw new ApiError('lab_gone');
    await sessions.stop(lab.id, 'deleted');
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>('/api/trainer/classes/:id/messages', async (request) => {
    const record = await ownClass(request);
    const trainer = requireTrainer(request);
    const body = parseWith(messageBody, request.body, languageOf(request.headers));
    const wait = messageRate.retryAfterMs(trainer.id);
    if (wait > 0) {
      const refusal = new ApiError('too_many_messages', { max: limits.messagesPerMinute, seconds: Math.ceil(wait / 1000) });
      refusal.retryAfterSeconds = Math.ceil(wait / 1000);
      throw refusal;
    }
    messageRate.hit(trainer.id);
    const to = body.member === undefined ? (await store.members(record.id)).map((m) => m.learnerId) : [await memberOf(record, body.member)];
    const sent = await store.addMessages(record.id, to, body.text, Date.now());
    live.delivered(sent);
    return { sent: sent.length };
  });

  app.post('/api/classes/join', async (request, reply) => {
    const language = languageOf(request.headers);
    const client = clientKey(request.ip);
    const wait = joinAttempts.retryAfterMs(client);
    if (wait > 0) {
      const refusal = new ApiError('too_many_attempts', { seconds: Math.ceil(wait / 1000) });
      refusal.retryAfterSeconds = Math.ceil(wait / 1000);
      throw refusal;
    }
    const body = parseWith(joinBody, request.body, language);
    const code = normalizeJoinCode(body.code);
    const record = code === undefined ? undefined : await store.byJoinCode(code);
    if (!record) {
      joinAttempts.hit(client);
      throw new ApiError('not_found');
    }
    if (record.closedAt !== undefined) throw new ApiError('class_closed');
    const learnerId = await ensureLearner(request, reply, learners);
    const joined = await store.join(record.id, learnerId, body.name, Date.now());
    live.membersChanged(record.id, learnerId);
    // Where the course starts: its first page with steps (a course folder may have no page of its own).
    const start = courses.get(record.course)?.steps[0]?.page ?? record.course;
    return { class: { id: record.id, title: record.title, course: record.course, start }, name: joined.displayName };
  });

  app.get('/api/classes/mine', async (request) => {
    const learnerId = await requireLearner(request, learners).catch(() => undefined);
    if (!learnerId) return { classes: [] };
    const mine = await store.ofLearner(learnerId);
    const names = await Promise.all(mine.map((record) => store.member(record.id, learnerId)));
    return { classes: mine.map((record, i) => ({ id: record.id, title: record.title, course: record.course, name: names[i]?.displayName ?? '' })) };
  });

  app.delete<{ Params: { id: string } }>('/api/classes/mine/:id', async (request, reply) => {
    const learnerId = await requireLearner(request, learners);
    const id = classId.safeParse(request.params.id);
    if (!id.success || !(await store.leave(id.data, learnerId))) throw new ApiError('not_found');
    live.membersChanged(id.data, learnerId);
    return reply.code(204).send();
  });

  const messageView = (message: ClassMessage) => ({ id: message.id, text: message.text, sentAt: message.sentAt });

  app.get('/api/classes/mine/messages', async (request) => {
    const learnerId = await requireLearner(request, learners);
    return { messages: (await store.unread(learnerId)).map(messageView) };
  });

  app.get('/api/classes/mine/messages/events', async (request, reply) => {
    const learnerId = await requireLearner(request, learners);
    const open = inboxes.get(learnerId) ?? 0;
    if (open >= limits.inboxesPerLearner) throw new ApiError('too_many_progress_streams', { max: limits.inboxesPerLearner });
    inboxes.set(learnerId, open + 1);
    let off: (() => void) | undefined;
    const response = openEventStream(reply, streamTiming, () => {
      off?.();
      const left = (inboxes.get(learnerId) ?? 1) - 1;
      if (left > 0) inboxes.set(learnerId, left);
      else inboxes.delete(learnerId);
    });
    // Listening first, then the unread: a message sent in between arrives (perhaps twice: the page keeps one per id).
    off = live.inbox(learnerId, (message) => sendEvent(response, 'message', messageView(message)));
    for (const message of await store.unread(learnerId)) sendEvent(response, 'message', messageView(message));
  });

  app.post<{ Params: { id: string } }>('/api/classes/mine/messages/:id/read', async (request, reply) => {
    const learnerId = await requireLearner(request, learners);
    const id = z.string().uuid().safeParse(request.params.id);
    if (!id.success || !(await store.markRead(learnerId, id.data, Date.now()))) throw new ApiError('not_found');
    return reply.code(204).send();
  });
}
