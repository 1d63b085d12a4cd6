/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): `webhook-signature` is
 * `v1,` and the base64 HMAC-SHA256, under the secret's bytes, of `id.timestamp.body`. Signed
 * with node:crypto (native, constant work per byte) rather than the reference package, whose
 * HMAC is pure JavaScript: the tests verify with that package, an implementation not ours.
 */
import { createHmac } from 'node:crypto';

/** The spec's secrets: `whsec_` and the base64 of the key's bytes (24 to 64 of them). */
export const secretPrefix = 'whsec_';
export const minSecretBytes = 24;
export const maxSecretBytes = 64;

/** The key a `whsec_…` (or bare base64) secret holds; undefined when it is not one. */
export function decodeSecret(text: string): Buffer | undefined {
  const base64 = text.startsWith(secretPrefix) ? text.slice(secretPrefix.length) : text;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) return undefined;
  const key = Buffer.from(base64, 'base64');
  return key.length >= minSecretBytes && key.length <= maxSecretBytes ? key : undefined;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The three headers for one attempt at sending `body` (`timestamp` in seconds: each attempt signs anew). */
export function signWebhook(key: Buffer, id: string, timestamp: number, body: string): SignedHeaders {
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` };
}
