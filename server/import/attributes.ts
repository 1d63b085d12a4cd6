import type { Heading, Parent, PhrasingContent, Root, Text } from 'mdast';
import { toString } from 'mdast-util-to-string';
import GithubSlugger from 'github-slugger';
import { visit } from 'unist-util-visit';
import type { ImportContext } from './context.ts';

export interface Attributes {
  id?: string;
  classes: string[];
  pairs: Record<string, string>;
}

/** Pandoc's attribute braces, `{#id .class key=value key="a value"}`, without the braces. */
export function parseAttributes(text: string): Attributes {
  const attributes: Attributes = { classes: [], pairs: {} };
  for (const [, id, cls, key, quoted, bare] of text.matchAll(/#([\w:.-]+)|\.([\w-]+)|([\w-]+)=(?:"([^"]*)"|'[^']*'|(\S+))/g)) {
    if (id) attributes.id = id;
    else if (cls) attributes.classes.push(cls);
    else if (key) attributes.pairs[key] = quoted ?? bare ?? '';
  }
  return attributes;
}

const braces = /^\{([^{}]*)\}/;
const attached = new Set(['link', 'image', 'inlineCode', 'strong', 'emphasis', 'delete']);
/** Span classes whose look says "the name of something to click" or "stress this". */
const strongClasses = /button|btn|bold|underline|mark|highlight|kbd/;

/**
 * Pandoc's inline attributes, which CommonMark reads as text: `[Text]{.green-button}` spans and
 * braces after a link (`{target="_blank"}`), an image or code. A span becomes **Text** when its
 * class reads as a button or a stress, plain text otherwise; the braces go, and the report says so.
 */
export function transformInlineAttributes(tree: Root, context: ImportContext): void {
  visit(tree, (node) => {
    if (!('children' in node) || node.type === 'heading') return;
    const parent = node as Parent;
    spansInOneText(parent, context);
    spansAcrossNodes(parent, context);
    trailingBraces(parent, context);
  });
  visit(tree, 'text', (node: Text) => {
    const left = /\{[.#][\w-]+[^{}]*\}|\{[\w-]+=[^{}]*\}/.exec(node.value);
    if (left) context.report.add(node, 'todo', `attributes ${left[0]}`, 'not attached to anything the importer knows: kept as text');
  });
}

function spansInOneText(parent: Parent, context: ImportContext): void {
  for (let index = parent.children.length - 1; index >= 0; index--) {
    const node = parent.children[index]!;
    if (node.type !== 'text') continue;
    const pattern = /\[([^[\]]+)\]\{([^{}]*)\}/g;
    if (!pattern.test(node.value)) continue;
    pattern.lastIndex = 0;
    const parts: PhrasingContent[] = [];
    let last = 0;
    for (const match of node.value.matchAll(pattern)) {
      if (match.index > last) parts.push({ type: 'text', value: node.value.slice(last, match.index), position: node.position });
      parts.push(span([{ type: 'text', value: match[1]! }], match[2]!, node, context));
      last = match.index + match[0].length;
    }
    if (last < node.value.length) parts.push({ type: 'text', value: node.value.slice(last), position: node.position });
    parent.children.splice(index, 1, ...(parts as never[]));
  }
}

/** `[**Text**]{.x}`: the span's brackets sit in text nodes around other nodes. */
function spansAcrossNodes(parent: Parent, context: ImportContext): void {
  const children = parent.children as PhrasingContent[];
  for (let start = 0; start < children.length; start++) {
    const opening = children[start]!;
    if (opening.type !== 'text') continue;
    const bracket = opening.value.lastIndexOf('[');
    if (bracket < 0 || opening.value.indexOf(']', bracket) >= 0) continue;
    for (let end = start + 1; end < children.length; end++) {
      const closing = children[end]!;
      if (closing.type !== 'text') continue;
      const match = /^([^[\]]*)\]\{([^{}]*)\}/.exec(closing.value);
      if (!match) break;
      const inner: PhrasingContent[] = [
        ...(opening.value.length > bracket + 1 ? [{ type: 'text', value: opening.value.slice(bracket + 1) } as Text] : []),
        ...children.slice(start + 1, end),
        ...(match[1] ? [{ type: 'text', value: match[1] } as Text] : []),
      ];
      const replacement = span(inner, match[2]!, closing, context);
      opening.value = opening.value.slice(0, bracket);
      closing.value = closing.value.slice(match[0].length);
      children.splice(start + 1, end - start - 1, replacement);
      break;
    }
  }
}

function span(children: PhrasingContent[], raw: string, at: Text, context: ImportContext): PhrasingContent {
  const attributes = parseAttributes(raw);
  const removed = `{${raw}}`;
  const shown = toString({ type: 'paragraph', children });
  if (attributes.classes.some((cls) => strongClasses.test(cls))) {
    context.report.add(at, 'info', `span [${shown}]${removed}`, 'written in bold (the name of what to click, or a stress)', removed);
    return children.length === 1 && children[0]!.type === 'strong' ? children[0]! : { type: 'strong', children };
  }
  if (attributes.classes.includes('italic') || attributes.classes.includes('smallcaps')) {
    context.report.add(at, 'info', `span [${shown}]${removed}`, 'written in italics', removed);
    return { type: 'emphasis', children };
  }
  context.report.add(at, 'info', `span [${shown}]${removed}`, 'its text kept, its attributes dropped', removed);
  return children.length === 1 ? children[0]! : { type: 'emphasis', children };
}

function trailingBraces(parent: Parent, context: ImportContext): void {
  parent.children.forEach((node, index) => {
    const previous = parent.children[index - 1];
    if (node.type !== 'text' || !previous || !attached.has(previous.type)) return;
    const match = braces.exec(node.value);
    if (!match) return;
    const attributes = parseAttributes(match[1]!);
    node.value = node.value.slice(match[0].length);
    const keys = [...Object.keys(attributes.pairs), ...attributes.classes.map((cls) => `.${cls}`)];
    const at = node.position ? node : previous;
    if (previous.type === 'link' && keys.every((key) => key === 'target' || key === 'rel')) {
      context.report.add(at, 'info', `link attributes ${match[0]}`, 'dropped: the link opens as a plain link (the reader chooses where)', match[0]);
    } else if (previous.type === 'image' && (attributes.pairs.width || attributes.pairs.height || attributes.pairs['fig-alt'])) {
      if (attributes.pairs['fig-alt']) previous.alt = attributes.pairs['fig-alt'];
      context.report.add(at, 'info', `image attributes ${match[0]}`, 'dropped: Starlight sizes images to the column', match[0]);
    } else {
      context.report.add(at, 'info', `attributes ${match[0]}`, `dropped from the ${previous.type}`, match[0]);
    }
  });
  parent.children = parent.children.filter((node) => node.type !== 'text' || node.value !== '');
}

/**
 * `## Title {#anchor .unnumbered}`: Starlight names headings itself (GitHub's slugs), so the
 * braces go; in-page links to the custom anchor are pointed at Starlight's (see links in media.ts).
 */
export function transformHeadingAttributes(tree: Root, context: ImportContext): void {
  const slugger = new GithubSlugger();
  visit(tree, 'heading', (heading: Heading) => {
    const last = heading.children.at(-1);
    const match = last?.type === 'text' ? /\s*\{([^{}]*)\}\s*$/.exec(last.value) : null;
    if (last?.type === 'text' && match) {
      last.value = last.value.slice(0, match.index);
      const attributes = parseAttributes(match[1]!);
      const slug = slugger.slug(toString(heading));
      if (attributes.id) context.anchors.set(attributes.id, slug);
      const action = attributes.id && attributes.id !== slug ? `dropped; the heading's anchor is #${slug} (links to #${attributes.id} follow)` : 'dropped';
      context.report.add(heading, 'info', `heading attributes ${match[0].trim()}`, action, match[0]);
    } else slugger.slug(toString(heading));
  });
}
