/**
 * A real OpenID provider for the tests: panva's oidc-provider on loopback, its own login and
 * consent pages (any login name is that person's subject), with the claims of the people below,
 * a confidential client registered for one lab server's origin, PKCE required, RP-initiated
 * logout on. `Browser` plays a browser against it and the lab server by real HTTP: one cookie
 * jar per host, redirects followed, the provider's forms submitted as a person would.
 */
import { createServer, type Server } from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from './server-process.ts';

export interface Person {
  name: string;
  email: string;
  groups: string[];
}

export const people: Record<string, Person> = {
  ada: { name: 'Ada Lovelace', email: 'ada@school.example', groups: ['students'] },
  grace: { name: 'Grace Hopper', email: 'grace@school.example', groups: ['staff', 'trainers'] },
  linus: { name: 'Linus', email: 'linus@school.example', groups: ['students'] },
};

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  provider: Provider;
  stop(): Promise<void>;
}

export { freePort };

/** Starts the provider for the lab server at `origin` (its /auth/callback and its pages after logout), on `port` if given. */
export async function startProvider(origin: string, port?: number): Promise<TestProvider> {
  port ??= await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = 'atelier';
  const clientSecret = 'atelier-test-secret-0123456789abcdef';
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [`${origin}/auth/callback`],
        post_logout_redirect_uris: [`${origin}/fr/`, `${origin}/en/`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
      },
    ],
    findAccount: async (_ctx, id) => {
      const person = people[id];
      if (!person) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...person }) };
    },
    claims: { openid: ['sub'], profile: ['name'], email: ['email'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'email', 'groups'],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    cookies: { keys: ['test-provider-cookie-key-0123456789'] },
  });
  // Its warnings about development settings say nothing a test needs.
  provider.on('server_error', (_ctx, error) => process.stderr.write(`oidc-provider: ${String(error)}\n`));
  const server: Server = createServer(provider.callback());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer,
    clientId,
    clientSecret,
    provider,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface Page {
  url: string;
  status: number;
  headers: Headers;
  text: string;
}

/** A browser: cookies per host (as Set-Cookie set them, expiry aside), manual redirects. */
export class Browser {
  readonly jars = new Map<string, Map<string, string>>();
  /** Headers sent to a host besides the request's own (a TLS-terminating proxy's X-Forwarded-Proto). */
  readonly headersFor = new Map<string, Record<string, string>>();

  cookies(url: string): Map<string, string> {
    const host = new URL(url).host;
    let jar = this.jars.get(host);
    if (!jar) this.jars.set(host, (jar = new Map()));
    return jar;
  }

  cookie(url: string, name: string): string | undefined {
    return this.cookies(url).get(name);
  }

  async request(url: string, init: { method?: string; form?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {}): Promise<Page> {
    const jar = this.cookies(url);
    const headers: Record<string, string> = { ...this.headersFor.get(new URL(url).host), ...init.headers };
    if (jar.size > 0) headers.cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    } else if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    const response = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, ...value] = pair!.trim().split('=');
      const gone = attributes.some((attribute) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(attribute));
      if (gone || value.join('=') === '') jar.delete(name!);
      else jar.set(name!, value.join('='));
    }
    return { url, status: response.status, headers: response.headers, text: await response.text() };
  }

  /** Follows redirects from `url`, but not to a URL `stop` matches; the last page. */
  async follow(url: string, init: Parameters<Browser['request']>[1] = {}, pages: Page[] = [], stop: (url: string) => boolean = () => false): Promise<Page> {
    let page = await this.request(url, init);
    pages.push(page);
    while (page.status >= 300 && page.status < 400 && page.headers.get('location')) {
      const next = new URL(page.headers.get('location')!, page.url).href;
      if (stop(next)) break;
      page = await this.request(next);
      pages.push(page);
    }
    return page;
  }

  /**
   * Signs `login` in at the provider from a page of it (its login form, then its consent form),
   * up to the page the lab server sends back to; every page seen is pushed on `pages`.
   */
  async completeProviderPages(page: Page, login: string, pages: Page[] = [], stop?: (url: string) => boolean): Promise<Page> {
    for (let forms = 0; forms < 4 && page.status === 200 && /<form/.test(page.text); forms += 1) {
      const form = parseForm(page);
      if (form.fields.prompt === 'login') Object.assign(form.fields, { login, password: 'any' });
      page = await this.follow(form.action, { form: form.fields }, pages, stop);
    }
    return page;
  }

  /** /auth/login of the lab server through the provider's pages, back at the lab server. */
  async signIn(server: string, login: string, returnTo = '/fr/', pages: Page[] = []): Promise<Page> {
    const page = await this.follow(`${server}/auth/login?return=${encodeURIComponent(returnTo)}`, {}, pages);
    return this.completeProviderPages(page, login, pages);
  }

  /** As signIn, up to the provider's redirect to the lab server's callback: that URL, not followed. */
  async callbackOf(server: string, login: string, returnTo = '/fr/'): Promise<string> {
    const isCallback = (url: string) => url.startsWith(`${server}/auth/callback`);
    let page = await this.follow(`${server}/auth/login?return=${encodeURIComponent(returnTo)}`, {}, [], isCallback);
    page = await this.completeProviderPages(page, login, [], isCallback);
    const location = page.headers.get('location');
    if (!location || !isCallback(new URL(location, page.url).href)) throw new Error(`the provider did not send back to ${server}: ${page.status} ${page.url}`);
    return new URL(location, page.url).href;
  }
}

/** The first form of a page: its action (absolute) and its fields. */
export function parseForm(page: Page): { action: string; fields: Record<string, string> } {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/.exec(page.text);
  if (!form) throw new Error(`no form on ${page.url}: ${page.text.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const input of form[2]!.matchAll(/<input[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(input[0])?.[1];
    if (name) fields[name] = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
  }
  return { action: new URL(form[1]!.replaceAll('&amp;', '&'), page.url).href, fields };
}
