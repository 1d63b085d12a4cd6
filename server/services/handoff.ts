/**
 * How a learner's browser gets into their service's origin, which never sees the platform's
 * cookie: the dock asks the API (with that cookie) for a hand-off, a signed ticket valid once for
 * a minute, opens `<service origin>/.atelier/open?ticket=…`, and the service origin trades it for
 * a cookie of its own, signed too, naming the lab, the service and the learner. Both are HMACs
 * under one key derived from the server's cookie secret, checked in constant time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface ServiceGrant {
  /** The lab session. */
  session: string;
  service: string;
  /** The learner it belongs to ('' for a lab without learner: tests and token-only labs). */
  learner: string;
}

/** A ticket lives this long: the dock uses it at once. */
export const ticketTtlMs = 60_000;
/** The service origin's cookie lives at most this long; the lab's end ends it sooner. */
export const grantTtlMs = 12 * 3600_000;
/** Tickets remembered as used, at most (each for its minute): a flood of opens cannot grow it. */
const maxUsedTickets = 100_000;

const fieldPattern = /^[A-Za-z0-9_-]{1,64}$/;

export class Handoff {
  readonly #key: Buffer;
  readonly #now: () => number;
  /** nonce → expiry of tickets already traded: each is good once. */
  readonly #used = new Map<string, number>();

  constructor(secret: Buffer | string, now: () => number = Date.now) {
    this.#key = createHmac('sha256', secret).update('atelier service hand-off v1').digest();
    this.#now = now;
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#key).update(payload).digest('base64url');
  }

  #seal(kind: 't' | 'c', grant: ServiceGrant, ttlMs: number, nonce = ''): string {
    for (const value of [grant.session, grant.service]) if (!fieldPattern.test(value)) throw new Error(`invalid grant field ${value}`);
    if (grant.learner !== '' && !fieldPattern.test(grant.learner)) throw new Error('invalid learner');
    const payload = [kind, grant.session, grant.service, grant.learner, String(this.#now() + ttlMs), nonce].join('.');
    return `${payload}.${this.#mac(payload)}`;
  }

  #open(kind: 't' | 'c', value: unknown): (ServiceGrant & { expires: number; nonce: string }) | undefined {
    if (typeof value !== 'string' || value.length > 512) return undefined;
    const parts = value.split('.');
    if (parts.length !== 7 || parts[0] !== kind) return undefined;
    const mac = Buffer.from(parts[6]!);
    const expected = Buffer.from(this.#mac(parts.slice(0, 6).join('.')));
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
    const expires = Number(parts[4]);
    if (!Number.isSafeInteger(expires) || expires <= this.#now()) return undefined;
    return { session: parts[1]!, service: parts[2]!, learner: parts[3]!, expires, nonce: parts[5]! };
  }

  /** A ticket for the dock to open the service with. */
  ticket(grant: ServiceGrant): string {
    return this.#seal('t', grant, ticketTtlMs, randomBytes(12).toString('base64url'));
  }

  /** The grant of a valid ticket never traded before; undefined otherwise (and it is spent now). */
  redeem(ticket: unknown): ServiceGrant | undefined {
    const opened = this.#open('t', ticket);
    if (!opened) return undefined;
    const now = this.#now();
    if (this.#used.has(opened.nonce)) return undefined;
    if (this.#used.size >= maxUsedTickets) {
      for (const [nonce, expires] of this.#used) if (expires <= now) this.#used.delete(nonce);
      // Still full of live tickets: refuse rather than forget one (it could then be replayed).
      if (this.#used.size >= maxUsedTickets) return undefined;
    }
    this.#used.set(opened.nonce, opened.expires);
    return { session: opened.session, service: opened.service, learner: opened.learner };
  }

  /** The service origin's cookie value for a redeemed grant. */
  cookie(grant: ServiceGrant): string {
    return this.#seal('c', grant, grantTtlMs);
  }

  /** The grant a cookie value carries, if it is one of ours and has not expired. */
  grantOf(cookie: unknown): ServiceGrant | undefined {
    const opened = this.#open('c', cookie);
    return opened ? { session: opened.session, service: opened.service, learner: opened.learner } : undefined;
  }
}
