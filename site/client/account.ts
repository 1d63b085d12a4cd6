import { api } from './api.ts';
import { copyButton, copyable, formatDate, h, revealToggle } from './dom.ts';
import { pageLanguage, t } from './strings.ts';
import { authState, signInLink, signOutButton, type AuthState } from './sign-in.ts';

export interface Me {
  learner: { id: string };
  git: { name: string; email: string; forgeUrl: string; hasToken?: boolean };
  s3: S3Connection & { rotatable?: boolean };
}

type S3Connection = { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string; sessionToken: string; expiresAt: string };

/** <atelier-account>: the learner's Git settings, personal access token and S3 connection. */
class AtelierAccount extends HTMLElement {
  #auth: AuthState | undefined;

  async connectedCallback(): Promise<void> {
    try {
      const [me, auth] = await Promise.all([api<Me>('GET', '/api/me'), authState()]);
      this.#auth = auth;
      this.#render(me);
    } catch (error) {
      this.replaceChildren(h('p', { class: 'atelier-error', role: 'alert' }, (error as Error).message));
    }
  }

  #render(me: Me, notice?: string): void {
    const language = pageLanguage();
    const copy = (value: string, secretName?: string) =>
      copyable(
        value,
        t('account.copy'),
        t('account.copied'),
        secretName === undefined
          ? undefined
          : { reveal: t('account.reveal'), revealLabel: t('account.revealLabel', { name: secretName }), copyLabel: t('account.copyLabel', { name: secretName }), masked: t('account.masked') },
      );
    const status = h('span', { role: 'status', class: 'atelier-form__status' });
    const name = h('input', { name: 'name', value: me.git.name, autocomplete: 'name', maxlength: 100 });
    const email = h('input', { name: 'email', type: 'email', value: me.git.email, autocomplete: 'email', maxlength: 200 });
    const gitForm = h(
      'form',
      { class: 'atelier-form' },
      h('label', {}, t('account.gitName'), name),
      h('label', {}, t('account.gitEmail'), email),
      h('div', {}, h('button', { type: 'submit' }, t('account.save')), status),
    );
    gitForm.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!email.checkValidity()) return void (status.textContent = t('account.invalidEmail'));
      api('PUT', '/api/me/git', { body: { name: name.value.trim(), email: email.value.trim() } })
        .then(() => (status.textContent = t('account.saved')))
        .catch((error: Error) => (status.textContent = error.message));
    });

    const tokenOut = h('div', { class: 'atelier-token', role: 'status' }, me.git.hasToken ? t('account.tokenSet') : t('account.tokenNone'));
    const tokenButton = h('button', { type: 'button' }, t('account.tokenNew'));
    tokenButton.addEventListener('click', () => {
      if (me.git.hasToken && !window.confirm(t('account.tokenConfirm'))) return;
      api<{ token: string }>('POST', '/api/me/git/token')
        .then(({ token }) => {
          me.git.hasToken = true;
          tokenOut.replaceChildren(t('account.tokenShown'), ' ', copy(token, 'GIT_PERSONAL_ACCESS_TOKEN'));
        })
        .catch((error: Error) => tokenOut.replaceChildren(error.message));
    });

    const s3 = me.s3;
    const keysStatus = h('p', { role: 'status', class: 'atelier-form__status' }, notice ?? '');
    const keysButton = h('button', { type: 'button' }, t('account.s3KeysNew'));
    keysButton.addEventListener('click', () => {
      if (!window.confirm(t('account.s3KeysConfirm'))) return;
      api<{ s3: S3Connection }>('POST', '/api/me/s3/keys')
        .then((rotated) => this.#render({ ...me, s3: { ...rotated.s3, rotatable: true } }, t('account.s3KeysDone')))
        .catch((error: Error) => (keysStatus.textContent = error.message));
    });
    const envBlock = [
      `export AWS_ACCESS_KEY_ID=${s3.accessKeyId}`,
      `export AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`,
      `export AWS_SESSION_TOKEN=${s3.sessionToken}`,
      `export AWS_DEFAULT_REGION=${s3.region}`,
      `export AWS_S3_ENDPOINT=${s3.endpoint.replace(/^https?:\/\//, '')}`,
      // Keys from an STS may hold '/' or '+': percent-encoded, as mc reads them from a URL.
      `export MC_HOST_s3=${s3.endpoint.replace(/^(https?:\/\/)/, `$1${[s3.accessKeyId, s3.secretAccessKey, s3.sessionToken].map(encodeURIComponent).join(':')}@`)}`,
    ].join('\n');

    const card = (...children: (Node | Node[])[]) => h('section', { class: 'atelier-card' }, ...children);
    this.replaceChildren(
      ...(this.#auth?.enabled ? [schoolAccount(this.#auth)] : []),
      h('dl', { class: 'atelier-dl atelier-dl--inline' }, h('dt', {}, t('account.learnerId')), h('dd', {}, h('code', {}, me.learner.id))),
      card(
        h('h2', {}, t('account.gitTitle')),
        h('p', {}, t('account.gitIntro')),
        gitForm,
        h('dl', { class: 'atelier-dl' }, h('dt', {}, t('account.forgeUrl')), h('dd', {}, copy(me.git.forgeUrl))),
        h('h3', {}, t('account.tokenTitle')),
        h('p', {}, t('account.tokenIntro')),
        tokenOut,
        tokenButton,
      ),
      card(
        h('h2', {}, t('account.s3Title')),
        h('p', {}, t('account.s3Intro')),
        h(
          'dl',
          { class: 'atelier-dl' },
          h('dt', {}, t('account.s3Endpoint')), h('dd', {}, copy(s3.endpoint)),
          h('dt', {}, t('account.s3Region')), h('dd', {}, copy(s3.region)),
          h('dt', {}, t('account.s3Bucket')), h('dd', {}, copy(s3.bucket)),
          h('dt', {}, 'AWS_ACCESS_KEY_ID'), h('dd', {}, copy(s3.accessKeyId)),
          h('dt', {}, 'AWS_SECRET_ACCESS_KEY'), h('dd', {}, copy(s3.secretAccessKey, 'AWS_SECRET_ACCESS_KEY')),
          h('dt', {}, 'AWS_SESSION_TOKEN'), h('dd', {}, copy(s3.sessionToken, 'AWS_SESSION_TOKEN')),
      ),
      h('p', {}, t('account.s3Expires', { date: formatDate(s3.expiresAt, language) })),
      h('p', {}, t('account.s3Env')),
      secretBlock(envBlock, [s3.secretAccessKey, s3.sessionToken]),
      h('h3', {}, t('account.s3KeysTitle')),
      ...(s3.rotatable === false ? [h('p', {}, t('account.s3KeysFixed'))] : [h('p', {}, t('account.s3KeysIntro')), keysButton, keysStatus]),
      ),
    );
  }
}

