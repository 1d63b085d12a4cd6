import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { Image, Link, Parent, PhrasingContent, Root } from 'mdast';
import { visit } from 'unist-util-visit';
import type { ImportContext } from './context.ts';

export interface Asset {
  /** Where the image is beside the source page. */
  from: string;
  /** Its name in the folder written beside each imported page. */
  name: string;
}

const external = /^([a-z][a-z0-9+.-]*:|\/\/)/i;

/**
 * Images next to the source page are copied beside the imported pages (`assetFolder`), as Astro
 * resolves relative images at build time and fails the build on a missing one; an image that is
 * not there is replaced by a visible marker naming it. Relative links point into the source site,
 * which is not imported: reported for the author. In-page links to custom heading ids follow them.
 */
export function transformMedia(tree: Root, context: ImportContext, sourceDir: string | undefined, assetFolder: string): Asset[] {
  const assets = new Map<string, Asset>();
  const names = new Set<string>();
  visit(tree, 'image', (image: Image, index, parent: Parent | undefined) => {
    if (!image.alt?.trim()) context.report.add(image, 'todo', `image ${image.url}`, 'has no alt text: describe it (the content linter requires one)');
    if (external.test(image.url) || !parent || index === undefined) return;
    const path = sourceDir ? resolve(sourceDir, decodeURI(image.url.split(/[?#]/)[0]!)) : undefined;
    if (path && existsSync(path)) {
      let asset = assets.get(path);
      if (!asset) {
        let name = basename(path).replace(/[^\w.-]+/g, '-');
        for (let n = 2; names.has(name); n++) name = `${n}-${basename(path)}`;
        names.add(name);
        asset = { from: path, name };
        assets.set(path, asset);
      }
      image.url = `./${assetFolder}/${asset.name}`;
      context.report.add(image, 'info', `image ${basename(path)}`, `copied to ${assetFolder}/ beside the page`);
      return;
    }
    const marker: PhrasingContent[] = [
      { type: 'strong', children: [{ type: 'text', value: context.t('import.missingImage') }] },
      { type: 'text', value: ` ${image.alt ?? ''} ` },
      { type: 'inlineCode', value: image.url },
    ];
    parent.children.splice(index, 1, ...(marker as never[]));
    context.report.add(image, 'todo', `image ${image.url}`, 'file not found beside the source: a visible marker stands in its place; add the image');
    return index + marker.length;
  });
  visit(tree, 'link', (link: Link) => {
    if (link.url.startsWith('#')) {
      const target = context.anchors.get(decodeURIComponent(link.url.slice(1)));
      if (target) link.url = `#${target}`;
      return;
    }
    if (!external.test(link.url)) {
      context.report.add(link, 'todo', `link ${link.url}`, 'points into the source site, which is not imported: point it at an Atelier page or file');
    }
  });
  return [...assets.values()];
}
