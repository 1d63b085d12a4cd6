import { test } from 'node:test';
import assert from 'node:assert/strict';
import rehypeStringify from 'rehype-stringify';
import remarkDirective from 'remark-directive';
import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import remarkRehype from 'remark-rehype';
import { unified } from 'unified';
import type { Root } from 'mdast';
import { VFile } from 'vfile';
import { z } from 'zod';
import { labJsonSchema, type JsonSchema } from '../../server/cli/lab-schema.ts';
import { transformLabReference } from '../../site/markdown/lab-reference.ts';
import { pageContext } from '../../site/markdown/page-language.ts';

async function render(markdown: string, language: 'fr' | 'en', schema?: JsonSchema): Promise<string> {
  const file = new VFile({ value: markdown, path: `/project/content/${language}/authoring/lab-yaml.mdx` });
  const plugin = () => (tree: Root, vfile: VFile) => transformLabReference(tree, vfile, pageContext(vfile.path), schema);
  const html = String(await unified().use(remarkParse).use(remarkGfm).use(remarkDirective).use(plugin).use(remarkRehype).use(rehypeStringify).process(file));
  return html.replace(/\n/g, '');
}

test('the reference lists every field of lab.yaml and every check kind, with the schema\'s descriptions', async () => {
  const html = await render('::lab-reference\n', 'en');
  const schema = labJsonSchema();
  for (const [name, field] of Object.entries(schema.properties!)) {
    assert.match(html, new RegExp(`<td><code>${name}</code>`), name);
    assert.ok(html.includes(field.description!.split('`')[0]!), `${name}'s description`);
  }
  const kinds = schema.properties!.checks!.additionalProperties as JsonSchema;
  for (const branch of kinds.oneOf!) assert.match(html, new RegExp(`<h3><code>checks\\.&#x3C;name> \\(kind: ${String(branch.properties!.kind!.const).replace('.', '\\.')}\\)</code></h3>`));
  assert.match(html, /<td><code>ttl<\/code><\/td><td><code>string<\/code><\/td><td><code>"2h"<\/code><\/td>/, 'defaults as authors write them');
  assert.match(html, /<th>Field<\/th><th>Type<\/th><th>Default<\/th><th>Description<\/th>/);
  assert.equal((html.match(/checks\.&#x3C;name>\.requires</g) ?? []).length, 1, 'a section shared by check kinds is written once');
});

test('the reference follows the schema it is given: a new field shows with its type, default and description', async () => {
  const schema = z.toJSONSchema(
    z.object({ id: z.string().describe('The id.'), retries: z.number().int().min(0).default(3).describe('How many times `again`.') }).strict(),
    { io: 'input' },
  ) as JsonSchema;
  const html = await render('::lab-reference\n', 'fr', schema);
  assert.match(html, /<th>Champ<\/th><th>Type<\/th><th>Par défaut<\/th>/);
  assert.match(html, /<td><code>id<\/code> \(obligatoire\)<\/td><td><code>string<\/code><\/td><td><\/td><td>The id\.<\/td>/);
  assert.match(html, /<td><code>retries<\/code><\/td><td><code>integer, ≥ 0<\/code><\/td><td><code>3<\/code><\/td><td>How many times <code>again<\/code>\.<\/td>/);
});

test('the reference belongs at the top level of a page', async () => {
  await assert.rejects(render('> ::lab-reference\n', 'en'), /::lab-reference belongs at the top level/);
});
