import type { Code, Root } from 'mdast';
import { visit } from 'unist-util-visit';
import { parseAttributes } from './attributes.ts';
import type { ImportContext } from './context.ts';

/**
 * Fenced code with Quarto's or Pandoc's attributes: ```` ```{python} ```` (an executable cell),
 * ```` ```{.python} ````, ```` ```bash {filename="x.sh"} ````, and a cell's `#| key: value` options.
 * The language stays, a file name becomes Expressive Code's `title`, the rest is reported.
 */
export function transformCode(tree: Root, context: ImportContext): void {
  visit(tree, 'code', (node: Code) => {
    const info = [node.lang, node.meta].filter(Boolean).join(' ').trim();
    const raw = /^\{=([\w-]+)\}$/.exec(info);
    if (raw) {
      // Pandoc's raw blocks go to one output format as they are: shown here, never run as HTML.
      node.lang = raw[1]!;
      context.report.add(node, 'todo', `raw block \`\`\`{=${raw[1]}}`, 'kept as a visible code block: write its content as Markdown');
      return;
    }
    const cell = /^\{\s*([A-Za-z][\w+-]*)?(.*)\}$/.exec(info);
    const annotated = /^(\S+)\s+\{(.*)\}$/.exec(info);
    let title: string | undefined;
    if (cell || annotated) {
      const executable = cell?.[1];
      const attributes = parseAttributes(cell ? cell[2]! : annotated![2]!);
      node.lang = executable ?? annotated?.[1] ?? attributes.classes.shift() ?? null;
      title = attributes.pairs.filename ?? attributes.pairs.title;
      delete attributes.pairs.filename;
      delete attributes.pairs.title;
      const dropped = [...attributes.classes.map((cls) => `.${cls}`), ...Object.entries(attributes.pairs).map(([key, value]) => `${key}="${value}"`)];
      if (executable) context.report.add(node, 'info', `executable cell \`\`\`{${executable}}`, 'shown as code: Atelier does not run it at build time (a `run` block or a lab check can)');
      if (dropped.length) context.report.add(node, 'info', `code attributes ${dropped.join(' ')}`, 'dropped', dropped.join(' '));
      node.meta = null;
    }
    const lines = node.value.split('\n');
    const options = lines.findIndex((line) => !/^#\|/.test(line));
    const optionLines = lines.slice(0, options < 0 ? lines.length : options);
    if (optionLines.length) {
      node.value = lines.slice(optionLines.length).join('\n');
      for (const option of optionLines) {
        const [, key, value] = /^#\|\s*([\w-]+)\s*:\s*(.*)$/.exec(option) ?? [];
        if ((key === 'filename' || key === 'file') && value) title = value.replace(/^["']|["']$/g, '');
      }
      context.report.add(node, 'info', `cell options ${optionLines.map((line) => line.trim()).join('; ')}`, 'removed from the code (Quarto reads them when it runs the cell)', optionLines.join('\n'));
    }
    if (title) node.meta = `title=${JSON.stringify(title)}`;
  });
}
