/**
 * Classes: a trainer's group of learners following one course, joined with a short code, and
 * what the class view needs to outlive a reload or a replica: members, each member's last
 * outcome per check (a failed check's feedback), and the trainer's messages until read. The
 * tables live in the learner database (SQLite or PostgreSQL), beside the learners they refer to,
 * so a purged learner leaves every class with them.
 */
import { randomBytes, randomUUID } from 'node:crypto';

export interface ClassRecord {
  id: string;
  trainerId: string;
  /** A site path without language: `/datalab-tp/`. */
  course: string;
  title: string;
  /** Shown as `ABCD-EFGH`; stored without the dash. */
  joinCode: string;
  startsAt: number;
  endsAt: number;
  createdAt: number;
  /** When the trainer closed it; a closed class takes no new members. */
  closedAt?: number;
}

export interface NewClass {
  trainerId: string;
  course: string;
  title: string;
  startsAt: number;
  endsAt: number;
}

export interface ClassMember {
  learnerId: string;
  displayName: string;
  joinedAt: number;
}

export interface StepDone {
  learnerId: string;
  page: string;
  step: string;
  doneAt: number;
}

export interface CheckOutcome {
  learnerId: string;
  lab: string;
  check: string;
  passed: boolean;
  /** What the learner read when it failed (empty when it passed). */
  feedback: string;
  at: number;
}

export interface ClassMessage {
  id: string;
  classId: string;
  learnerId: string;
  text: string;
  sentAt: number;
}

export interface ClassStore {
  create(fields: NewClass): Promise<ClassRecord>;
  get(id: string): Promise<ClassRecord | undefined>;
  /** The class a join code names (dash and case ignored by the caller: `normalizeJoinCode`). */
  byJoinCode(code: string): Promise<ClassRecord | undefined>;
  /** The trainer's classes, newest first. */
  ofTrainer(trainerId: string): Promise<ClassRecord[]>;
  /** Classes the learner is a member of, open ones only. */
  ofLearner(learnerId: string): Promise<ClassRecord[]>;
  closeClass(id: string, at: number): Promise<boolean>;
  /** Adds the learner, or renames them if already a member. */
  join(classId: string, learnerId: string, displayName: string, at: number): Promise<ClassMember>;
  leave(classId: string, learnerId: string): Promise<boolean>;
  members(classId: string): Promise<ClassMember[]>;
  member(classId: string, learnerId: string): Promise<ClassMember | undefined>;
  /** Steps the class's members have done on pages under `course`, each with its time. */
  progress(classId: string, course: string, learnerId?: string): Promise<StepDone[]>;
  /** The latest outcome of a check for a learner (one per learner, lab and check). */
  recordOutcome(outcome: CheckOutcome): Promise<void>;
  outcomes(classId: string, learnerId?: string): Promise<CheckOutcome[]>;
  /** One message to each of `learnerIds` (members of the class only). */
  addMessages(classId: string, learnerIds: string[], text: string, at: number): Promise<ClassMessage[]>;
  unread(learnerId: string): Promise<ClassMessage[]>;
  markRead(learnerId: string, messageId: string, at: number): Promise<boolean>;
  close(): Promise<void>;
}

/** No 0/O, 1/I/L, 2/Z, 5/S, 8/B: a code read aloud or copied from a projector is typed right. */
export const joinCodeAlphabet = 'ACDEFGHJKMNPQRTUVWXY34679';
/** 25^8 ≈ 1.5·10^11 codes: with joins rate-limited per client, guessing one takes lifetimes. */
export const joinCodeLength = 8;

export function newJoinCode(): string {
  const bytes = randomBytes(joinCodeLength * 2);
  let code = '';
  // Rejection sampling: 250 = 10 × 25, so every letter is equally likely.
  for (const byte of bytes) {
    if (byte < 250) code += joinCodeAlphabet[byte % joinCodeAlphabet.length];
    if (code.length === joinCodeLength) return code;
  }
  return code.length === joinCodeLength ? code : newJoinCode();
}

/** `abcd-efgh`, `ABCD EFGH` → `ABCDEFGH`; undefined when it cannot be a code. */
export function normalizeJoinCode(input: string): string | undefined {
  const code = input.toUpperCase().replace(/[\s-]/g, '');
  return code.length === joinCodeLength && [...code].every((letter) => joinCodeAlphabet.includes(letter)) ? code : undefined;
}

export function formatJoinCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

export const newClassId = () => `c${randomBytes(12).toString('base64url')}`;
export const newMessageId = () => randomUUID();

/** Page keys under a course (`/datalab-tp/` and below) as a LIKE pattern, `_` escaped: LIKE reads it as any character. */
export function coursePattern(course: string): string {
  return `${course.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}
