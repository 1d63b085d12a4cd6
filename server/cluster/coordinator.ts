/**
 * What lab-server replicas share besides the learner store: a message bus (publish/subscribe by
 * topic) and leadership (one replica at a time runs a job). One server runs `InProcessCoordinator`
 * (an EventEmitter, as before replicas); replicas on one PostgreSQL run `PgCoordinator`
 * (LISTEN/NOTIFY, advisory locks). Both behave alike to their callers: payloads are JSON, each
 * message at most `maxMessageBytes` (NOTIFY's limit) whatever the implementation, so code that
 * works on one server works on several, and a replica's own messages reach its own subscribers
 * once, at once, as a copy of what another replica receives.
 */
import { randomBytes } from 'node:crypto';

/** NOTIFY refuses payloads of 8000 bytes or more: a message (envelope included) is shorter. */
export const maxMessageBytes = 7999;

/** Topics are short names: `progress`, `learner.changed`. */
export const topicPattern = /^[a-z][a-z0-9.-]{0,63}$/;

export class BusPayloadTooLarge extends Error {
  readonly code = 'bus_payload_too_large';
  constructor(topic: string, bytes: number) {
    super(`message on ${topic} is ${bytes} bytes: at most ${maxMessageBytes} (never truncated)`);
    this.name = 'BusPayloadTooLarge';
  }
}

export type MessageListener = (payload: unknown) => void;

export interface Leadership {
  /** Whether this replica runs the job now. */
  readonly leading: boolean;
  /** Gives up: aborts the run in progress, waits for it to end, releases the lock. Idempotent. */
  stop(): Promise<void>;
}

/**
 * `run` is the leader's whole tenure: it keeps the job going until `signal` aborts (the lock is
 * lost, or `stop`), then resolves. If it ends earlier the lock is released and contended again.
 */
export type Lead = (name: string, run: (signal: AbortSignal) => Promise<void>) => Leadership;

export interface Coordinator {
  /** This replica's id, carried by its messages. */
  readonly replicaId: string;
  /**
   * Delivers `payload` to this replica's subscribers of `topic` at once and sends it to the
   * others. Rejects with BusPayloadTooLarge (delivering nothing) beyond `maxMessageBytes`.
   */
  publish(topic: string, payload: unknown): Promise<void>;
  /**
   * `listener` hears every message of `topic`; `onGap` hears that messages from other replicas
   * may have been missed (the bus was disconnected), so state kept from them must be read again.
   * Returns the unsubscribe function.
   */
  subscribe(topic: string, listener: MessageListener, onGap?: () => void): () => void;
  lead: Lead;
  close(): Promise<void>;
}

export function newReplicaId(): string {
  return randomBytes(9).toString('base64url');
}

interface Envelope {
  /** Replica id of the sender. */
  r: string;
  /** Topic. */
  t: string;
  p: unknown;
}

/** The message as sent: refuses a bad topic, a payload JSON cannot carry, or one too large. */
export function encodeMessage(replicaId: string, topic: string, payload: unknown): string {
  if (!topicPattern.test(topic)) throw new Error(`invalid bus topic ${JSON.stringify(topic)}`);
  const text = JSON.stringify({ r: replicaId, t: topic, p: payload } satisfies Envelope);
  if (payload === undefined || text === undefined) throw new Error(`bus message on ${topic}: payload is not JSON`);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxMessageBytes) throw new BusPayloadTooLarge(topic, bytes);
  return text;
}

/** A message received: undefined for anything that is not one (a stray or hostile NOTIFY). */
export function decodeMessage(text: string): Envelope | undefined {
  if (Buffer.byteLength(text) > maxMessageBytes) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { r, t, p } = value as Partial<Envelope>;
  if (typeof r !== 'string' || r.length === 0 || r.length > 64 || typeof t !== 'string' || !topicPattern.test(t) || p === undefined) return undefined;
  return { r, t, p };
}

/** Subscribers by topic; a listener that throws is reported and the others still hear the message. */
export class Topics {
  readonly #listeners = new Map<string, Set<MessageListener>>();
  readonly #gaps = new Set<() => void>();
  readonly #onError: (error: unknown, context: string) => void;

  constructor(onError: (error: unknown, context: string) => void) {
    this.#onError = onError;
  }

  subscribe(topic: string, listener: MessageListener, onGap?: () => void): () => void {
    if (!topicPattern.test(topic)) throw new Error(`invalid bus topic ${JSON.stringify(topic)}`);
    const set = this.#listeners.get(topic) ?? new Set();
    this.#listeners.set(topic, set.add(listener));
    // Wrapped so that one function given twice is still two subscriptions.
    const gap = onGap && (() => onGap());
    if (gap) this.#gaps.add(gap);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(topic) === set) this.#listeners.delete(topic);
      if (gap) this.#gaps.delete(gap);
    };
  }

  deliver(topic: string, payload: unknown): void {
    for (const listener of [...(this.#listeners.get(topic) ?? [])]) {
      try {
        listener(payload);
      } catch (error) {
        this.#onError(error, `bus listener on ${topic}`);
      }
    }
  }

  gap(): void {
    for (const listener of [...this.#gaps]) {
      try {
        listener();
      } catch (error) {
        this.#onError(error, 'bus gap listener');
      }
    }
  }
}

/** One lead per name in a replica: a second one would run beside the first (locks are re-entrant). */
export class LeadNames {
  readonly #names = new Set<string>();

  claim(name: string): () => void {
    if (!topicPattern.test(name)) throw new Error(`invalid lead name ${JSON.stringify(name)}`);
    if (this.#names.has(name)) throw new Error(`${name} is already led by this replica`);
    this.#names.add(name);
    return () => this.#names.delete(name);
  }
}
