/**
 * The lab's note, as a datalab service's README: where the work goes, until when the lab runs,
 * what it may use and what was set up in it for the learner. How the caps are enforced is for
 * trainers, in a closed <details>.
 */
import { api } from './api.ts';
import type { Me } from './account.ts';
import { copyable, formatBytes, h } from './dom.ts';
import { storedSession } from './lab-session.ts';
import { cores } from './resource-words.ts';
import { pageLanguage, t } from './strings.ts';

export interface LabView {
  lab: string;
  expiresAt: string;
  maxExpiresAt?: string;
  configured: { repository?: string; secrets?: string; service?: string };
  /** The service's password (its login page asks for it). */
  servicePassword?: string;
  limits: {
    resources: { cpu: number; memory: number; disk: number; pids: number };
    enforced: { cpu: boolean; memory: boolean; disk: boolean; mechanisms: string[] } | null;
  };
}

/** One refresh of the end time per note body, however many labs it showed. */
const refreshes = new WeakMap<HTMLElement, AbortController>();

export async function renderNote(body: HTMLElement, lab: LabView, workspace: string): Promise<void> {
  const me = await api<Me>('GET', '/api/me').catch(() => undefined);
  const language = pageLanguage();
  // "Add time" moves the end (the dock saves it with the session): say the current one when the note opens.
  const endsAt = h('span', {}, ends(lab, language));
  refreshes.get(body)?.abort();
  const refresh = new AbortController();
  refreshes.set(body, refresh);
  body.closest('details')?.addEventListener(
    'toggle',
    () => (endsAt.textContent = ends({ ...lab, expiresAt: storedSession(lab.lab)?.expiresAt ?? lab.expiresAt }, language)),
    { signal: refresh.signal },
  );
  const copy = (value: string) => copyable(value, t('account.copy'), t('account.copied'));
  const row = (term: string, value: Node | string) => [h('dt', {}, term), h('dd', {}, value)];
  const { resources, enforced } = lab.limits;
  body.replaceChildren(
    h('p', { class: 'atelier-note__warning' }, t('note.workspace', { path: workspace })),
    h(
      'dl',
      { class: 'atelier-dl' },
      lab.configured.service ? row(t('note.service'), t(`catalog.${lab.configured.service}.name`)) : [],
      // As a datalab's note: who the service runs as (the workspace's owner), and its password.
      lab.servicePassword ? row(t('note.user'), h('code', {}, 'onyxia')) : [],
      lab.servicePassword ? row(t('note.password'), copy(lab.servicePassword)) : [],
      row(t('note.ends'), endsAt),
      row(t('note.resources'), resourceWords(lab.limits, language)),
      row(t('note.injected'), h('ul', {}, injected(me, lab).map((line) => h('li', {}, line)))),
      row(t('note.repository'), lab.configured.repository ?? t('note.none')),
      me ? row(t('note.forge'), copy(me.git.forgeUrl)) : [],
      me ? row(t('note.bucket'), copy(me.s3.bucket)) : [],
    ),
    enforced
      ? h(
          'details',
          { class: 'atelier-note__trainers' },
          h('summary', {}, t('note.trainers')),
          h('p', {}, t('note.limits', { mechanisms: enforced.mechanisms.join(', '), pids: new Intl.NumberFormat(language).format(resources.pids) })),
        )
      : '',
  );
}

function ends(lab: LabView, language: string): string {
  const clock = (iso: string) => new Intl.DateTimeFormat(language, { timeStyle: 'short' }).format(new Date(iso));
  const extendable = lab.maxExpiresAt !== undefined && new Date(lab.maxExpiresAt).getTime() > new Date(lab.expiresAt).getTime();
  return extendable
    ? t('note.endsValue', { time: clock(lab.expiresAt), max: clock(lab.maxExpiresAt!) })
    : t('note.endsValueFixed', { time: clock(lab.expiresAt) });
}

/** "up to 1 core, 512 MiB of memory, 1 GiB of files", naming any cap this server cannot enforce. */
function resourceWords({ resources, enforced }: LabView['limits'], language: string): string {
  const words = t('note.resourcesValue', {
    cpu: cores(resources.cpu, language),
    memory: formatBytes(resources.memory, language),
    disk: formatBytes(resources.disk, language),
  });
  const uncapped = [
    ...(enforced?.cpu ? [] : [t('note.cpuWord')]),
    ...(enforced?.memory ? [] : [t('note.memoryWord')]),
    ...(enforced?.disk ? [] : [t('note.diskWord')]),
  ];
  return uncapped.length ? `${words} (${t('note.notCapped', { what: uncapped.join(', ') })})` : words;
}

/** What every lab of the learner receives (server/learners: launch environment), in plain words. */
function injected(me: Me | undefined, lab: LabView): string[] {
  const git = me?.git.name && me.git.email ? t('note.injectedGit', { name: me.git.name, email: me.git.email }) : t('note.injectedGitUnset');
  return [
    git,
    ...(me?.git.hasToken ? [t('note.injectedToken')] : []),
    t('note.injectedS3'),
    ...(lab.configured.secrets ? [t('note.injectedSecrets', { group: lab.configured.secrets })] : []),
  ];
}
