/**
 * axe-core in the e2e suite: the pages of the built site, and a check that reports every WCAG 2.1
 * A/AA violation with the selectors of its elements, so a failure says where to look.
 */
import { readdirSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';

const wcag21aa = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/**
 * Every page the build wrote (dist/**\/index.html, or the server's ATELIER_SITE_DIR) as its URL
 * path, e.g. /fr/tp/terminal/.
 */
export function sitePaths(distDir = resolve(process.env.ATELIER_SITE_DIR ?? join(import.meta.dirname, '..', '..', '..', 'dist'))): string[] {
  const paths: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'index.html') {
        const folder = relative(distDir, dir).split(sep).join('/');
        paths.push(folder ? `/${folder}/` : '/');
      }
    }
  };
  walk(distDir);
  // The root only redirects to a language: it has no page of its own.
  return paths.filter((path) => path !== '/').sort();
}

/** The WCAG 2.1 AA violations on the page as it is now, one line per element: empty when none. */
/** `exclude`: selectors of what is not ours to fix (a lab's service in its frame: JupyterLab, VS Code). */
export async function wcagViolations(page: Page, label: string, exclude: string[] = []): Promise<string[]> {
  let builder = new AxeBuilder({ page }).withTags(wcag21aa);
  for (const selector of exclude) builder = builder.exclude(selector);
  const { violations } = await builder.analyze();
  return violations.flatMap((violation) =>
    violation.nodes.map(
      (node) => `${label}: ${violation.id} (${violation.impact ?? 'n/a'}) at ${node.target.join(' ')}: ${node.failureSummary?.replace(/\s+/g, ' ') ?? violation.help}`,
    ),
  );
}

/**
 * Resizes the page and waits for what scripts redo on resize: Expressive Code makes a code block
 * that scrolls sideways focusable, 250 ms after the resize.
 */
export async function resize(page: Page, size: { width: number; height: number }): Promise<void> {
  await page.setViewportSize(size);
  // Only blocks on screen: one in a closed <details> (a step's solution) is laid out but never
  // observed, and gets its tabindex when opened.
  await page.waitForFunction(() =>
    [...document.querySelectorAll('.expressive-code pre')].every((pre) => !pre.checkVisibility() || pre.scrollWidth <= pre.clientWidth || pre.hasAttribute('tabindex')),
  );
}
