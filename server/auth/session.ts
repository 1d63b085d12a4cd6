/**
 * The signed-in state of a browser: beside the learner cookie, a signed `atelier_account` cookie
 * naming the same learner and when the sign-in ends. Both are session cookies once signed in
 * (no Max-Age: a school PC's browser closed is signed out), and the signed-in state ends after
 * `signedInMs` even in a browser that keeps its session open or restores it (a PC left on at
 * the end of the day). A learner with an account is theirs only with this cookie: the learner
 * cookie alone (left over, or copied) makes a new anonymous visitor.
 * On https, the sign-in's cookies carry the `__Host-` prefix: browsers then take them from this
 * host only, so a page of a sibling origin (a lab's service runs learner code on
 * `*.apps.<domain>`) cannot toss its own signed sign-in into this site's jar (login CSRF).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export const accountCookie = 'atelier_account';
/** A school day. */
export const signedInMs = 12 * 3600_000;

/** `name`, with the `__Host-` prefix on https (which requires Secure, Path=/ and no Domain). */
export function hostCookie(request: FastifyRequest, name: string): string {
  return request.protocol === 'https' ? `__Host-${name}` : name;
}

const cookieOptions = (request: FastifyRequest) => ({ signed: true, httpOnly: true, sameSite: 'lax' as const, secure: request.protocol === 'https', path: '/' });

export interface SignedIn {
  learnerId: string;
  /** The trainer claim as this sign-in found it. */
  trainer: boolean;
  name: string;
}

export function setSignedIn(request: FastifyRequest, reply: FastifyReply, learnerCookie: string, signedIn: SignedIn, now = Date.now()): void {
  void reply.setCookie(learnerCookie, signedIn.learnerId, cookieOptions(request));
  const value = [signedIn.learnerId, now + signedInMs, signedIn.trainer ? 1 : 0, Buffer.from(signedIn.name).toString('base64url')].join('.');
  void reply.setCookie(hostCookie(request, accountCookie), value, cookieOptions(request));
}

export function clearSignedIn(request: FastifyRequest, reply: FastifyReply, learnerCookie: string): void {
  for (const name of [learnerCookie, hostCookie(request, accountCookie)]) void reply.clearCookie(name, cookieOptions(request));
}

/** The request's sign-in, if its account cookie's signature holds and it has not ended. */
export function signedIn(request: FastifyRequest, now = Date.now()): SignedIn | undefined {
  return readAccountCookie(request.cookies[hostCookie(request, accountCookie)], (value) => request.unsignCookie(value), now);
}

/** The sign-in an account cookie's value says (also read from a socket's handshake). */
export function readAccountCookie(raw: string | undefined, unsign: (value: string) => { valid: boolean; value: string | null }, now = Date.now()): SignedIn | undefined {
  if (!raw) return undefined;
  const { valid, value } = unsign(raw);
  if (!valid || !value) return undefined;
  const [learnerId, expires, trainer, name] = value.split('.');
  if (!learnerId || !(Number(expires) > now) || name === undefined) return undefined;
  return { learnerId, trainer: trainer === '1', name: Buffer.from(name, 'base64url').toString() };
}

export function signedInAs(request: FastifyRequest, learnerId: string): boolean {
  return signedIn(request)?.learnerId === learnerId;
}