/** Who is signed in (name and email from the school's provider), what the last sign-in brought in, and the way in or out. */
function schoolAccount(auth: AuthState): HTMLElement {
  const section = h('section', { class: 'atelier-card', 'aria-labelledby': 'atelier-school-account' }, h('h2', { id: 'atelier-school-account' }, t('signIn.accountTitle')));
  const account = auth.account;
  if (!account) {
    section.append(h('p', {}, t('signIn.anonymousIntro')), auth.available ? h('p', {}, signInLink()) : h('p', { role: 'status' }, t('signIn.signInUnavailable')));
    return section;
  }
  const status = h('p', { role: 'status', class: 'atelier-form__status' });
  section.append(
    h('p', {}, t('signIn.accountIntro')),
    h('dl', { class: 'atelier-dl' }, h('dt', {}, t('signIn.name')), h('dd', {}, account.name), h('dt', {}, t('signIn.email')), h('dd', {}, account.email)),
  );
  const report = account.mergeReport;
  if (report) {
    const names = (list: string[]) => list.join(', ');
    const renamed = [...report.repositories.renamed, ...report.objects.renamed].map(({ from, to }) => `${from} → ${to}`);
    const lines = [
      report.steps > 0 && t('signIn.mergedSteps', { count: report.steps }),
      report.secretGroups.length > 0 && t('signIn.mergedGroups', { names: names(report.secretGroups) }),
      report.secretGroupsKept.length > 0 && t('signIn.mergedKept', { names: names(report.secretGroupsKept) }),
      report.repositories.moved.length > 0 && t('signIn.mergedRepos', { names: names(report.repositories.moved) }),
      report.objects.moved > 0 && t('signIn.mergedObjects', { count: report.objects.moved }),
      report.classes > 0 && t('signIn.mergedClasses', { count: report.classes }),
      renamed.length > 0 && t('signIn.mergedRenamed', { names: names(renamed) }),
      report.objects.left.length > 0 && t('signIn.mergedLeft', { names: names(report.objects.left) }),
    ].filter((line): line is string => typeof line === 'string');
    if (lines.length > 0) section.append(h('h3', {}, t('signIn.mergedTitle')), h('ul', {}, ...lines.map((line) => h('li', {}, line))));
  }
  section.append(h('p', {}, t('signIn.signOutIntro')), signOutButton(status), status);
  return section;
}

/** The environment block, its secret values masked until revealed; copied whole either way. */
function secretBlock(text: string, secrets: string[]): HTMLElement {
  // MC_HOST_s3 carries them percent-encoded.
  const masked = secrets.flatMap((secret) => [secret, encodeURIComponent(secret)]).reduce((block, secret) => (secret ? block.replaceAll(secret, '•'.repeat(16)) : block), text);
  const pre = h('pre', { class: 'atelier-pre' }, masked);
  const name = 'export AWS_*';
  const reveal = revealToggle(t('account.reveal'), t('account.revealLabel', { name }), (shown) => (pre.textContent = shown ? text : masked));
  return h('div', { class: 'atelier-secret-block' }, pre, h('div', { class: 'atelier-secret-block__actions' }, reveal, copyButton(() => text, t('account.copy'), t('account.copied'), t('account.copyLabel', { name }))));
}

customElements.define('atelier-account', AtelierAccount);
