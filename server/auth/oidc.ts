/**
 * The school's OpenID Connect provider, through openid-client (certified relying party):
 * discovery when the server starts, retried until the provider answers (sign-in says it is
 * unavailable meanwhile, everything else works as without it); the authorization code flow with
 * PKCE, state and nonce; the claims of a signed-in person; RP-initiated logout.
 */
import * as client from 'openid-client';
import type { OidcSettings } from '../config.ts';

/** What one sign-in needs to remember between the redirect to the provider and its callback. */
export interface Transaction {
  verifier: string;
  state: string;
  nonce: string;
  /** A same-origin path to go back to. */
  returnTo: string;
}

export interface SignedInPerson {
  issuer: string;
  subject: string;
  name: string;
  email: string;
  /** Every claim of the ID token and userinfo, for the trainer rule. */
  claims: Record<string, unknown>;
}

const firstRetryMs = 1000;
const maxRetryMs = 60_000;

export class OidcClient {
  readonly #settings: OidcSettings;
  readonly #log: (message: string, error?: unknown) => void;
  #config: client.Configuration | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(settings: OidcSettings, log: (message: string, error?: unknown) => void) {
    this.#settings = settings;
    this.#log = log;
    void this.#discover(firstRetryMs);
  }

  get ready(): boolean {
    return this.#config !== undefined;
  }

  async #discover(nextDelayMs: number): Promise<void> {
    const issuer = new URL(this.#settings.issuer);
    // config.ts allows plain HTTP for a provider on this machine only.
    try {
      this.#config = await client.discovery(
        issuer,
        this.#settings.clientId,
        this.#settings.clientSecret,
        this.#settings.clientSecret === undefined ? client.None() : undefined,
        { timeout: 10, ...(issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}) },
      );
    } catch (error) {
      if (this.#closed) return;
      this.#log(`OpenID Connect discovery at ${this.#settings.issuer} failed, sign-in unavailable; retrying in ${nextDelayMs / 1000} s`, error);
      this.#timer = setTimeout(() => void this.#discover(Math.min(nextDelayMs * 2, maxRetryMs)), nextDelayMs);
      this.#timer.unref();
    }
  }

  #configuration(): client.Configuration {
    if (!this.#config) throw new ProviderUnavailable();
    return this.#config;
  }

  /** The provider's authorization URL for a new transaction, and the transaction to keep. */
  async start(redirectUri: string, returnTo: string): Promise<{ url: URL; transaction: Transaction }> {
    const config = this.#configuration();
    const transaction: Transaction = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce(), returnTo };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.#settings.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(transaction.verifier),
      code_challenge_method: 'S256',
      state: transaction.state,
      nonce: transaction.nonce,
    });
    return { url, transaction };
  }

  /**
   * The person the callback at `callbackUrl` (the configured origin's, never one built from
   * Host) signs in, checked against the transaction: state, PKCE verifier, nonce, ID token.
   */
  async finish(callbackUrl: URL, transaction: Transaction): Promise<SignedInPerson> {
    const config = this.#configuration();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: transaction.verifier,
      expectedState: transaction.state,
      expectedNonce: transaction.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims()!;
    let claims: Record<string, unknown> = { ...idClaims };
    // Groups and roles are often in userinfo only.
    if (config.serverMetadata().userinfo_endpoint) {
      claims = { ...(await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)), ...claims };
    }
    const text = (value: unknown) => (typeof value === 'string' ? value.slice(0, 200) : '');
    return {
      issuer: idClaims.iss,
      subject: idClaims.sub,
      name: text(claims.name) || text(claims.preferred_username),
      email: text(claims.email),
      claims,
    };
  }

  /** Whether the claims make the person a trainer (ATELIER_OIDC_TRAINER_CLAIM); false without the rule. */
  isTrainer(claims: Record<string, unknown>): boolean {
    const rule = this.#settings.trainer;
    if (!rule) return false;
    let value: unknown = claims;
    for (const part of rule.claim) value = value !== null && typeof value === 'object' && Object.hasOwn(value, part) ? (value as Record<string, unknown>)[part] : undefined;
    return Array.isArray(value) ? value.includes(rule.value) : value === rule.value;
  }

  /** Where to send the browser to sign out at the provider too; undefined when it has no end_session_endpoint. */
  endSessionUrl(postLogoutRedirectUri: string): URL | undefined {
    const config = this.#config;
    if (!config?.serverMetadata().end_session_endpoint) return undefined;
    return client.buildEndSessionUrl(config, { client_id: this.#settings.clientId, post_logout_redirect_uri: postLogoutRedirectUri });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}

export class ProviderUnavailable extends Error {
  constructor() {
    super('the OpenID Connect provider has not answered discovery yet');
    this.name = 'ProviderUnavailable';
  }
}
