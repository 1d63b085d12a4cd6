/**
 * The dock's Monitoring tab (the datalab's "Surveillance externe"): the lab's CPU and memory
 * against its limits, from GET /api/labs/:id/usage. Two meters (role="meter", said in words,
 * "near the limit" past 90 %) and a sparkline of the last minute each. It polls every 2 s, and
 * only while its panel is shown and the page is visible: a hidden tab or a background page
 * costs the server nothing.
 */
import { api, ApiError } from './api.ts';
import { h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';
import { cpuWords, memoryWords, nearLimitRatio, share } from './usage-words.ts';

const pollMs = 2_000;
const historyMs = 60_000;
const svgNs = 'http://www.w3.org/2000/svg';
/** The sparkline's drawing box: one unit per second across, the share of the limit up. */
const sparkWidth = 60;
const sparkHeight = 20;
/** Answers after which polling would only repeat the same refusal. */
const finalCodes = new Set(['lab_gone', 'usage_unavailable', 'unauthorized', 'forbidden']);

/** GET /api/labs/:id/usage (server/http/labs.ts). */
export interface LabUsage {
  cpu: { used: number; limit: number };
  memory: { used: number; limit: number };
  at: number;
}

export interface MonitoringOptions {
  /** The lab session's id. */
  labId: string;
  /** The lab's token (Authorization: Bearer); without one the owner's cookie authorizes. */
  token?: string;
}

type Kind = 'cpu' | 'memory';

interface Meter {
  element: HTMLElement;
  bar: HTMLElement;
  fill: HTMLElement;
  value: HTMLElement;
  line: SVGPolylineElement;
}

let instances = 0;

export class Monitoring {
  readonly #root: HTMLElement;
  readonly #path: string;
  readonly #token: string | undefined;
  readonly #meters: Record<Kind, Meter>;
  readonly #status: HTMLElement;
  readonly #history: LabUsage[] = [];
  readonly #onVisibility = () => (document.visibilityState === 'visible' ? this.#resume() : this.#pause());
  readonly #onSwap = () => this.#relabel();
  #shown = false;
  #disposed = false;
  /** Set after a final refusal: nothing more to ask. */
  #ended = false;
  #polling = false;
  #timer: number | undefined;

  constructor(container: HTMLElement, options: MonitoringOptions) {
    this.#root = container;
    this.#path = `/api/labs/${encodeURIComponent(options.labId)}/usage`;
    this.#token = options.token;
    const prefix = `atelier-monitoring-${++instances}`;
    this.#status = h('p', { class: 'atelier-monitoring__status', role: 'status' });
    this.#meters = { cpu: this.#meter(`${prefix}-cpu`, 'monitoring.cpu'), memory: this.#meter(`${prefix}-memory`, 'monitoring.memory') };
    container.replaceChildren(
      h(
        'div',
        { class: 'atelier-monitoring' },
        this.#meters.cpu.element,
        this.#meters.memory.element,
        h('p', { class: 'atelier-monitoring__note', 'data-i18n': 'monitoring.every' }),
        this.#status,
      ),
    );
    this.#relabel();
    document.addEventListener('visibilitychange', this.#onVisibility);
    // A client-side switch of language: the words again, from the new page's strings.
    document.addEventListener('astro:after-swap', this.#onSwap);
  }

  /** Its panel is shown: read now, then every 2 s while the page is visible. */
  show(): void {
    this.#shown = true;
    this.#resume();
  }

  /** Its panel is hidden: no more readings until shown again. */
  hide(): void {
    this.#shown = false;
    this.#pause();
  }

  dispose(): void {
    this.#disposed = true;
    this.#pause();
    document.removeEventListener('visibilitychange', this.#onVisibility);
    document.removeEventListener('astro:after-swap', this.#onSwap);
    this.#root.replaceChildren();
  }

  #meter(id: string, label: string): Meter {
    const value = h('span', { class: 'atelier-monitoring__value', 'aria-hidden': 'true' });
    const fill = h('span', { class: 'atelier-monitoring__fill' });
    const bar = h('div', { class: 'atelier-monitoring__bar', role: 'meter', 'aria-labelledby': id, 'aria-valuemin': '0' }, fill);
    const svg = document.createElementNS(svgNs, 'svg');
    svg.setAttribute('class', 'atelier-monitoring__spark');
    svg.setAttribute('viewBox', `0 0 ${sparkWidth} ${sparkHeight}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const line = document.createElementNS(svgNs, 'polyline');
    line.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.append(line);
    const element = h(
      'div',
      { class: 'atelier-monitoring__meter' },
      h('div', { class: 'atelier-monitoring__head' }, h('span', { id, class: 'atelier-monitoring__label', 'data-i18n': label }), value),
      bar,
      svg,
    );
    return { element, bar, fill, value, line };
  }

  #active(): boolean {
    return this.#shown && !this.#disposed && !this.#ended && document.visibilityState === 'visible';
  }

  #resume(): void {
    if (this.#active() && !this.#polling && this.#timer === undefined) void this.#poll();
  }

  #pause(): void {
    window.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #poll(): Promise<void> {
    this.#polling = true;
    try {
      const usage = await api<LabUsage>('GET', this.#path, { token: this.#token });
      if (this.#disposed) return;
      this.#record(usage);
      this.#render();
      this.#status.textContent = '';
    } catch (error) {
      if (this.#disposed) return;
      const code = error instanceof ApiError ? error.code : 'internal';
      if (finalCodes.has(code)) this.#ended = true;
      const last = this.#history.at(-1);
      // Readings shown with an error are old ones: say from when.
      const since = last && !this.#ended ? ` ${t('monitoring.stale', { time: new Date(last.at).toLocaleTimeString(pageLanguage()) })}` : '';
      this.#status.textContent = `${(error as Error).message}${since}`;
    } finally {
      this.#polling = false;
    }
    if (this.#active()) {
      this.#timer = window.setTimeout(() => {
        this.#timer = undefined;
        void this.#poll();
      }, pollMs);
    }
  }

  #record(usage: LabUsage): void {
    this.#history.push(usage);
    while (this.#history.length > 0 && this.#history[0]!.at < usage.at - historyMs) this.#history.shift();
  }

  /** The fixed words in the page's language, and the last reading's. */
  #relabel(): void {
    for (const element of this.#root.querySelectorAll<HTMLElement>('[data-i18n]')) element.textContent = t(element.dataset.i18n!);
    this.#render();
  }

  #render(): void {
    const last = this.#history.at(-1);
    const language = pageLanguage();
    for (const kind of ['cpu', 'memory'] as const) {
      const meter = this.#meters[kind];
      if (!last) {
        meter.value.textContent = t('monitoring.measuring');
        meter.bar.setAttribute('aria-valuetext', t('monitoring.measuring'));
        continue;
      }
      const { used, limit } = last[kind];
      const words = kind === 'cpu' ? cpuWords(used, limit, language, t) : memoryWords(used, limit, language, t);
      const ratio = share(used, limit);
      meter.value.textContent = words;
      meter.bar.setAttribute('aria-valuemax', String(limit));
      meter.bar.setAttribute('aria-valuenow', String(Math.min(used, limit)));
      meter.bar.setAttribute('aria-valuetext', words);
      meter.bar.toggleAttribute('data-high', ratio > nearLimitRatio);
      meter.fill.style.inlineSize = `${(ratio * 100).toFixed(1)}%`;
      meter.line.setAttribute('points', this.#spark(kind, last.at));
    }
  }

  /** The last minute of one meter as polyline points, the newest at the right edge. */
  #spark(kind: Kind, now: number): string {
    return this.#history
      .map((usage) => {
        const x = sparkWidth - ((now - usage.at) / historyMs) * sparkWidth;
        const y = sparkHeight - share(usage[kind].used, usage[kind].limit) * (sparkHeight - 1) - 0.5;
        return `${x.toFixed(2)},${y.toFixed(2)}`;
      })
      .join(' ');
  }
}
