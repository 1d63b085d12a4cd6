/**
 * The learner's application pages, /<lang>/<page>/ (site/pages/[lang]/[page].astro); the content
 * linter takes links to them as internal links that resolve.
 */
export const appPages = ['account', 'services', 'files', 'secrets', 'forge'] as const;
export type AppPage = (typeof appPages)[number];
