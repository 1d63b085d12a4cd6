/**
 * Sign-in with the school's account, where the lab server offers it (GET /api/auth):
 * <atelier-sign-in> in the header ("Sign in", or the person's name and "Sign out"), and the
 * "School account" card of "My account". Signing out clears this browser for the next person on
 * a school PC: the server removes the cookies and sends Clear-Site-Data; the page also empties
 * its own storage (the labs' tokens, the dock's layout, the class flag), since browsers honour
 * Clear-Site-Data on secure origins only; then a full navigation (the provider's sign-out when
 * it has one) closes every terminal.
 */
import { api } from './api.ts';
import { h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';

export interface MergeReport {
  steps: number;
  secretGroups: string[];
  secretGroupsKept: string[];
  classes: number;
  repositories: { moved: string[]; renamed: { from: string; to: string }[] };
  objects: { moved: number; renamed: { from: string; to: string }[]; left: string[] };
}

export interface AuthState {
  enabled: boolean;
  available: boolean;
  signedIn: boolean;
  account: { name: string; email: string; trainer: boolean; mergeReport: MergeReport | null } | null;
}

let state: Promise<AuthState> | undefined;

/** Asked once per page load: header and "My account" share the answer. */
export function authState(): Promise<AuthState> {
  state ??= api<AuthState>('GET', '/api/auth').catch(() => ({ enabled: false, available: false, signedIn: false, account: null }));
  return state;
}

document.addEventListener('astro:after-swap', () => (state = undefined));

/** Never prefetched (Astro's router prefetches links on hover): a sign-in starts with a click only. */
export function signInLink(): HTMLAnchorElement {
  const back = `${location.pathname}${location.search}`;
  return h('a', { href: `/auth/login?return=${encodeURIComponent(back)}`, class: 'atelier-sign-in__link', 'data-astro-reload': true, 'data-astro-prefetch': 'false' }, t('signIn.signIn'));
}

export async function signOut(): Promise<void> {
  const { redirect } = await api<{ redirect: string }>('POST', '/auth/logout', { body: { return: `/${pageLanguage()}/` } });
  localStorage.clear();
  sessionStorage.clear();
  location.assign(redirect);
}

export function signOutButton(status: HTMLElement): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'atelier-sign-in__out' }, t('signIn.signOut'));
  button.addEventListener('click', () => {
    button.disabled = true;
    signOut().catch((error: Error) => {
      button.disabled = false;
      status.textContent = error.message;
    });
  });
  return button;
}

/** <atelier-sign-in>: nothing without OpenID Connect. */
class AtelierSignIn extends HTMLElement {
  async connectedCallback(): Promise<void> {
    const auth = await authState();
    if (!auth.enabled || !this.isConnected) return;
    const status = h('span', { role: 'status', class: 'atelier-sign-in__status' });
    if (auth.account) {
      this.replaceChildren(h('span', { class: 'atelier-sign-in__name' }, t('signIn.signedInAs', { name: auth.account.name || auth.account.email })), signOutButton(status), status);
    } else if (auth.available) {
      this.replaceChildren(signInLink());
    } else {
      this.replaceChildren(h('span', { class: 'atelier-sign-in__status' }, t('signIn.signInUnavailable')));
    }
  }
}

if (!customElements.get('atelier-sign-in')) customElements.define('atelier-sign-in', AtelierSignIn);
