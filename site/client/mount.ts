/**
 * Mounts an application page's custom element (site/components/AppPage.astro): its host is
 * replaced by the element once the element's module, loaded on demand, has defined it.
 */
export function mountApp(loaders: Record<string, () => Promise<unknown>>): void {
  const mount = (): void => {
    const host = document.querySelector<HTMLElement>('[data-atelier-mount]');
    const element = host?.dataset.atelierMount;
    const load = element === undefined ? undefined : loaders[element];
    if (host && element && load) void load().then(() => host.isConnected && host.replaceWith(document.createElement(element)));
  };
  mount();
  // With client-side navigation, a page's script runs once: mount again on each page shown.
  document.addEventListener('astro:page-load', mount);
}
