/**
 * Basic auth as forges take a personal access token: the token is the password (any user name),
 * or the user name with an empty password (what `https://TOKEN@host/…` ends up sending).
 */
import type { IncomingMessage } from 'node:http';

export interface ForgeIdentity {
  learnerId: string;
}

export interface ForgeAuthenticator {
  /** The learner whose personal access token this is, or undefined (from the learner store, hence maybe a promise). */
  byToken(token: string): ForgeIdentity | undefined | Promise<ForgeIdentity | undefined>;
}

export const authRealm = 'Atelier forge';

export interface BasicCredentials {
  user: string;
  password: string;
}

/** `Authorization: Basic …` → user and password; undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): BasicCredentials | undefined {
  if (!header) return undefined;
  const match = /^Basic +([A-Za-z0-9+/=_-]+) *$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { user: decoded, password: '' };
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The token the credentials carry: the password, else the user name. */
export function tokenOf(credentials: BasicCredentials): string | undefined {
  const token = credentials.password !== '' ? credentials.password : credentials.user;
  return token !== '' && token.length <= 1024 ? token : undefined;
}

/** The learner a request authenticates as, or undefined. */
export async function authenticate(req: IncomingMessage, auth: ForgeAuthenticator): Promise<ForgeIdentity | undefined> {
  const credentials = parseBasicAuth(req.headers.authorization);
  if (!credentials) return undefined;
  const token = tokenOf(credentials);
  if (!token) return undefined;
  // A user name with a token as password: try the password; a token alone as user name: try it.
  return (await auth.byToken(token)) ?? (credentials.password !== '' && credentials.user !== '' ? auth.byToken(credentials.user) : undefined);
}
