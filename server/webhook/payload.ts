/**
 * What the school's receiver is sent for one activity: JSON with its type and time, the lab,
 * the check, the reason or the result, and pseudonyms for the learner and the session.
 *
 * The learner id is never sent: it is what the learner's cookie carries, names their bucket
 * and repositories, and opens their records to whoever holds it with the server's key. A
 * receiver (analytics outside the platform, its logs, its vendor) gets an HMAC of it instead:
 * stable across events, replicas and restarts (its key derives from the server's cookie secret,
 * which replicas share), so a learner's path through a course can be followed, and worth
 * nothing anywhere else. The session id, which a lab's API paths carry, is treated alike.
 */
import { createHmac } from 'node:crypto';
import type { Activity } from '../activity/activity.ts';

export interface WebhookPayload {
  type: Activity['type'];
  /** ISO 8601, when it happened. */
  at: string;
  learner: string;
  lab: string;
  session?: string;
  check?: string;
  reason?: string;
  ok?: boolean;
  feedback?: string;
}

/** The pseudonyms' key, derived from the cookie secret under a label of its own. */
export function pseudonymKey(cookieSecret: Buffer): Buffer {
  return createHmac('sha256', cookieSecret).update('atelier webhook pseudonyms v1').digest();
}

/** 128 bits of HMAC, base64url; `kind` keeps a learner's and a session's names apart. */
export function pseudonym(key: Buffer, kind: 'learner' | 'session', id: string): string {
  return createHmac('sha256', key).update(`${kind}\n${id}`).digest().subarray(0, 16).toString('base64url');
}

export function webhookPayload(key: Buffer, activity: Activity): WebhookPayload {
  const common = { type: activity.type, at: new Date(activity.at).toISOString(), learner: pseudonym(key, 'learner', activity.learner), lab: activity.lab };
  const session = activity.session === undefined ? {} : { session: pseudonym(key, 'session', activity.session) };
  switch (activity.type) {
    case 'lab.launched':
      return { ...common, ...session };
    case 'lab.ended':
      return { ...common, ...session, reason: activity.reason };
    case 'check.passed':
    case 'check.failed':
      return { ...common, ...session, check: activity.check, ok: activity.type === 'check.passed', ...(activity.feedback === undefined ? {} : { feedback: activity.feedback }) };
  }
}
