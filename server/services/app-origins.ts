/**
 * Each lab service has an origin of its own, `<service>-<appId>.<apps domain>`, on the lab
 * server's port: what runs in a notebook runs there, never on the platform's origin (where the
 * learner cookie and the API live), nor on another lab's. On one machine the domain is
 * `apps.atelier.localhost` (browsers resolve every `*.localhost` to the machine itself); a school
 * sets ATELIER_APPS_ORIGIN to a wildcard name under the platform's host, e.g.
 * `https://*.apps.atelier.example` for `https://atelier.example`.
 *
 * Under the platform's host, a service is another origin of the same site: browsers let it keep
 * cookies and storage inside the dock's frame. Of another site (the platform reached as bare
 * `localhost`, whose every subdomain is a site of its own), they refuse its storage in a frame
 * (JupyterLab then cannot start), so the dock opens it in a tab of its own: see framedFor().
 */
import { isOpenable, type OpenableKind } from './catalog.ts';
import { serviceKinds } from '../labs/schema.ts';

/** A lab's app id: 16 letters of lower-case base32 (Sessions makes them). */
const appIdPattern = /^[a-z2-7]{16}$/;

export class AppOrigins {
  readonly #protocol: string;
  /** `.apps.localhost:4321`: what every service host ends with. */
  readonly #suffix: string;

  /** `pattern`: `http(s)://*.domain[:port]` (config.ts validated it). */
  constructor(pattern: string) {
    const match = /^(https?):\/\/\*(\.[^/]+)$/.exec(pattern);
    if (!match) throw new Error(`invalid apps origin ${pattern}: expected http(s)://*.domain[:port]`);
    this.#protocol = match[1]!;
    this.#suffix = match[2]!.toLowerCase();
  }

  get secure(): boolean {
    return this.#protocol === 'https';
  }

  /** For Content-Security-Policy's frame-src: every service origin at once. */
  get pattern(): string {
    return `${this.#protocol}://*${this.#suffix}`;
  }

  /**
   * Whether a page of the platform served at `host` (a Host header) can frame the services: their
   * domain is under its host name, which is itself a registrable name (not a bare `localhost`).
   */
  framedFor(host: string | undefined): boolean {
    const hostname = host?.toLowerCase().replace(/:\d+$/, '');
    if (!hostname || !hostname.includes('.')) return false;
    return this.#suffix.replace(/:\d+$/, '').endsWith(`.${hostname}`);
  }

  origin(appId: string, kind: OpenableKind): string {
    return `${this.#protocol}://${kind}-${appId}${this.#suffix}`;
  }

  /** The lab and service a Host header names; undefined when it is not a service host. */
  parse(host: string | undefined): { appId: string; kind: OpenableKind } | undefined {
    if (!host || host.length > 255 || !host.endsWith(this.#suffix)) return undefined;
    const label = host.slice(0, -this.#suffix.length);
    const dash = label.lastIndexOf('-');
    if (dash <= 0) return undefined;
    const kind = label.slice(0, dash);
    const appId = label.slice(dash + 1);
    if (!(serviceKinds as readonly string[]).includes(kind) || !isOpenable(kind as never) || !appIdPattern.test(appId)) return undefined;
    return { appId, kind: kind as OpenableKind };
  }
}
