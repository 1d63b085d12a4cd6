/** The lab's note, as a datalab service's README: where things are, what was configured. */
import { api } from './api.ts';
import type { Me } from './account.ts';
import { copyable, formatBytes, h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';

export interface LabView {
  lab: string;
  configured: { repository?: string; secrets?: string };
  limits: { resources: { cpu: number; memory: number }; enforced: { mechanisms: string[] } | null };
}

export async function renderNote(body: HTMLElement, lab: LabView, workspace: string): Promise<void> {
  const me = await api<Me>('GET', '/api/me').catch(() => undefined);
  const copy = (value: string) => copyable(value, t('account.copy'), t('account.copied'));
  const row = (term: string, value: Node | string) => [h('dt', {}, term), h('dd', {}, value)];
  const { resources, enforced } = lab.limits;
  body.replaceChildren(
    h('p', { class: 'atelier-note__warning' }, t('note.workspace', { path: workspace })),
    h(
      'dl',
      { class: 'atelier-dl' },
      me ? row(t('note.forge'), copy(me.git.forgeUrl)) : [],
      me ? row(t('note.bucket'), copy(me.s3.bucket)) : [],
      row(t('note.resources'), t('note.resourcesValue', { cpu: resources.cpu, memory: formatBytes(resources.memory, pageLanguage()) })),
      row(t('note.repository'), lab.configured.repository ?? t('note.none')),
      row(t('note.secrets'), lab.configured.secrets ?? t('note.none')),
    ),
    enforced ? h('p', {}, h('small', {}, t('note.limits', { mechanisms: enforced.mechanisms.join(', ') }))) : '',
  );
}
