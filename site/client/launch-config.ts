/**
 * The launch card's "Configure" panel, mirroring the datalab's launch form: resources within the
 * lab's caps, a repository of the learner's forge to clone at start, a secret group to inject.
 */
import { api } from './api.ts';
import { formatBytes, h } from './dom.ts';
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
    const select = (name: string, label: string, options: [string, string][]) =>
      h('label', {}, label, h('select', { name }, options.map(([value, text]) => h('option', { value }, text))));
    const cpuChoices = fractions.map((f) => Math.round(this.#cpu * f * 100) / 100).filter((v, i, all) => v > 0 && all.indexOf(v) === i);
    const memoryChoices = fractions.map((f) => Math.floor(this.#memory * f)).filter((v, i, all) => v > 0 && all.indexOf(v) === i);
    this.#form.replaceChildren(
      h('fieldset', {}, h('legend', {}, t('configure.resources')),
        select('cpu', t('configure.cpu'), cpuChoices.map((v) => [String(v), `${v} (${t('configure.maximum')})`])),
        select('memory', t('configure.memory'), memoryChoices.map((v) => [String(v), `${formatBytes(v, language)} (${t('configure.maximum')})`])),
      ),
      select('repository', t('configure.repository'), [['', t('configure.noRepository')], ...repos.repos.map(({ name }): [string, string] => [name, name])]),
      select('secrets', t('configure.secrets'), [['', t('configure.noSecrets')], ...secrets.groups.map(({ group }): [string, string] => [group, group])]),
    );
  }

  choices(): LaunchChoices {
    if (!this.#loaded) return {};
    const value = (name: string) => this.#form.querySelector<HTMLSelectElement>(`select[name="${name}"]`)?.value ?? '';
    const cpu = Number(value('cpu'));
    const memory = Number(value('memory'));
    return {
      resources: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) },
      ...(value('repository') ? { repository: value('repository') } : {}),
      ...(value('secrets') ? { secrets: value('secrets') } : {}),
    };
  }
}
