/**
 * What a trainer sees of one member: the course's steps done, the current step (the first not
 * done, in page order) and how long they have been on it (since the step before it was done, or
 * since they joined), the checks whose last run failed with what the learner read, and their
 * lab (running or not, time left). Built from the class store and the sessions every replica
 * holds, so any replica draws the same row.
 */
import { createHash } from 'node:crypto';
import type { Language } from '../../i18n/index.ts';
import type { Session } from '../labs/sessions.ts';
import type { Course } from './course.ts';
import type { CheckOutcome, ClassMember, ClassRecord, StepDone } from './store.ts';
import { formatJoinCode } from './store.ts';

export interface MemberRow {
  /** Names the member in the trainer's API: not the learner's id, which is theirs alone. */
  member: string;
  name: string;
  joinedAt: number;
  done: number;
  total: number;
  current: { page: string; step: string; label: string; since: number } | null;
  failed: { lab: string; check: string; label: string; feedback: string; at: number }[];
  lab: { session: string; status: string; expiresAt: number } | null;
}

export interface ClassView {
  id: string;
  title: string;
  course: string;
  courseTitle: string;
  joinCode: string;
  startsAt: number;
  endsAt: number;
  createdAt: number;
  closedAt: number | null;
}

export function memberKey(classId: string, learnerId: string): string {
  return createHash('sha256').update(`${classId}\0${learnerId}`).digest('base64url').slice(0, 16);
}

export function classView(record: ClassRecord, course: Course | undefined, language: Language): ClassView {
  return {
    id: record.id,
    title: record.title,
    course: record.course,
    courseTitle: course?.title[language] ?? record.course,
    joinCode: formatJoinCode(record.joinCode),
    startsAt: record.startsAt,
    endsAt: record.endsAt,
    createdAt: record.createdAt,
    closedAt: record.closedAt ?? null,
  };
}

/** The member's lab of the course (their newest live one), if any. */
export function courseLab(course: Course | undefined, sessions: Iterable<Session>, learnerId: string): Session | undefined {
  let newest: Session | undefined;
  for (const session of sessions) {
    if (session.learnerId !== learnerId || session.status === 'stopped' || session.status === 'failed') continue;
    if (course && !course.labs.includes(session.labId) && session.lab.course !== course.path) continue;
    if (!newest || session.createdAt > newest.createdAt) newest = session;
  }
  return newest;
}

export function memberRow(
  classId: string,
  course: Course | undefined,
  member: ClassMember,
  done: StepDone[],
  outcomes: CheckOutcome[],
  lab: Session | undefined,
  language: Language,
): MemberRow {
  const steps = course?.steps ?? [];
  const doneAt = new Map(done.map((entry) => [`${entry.page}#${entry.step}`, entry.doneAt]));
  const index = steps.findIndex((step) => !doneAt.has(`${step.page}#${step.step}`));
  let current: MemberRow['current'] = null;
  if (index !== -1) {
    const step = steps[index]!;
    const previous = index > 0 ? doneAt.get(`${steps[index - 1]!.page}#${steps[index - 1]!.step}`) : undefined;
    current = { page: step.page, step: step.step, label: step.label[language], since: Math.max(member.joinedAt, previous ?? 0) };
  }
  const labelOf = (lab: string, check: string) => steps.find((step) => step.check === check && course?.labs.includes(lab))?.label[language] ?? check;
  return {
    member: memberKey(classId, member.learnerId),
    name: member.displayName,
    joinedAt: member.joinedAt,
    done: steps.filter((step) => doneAt.has(`${step.page}#${step.step}`)).length,
    total: steps.length,
    current,
    failed: outcomes
      .filter((outcome) => !outcome.passed && (!course || course.labs.includes(outcome.lab)))
      .map((outcome) => ({ lab: outcome.lab, check: outcome.check, label: labelOf(outcome.lab, outcome.check), feedback: outcome.feedback, at: outcome.at })),
    lab: lab ? { session: lab.id, status: lab.status, expiresAt: lab.expiresAt } : null,
  };
}

/** A spreadsheet never runs a cell as a formula: one starting with = + - @ (or a tab or CR) is quoted as text. */
export function csvCell(value: string | number): string {
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

export function csvOf(header: string[], rows: (string | number)[][]): string {
  return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
