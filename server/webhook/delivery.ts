/**
 * Sends events to one URL, off the request path: `enqueue` returns at once and a small pool of
 * senders (at most `concurrency` requests open) drains a bounded queue. A receiver that is slow,
 * hangs or is down costs at most the queue's bound in memory: when full, the oldest waiting
 * event is dropped (counted, and said in a log line at most every few seconds). Each attempt is
 * signed anew (the timestamp is the attempt's) and bounded in time; timeouts, network errors,
 * 408, 429 and 5xx are tried again after a growing, jittered delay, a bounded number of times;
 * anything else (a 4xx, a redirect, which is never followed) fails the event at once.
 */
import { randomBytes } from 'node:crypto';
import { signWebhook } from './sign.ts';
import { webhookEvents } from '../metrics.ts';

export interface DeliveryLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface DeliveryOptions {
  url: string;
  /** The signing key (the secret's bytes). */
  key: Buffer;
  log: () => DeliveryLog | undefined;
  /** Events waiting, retries included (not those being sent); default 1000. */
  queueMax?: number;
  /** Requests open at once; default 4. */
  concurrency?: number;
  /** One attempt's bound, connection to response headers (ms); default 10 s. */
  timeoutMs?: number;
  /** Attempts per event, the first included; default 5. */
  attempts?: number;
  /** Delay before the first retry, doubled at each one up to `maxBackoffMs` (ms); default 1 s. */
  backoffMs?: number;
  /** Default 60 s. */
  maxBackoffMs?: number;
  /** Log lines about drops and failures are at most this often (ms); default 10 s. */
  logEveryMs?: number;
  now?: () => number;
  random?: () => number;
}

interface Item {
  id: string;
  body: string;
  /** Attempts made. */
  attempts: number;
}

type Outcome = { result: 'sent' } | { result: 'retry' | 'failed'; why: string };

/**
 * The wait before retry number `retry` (1 for the first): exponential, capped, with jitter (half
 * to all of it) so that a receiver coming back is not hit by every sender at the same instant.
 */
export function backoffDelay(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(full * (0.5 + random() / 2));
}

/** What one response means for its event. */
export function classify(status: number): Outcome {
  if (status >= 200 && status < 300) return { result: 'sent' };
  if (status >= 300 && status < 400) return { result: 'failed', why: `redirect ${status} not followed` };
  if (status === 408 || status === 429 || status >= 500) return { result: 'retry', why: `status ${status}` };
  return { result: 'failed', why: `status ${status}` };
}

export class WebhookDelivery {
  readonly #url: string;
  readonly #key: Buffer;
  readonly #log: () => DeliveryLog | undefined;
  readonly #queueMax: number;
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #logEveryMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  /** Ready to send, oldest first. */
  readonly #ready: Item[] = [];
  /** Waiting for their retry, oldest first (a Map keeps insertion order). */
  readonly #waiting = new Map<Item, NodeJS.Timeout>();
  /** Attempts in progress (close waits for them once aborted). */
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #closed = false;
  readonly #idle = new Set<() => void>();
  /** Per kind of trouble: when it was last said, and how many happened since. */
  readonly #said = new Map<string, { at: number; unsaid: number }>();

