/**
 * Each lab service has an origin of its own, `<service>-<appId>.<apps domain>`, on the lab
 * server's port: what runs in a notebook runs there, never on the platform's origin (where the
 * learner cookie and the API live), nor on another lab's. On one machine the domain is
 * `apps.localhost` (browsers resolve every `*.localhost` to the machine itself); a school sets
 * ATELIER_APPS_ORIGIN to a wildcard name under the platform's own site, e.g.
 * `https://*.apps.atelier.example` (the service's cookie must be first-party inside the dock's frame).
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
