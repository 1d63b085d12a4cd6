/**
 * The site's Content-Security-Policy, one header for every page: scripts only from the site's
 * own files and the inline scripts of the build, allowed by their hashes, so an injected script
 * never runs; no plugin, no framing of the site (it frames the labs' services only), forms and <base> to the site only. Styles stay open: Starlight
 * writes style attributes and xterm.js writes <style> elements at run time, and a style cannot
 * run code. Astro's own `security.csp` cannot be used: it leaves the `is:inline` scripts
 * unhashed (Starlight's theme and menu scripts among them), and it puts its policy in a <meta>
 * that comes after the first of them and cannot say frame-ancestors.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { builtPages } from '../built-site.ts';
import { join } from 'node:path';

const fixed = ["default-src 'self'", "style-src 'self' 'unsafe-inline'", "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'"];

/** Script types a browser runs (a JSON data block is not one). */
const executable = new Set(['', 'module', 'text/javascript', 'application/javascript']);

/**
 * The contents of the inline scripts of `html`. The pages are the build's own output, not
 * anyone's input, and a scan for `<script …>…</script>` is all it takes: no HTML parser is a
 * dependency of the server.
 */
export function inlineScripts(html: string): string[] {
  const scripts: string[] = [];
  let at = 0;
  for (;;) {
    const open = html.indexOf('<script', at);
    if (open === -1) return scripts;
    const tagEnd = html.indexOf('>', open);
    const close = html.indexOf('</script>', tagEnd);
    if (tagEnd === -1 || close === -1) return scripts;
    const attributes = html.slice(open + '<script'.length, tagEnd);
    const type = / type="([^"]*)"/.exec(attributes)?.[1]?.toLowerCase() ?? '';
    if (!/ src=/.test(attributes) && executable.has(type)) scripts.push(html.slice(tagEnd + 1, close));
    at = close + '</script>'.length;
  }
}

/**
 * The policy for the pages under `siteDir` (hashes of every page's inline scripts). `mediaOrigins`
 * (the S3 origin) may be fetched from and shown as images: "My files" previews read learner bytes
 * there, never from the site's origin, and only as data (text nodes, <img>).
 */
export function sitePolicy(siteDir: string, mediaOrigins: string[] = [], frameOrigins: string[] = []): string {
  const hashes = new Set<string>();
  for (const page of builtPages(siteDir)) {
    for (const script of inlineScripts(readFileSync(join(siteDir, page), 'utf8'))) {
      hashes.add(`'sha256-${createHash('sha256').update(script, 'utf8').digest('base64')}'`);
    }
  }
  const media = mediaOrigins.map((origin) => ` ${origin}`).join('');
  // The dock frames the labs' services, each on an origin of its own (never the site's).
  const frames = frameOrigins.map((origin) => ` ${origin}`).join('');
  return [
    ["script-src 'self'", ...[...hashes].sort()].join(' '),
    `connect-src 'self'${media}`,
    `img-src 'self' data:${media}`,
    `frame-src 'self'${frames}`,
    ...fixed,
  ].join('; ');
}