  constructor(options: DeliveryOptions) {
    this.#url = options.url;
    this.#key = options.key;
    this.#log = options.log;
    this.#queueMax = options.queueMax ?? 1000;
    this.#concurrency = options.concurrency ?? 4;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#attempts = options.attempts ?? 5;
    this.#backoffMs = options.backoffMs ?? 1000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.#logEveryMs = options.logEveryMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** Events waiting or being sent. */
  get size(): number {
    return this.#ready.length + this.#waiting.size + this.#inFlight.size;
  }

  /** Requests open now. */
  get sending(): number {
    return this.#inFlight.size;
  }

  /** Queues one event (any JSON value); never waits, never throws. */
  enqueue(payload: unknown): void {
    if (this.#closed) return;
    if (this.#ready.length + this.#waiting.size >= this.#queueMax) this.#dropOldest();
    this.#ready.push({ id: `msg_${randomBytes(16).toString('base64url')}`, body: JSON.stringify(payload), attempts: 0 });
    this.#pump();
  }

  /** Resolves once nothing waits or is being sent (tests, shutdown). */
  drained(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  /**
   * Stops taking events; gives those queued up to `flushMs` to go out (a lone server's last
   * `lab.ended`), then abandons the rest, saying how many.
   */
  async close(flushMs = 2000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drained(), new Promise<void>((resolve) => (timer = setTimeout(resolve, flushMs)))]);
    clearTimeout(timer);
    const left = this.size;
    for (const timeout of this.#waiting.values()) clearTimeout(timeout);
    this.#waiting.clear();
    this.#ready.length = 0;
    this.#abort.abort();
    await Promise.all(this.#inFlight);
    if (left > 0) this.#log()?.warn({ events: left }, 'webhook events not sent: the server is stopping');
  }

  #dropOldest(): void {
    const retry = this.#waiting.keys().next();
    const waited = retry.done ? undefined : retry.value;
    // A retry is older than anything still waiting for its first attempt.
    if (waited) {
      clearTimeout(this.#waiting.get(waited));
      this.#waiting.delete(waited);
    } else this.#ready.shift();
    webhookEvents.inc({ result: 'dropped' });
    this.#say('dropped', { queueMax: this.#queueMax }, 'webhook queue full: oldest event dropped');
  }

  /** A log line per kind of trouble at most every `logEveryMs`, with the count of those unsaid. */
  #say(kind: string, fields: Record<string, unknown>, message: string): void {
    const now = this.#now();
    const said = this.#said.get(kind);
    if (said && now - said.at < this.#logEveryMs) {
      said.unsaid += 1;
      return;
    }
    this.#said.set(kind, { at: now, unsaid: 0 });
    this.#log()?.warn({ ...fields, ...(said?.unsaid ? { sinceLastLine: said.unsaid } : {}) }, message);
  }

  #pump(): void {
    while (!this.#abort.signal.aborted && this.#inFlight.size < this.#concurrency && this.#ready.length > 0) {
      const item = this.#ready.shift()!;
      const attempt: Promise<void> = this.#attempt(item).finally(() => {
        this.#inFlight.delete(attempt);
        this.#pump();
        if (this.size === 0) for (const resolve of [...this.#idle]) (this.#idle.delete(resolve), resolve());
      });
      this.#inFlight.add(attempt);
    }
  }

  async #attempt(item: Item): Promise<void> {
    item.attempts += 1;
    const outcome = await this.#send(item);
    if (outcome.result === 'sent') {
      webhookEvents.inc({ result: 'sent' });
      return;
    }
    if (outcome.result === 'retry' && item.attempts < this.#attempts && !this.#closed) {
      const delay = backoffDelay(item.attempts, this.#backoffMs, this.#maxBackoffMs, this.#random);
      const timer = setTimeout(() => {
        this.#waiting.delete(item);
        this.#ready.unshift(item);
        this.#pump();
      }, delay);
      timer.unref();
      this.#waiting.set(item, timer);
      return;
    }
    webhookEvents.inc({ result: 'failed' });
    this.#say(`failed ${outcome.why}`, { why: outcome.why, attempts: item.attempts, webhookId: item.id }, 'webhook event not delivered');
  }

  async #send(item: Item): Promise<Outcome> {
    const headers = signWebhook(this.#key, item.id, Math.floor(this.#now() / 1000), item.body);
    try {
      const response = await fetch(this.#url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'Atelier-Webhook/1' },
        body: item.body,
        // Never followed: the receiver is the configured URL, and a redirect could point anywhere (an internal address).
        redirect: 'manual',
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#timeoutMs)]),
      });
      // The receiver's body is not read: however large or slow, it costs nothing.
      await response.body?.cancel().catch(() => {});
      return classify(response.status);
    } catch (error) {
      const name = (error as Error).name;
      return { result: 'retry', why: name === 'TimeoutError' ? 'timeout' : name === 'AbortError' ? 'aborted' : 'network error' };
    }
  }
}
