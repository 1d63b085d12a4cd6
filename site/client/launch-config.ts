/**
 * The launch card's "Configure" panel, mirroring the datalab's launch form: resources within the
 * lab's caps, a repository of the learner's forge to clone at start, a secret group to inject.
 * The local driver enforces resources as cgroup maximums (cpu.max, memory.max), not reservations,
 * so the panel offers caps ("up to 1 core") and says that nothing is reserved.
 */
import { api } from './api.ts';
import { formatBytes, h } from './dom.ts';
import { cores } from './resource-words.ts';
import { pageLanguage, t } from './strings.ts';

export interface LaunchChoices {
  resources?: { cpu?: number; memory?: number };
  repository?: string;
  secrets?: string;
}

const fractions = [1, 0.5, 0.25];

export class LaunchConfig {
  readonly #form: HTMLElement;
  readonly #cpu: number;
  readonly #memory: number;
  #loaded = false;

  constructor(form: HTMLElement, caps: { cpu: number; memory: number }) {
    this.#form = form;
    this.#cpu = caps.cpu;
    this.#memory = caps.memory;
  }

  /** Fills the form the first time the panel opens: the learner's repositories and secret groups. */
  async load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    const language = pageLanguage();
    const [repos, secrets] = await Promise.all([
      api<{ repos: { name: string }[] }>('GET', '/api/me/repos').catch(() => ({ repos: [] })),
      api<{ groups: { group: string }[] }>('GET', '/api/me/secrets').catch(() => ({ groups: [] })),
    ]);
    const distinct = (values: number[]) => values.filter((v, i, all) => v > 0 && all.indexOf(v) === i);
    // Steps of 0.05 core, rounded down: a 0.5-core lab offers 0.5, 0.25 and 0.1, not 0.125.
    const cpuChoices = distinct(fractions.map((f, i) => (i === 0 ? this.#cpu : Math.floor(this.#cpu * f * 20) / 20)));
    const memoryChoices = distinct(fractions.map((f) => Math.floor(this.#memory * f)));
    const hintId = `atelier-config-hint-${this.#form.closest('atelier-launch')?.getAttribute('data-lab') ?? 'lab'}`;
    this.#form.replaceChildren(
      radios('cpu', t('configure.cpu'), cpuChoices.map((v) => [String(v), t('configure.upTo', { value: cores(v, language) })]), hintId),
      radios('memory', t('configure.memory'), memoryChoices.map((v) => [String(v), t('configure.upTo', { value: formatBytes(v, language) })]), hintId),
      h('p', { id: hintId, class: 'atelier-config__hint' }, t('configure.capsHint')),
      select('repository', t('configure.repository'), [['', t('configure.noRepository')], ...repos.repos.map(({ name }): [string, string] => [name, name])]),
      select('secrets', t('configure.secrets'), [['', t('configure.noSecrets')], ...secrets.groups.map(({ group }): [string, string] => [group, group])]),
    );
  }

  choices(): LaunchChoices {
    if (!this.#loaded) return {};
    const value = (name: string) =>
      this.#form.querySelector<HTMLInputElement | HTMLSelectElement>(`input[name="${name}"]:checked, select[name="${name}"]`)?.value ?? '';
    const cpu = Number(value('cpu'));
    const memory = Number(value('memory'));
    return {
      resources: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) },
      ...(value('repository') ? { repository: value('repository') } : {}),
      ...(value('secrets') ? { secrets: value('secrets') } : {}),
    };
  }
}

/** One resource as a group of radio buttons (a fieldset and its legend), the lab's cap first. */
function radios(name: string, legend: string, options: [string, string][], hintId: string): HTMLFieldSetElement {
  return h(
    'fieldset',
    { 'aria-describedby': hintId },
    h('legend', {}, legend),
    options.map(([value, text], index) => h('label', {}, h('input', { type: 'radio', name, value, checked: index === 0 }), text)),
  );
}

function select(name: string, label: string, options: [string, string][]): HTMLLabelElement {
  return h('label', { class: 'atelier-config__field' }, label, h('select', { name }, options.map(([value, text]) => h('option', { value }, text))));
}
