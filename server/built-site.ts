/**
 * The pages of the built site (dist/): what the lab server learns from its own build at start,
 * the CSP's script hashes (http/site-policy.ts) and the steps of every page (learners/page-steps.ts).
 */
import { existsSync, readdirSync } from 'node:fs';

/** Paths of the site's HTML files under `siteDir`, relative to it (none when the site is not built). */
export function builtPages(siteDir: string): string[] {
  return existsSync(siteDir) ? readdirSync(siteDir, { recursive: true, encoding: 'utf8' }).filter((path) => path.endsWith('.html')) : [];
}
