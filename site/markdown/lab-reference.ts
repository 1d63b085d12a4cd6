/**
 * `::lab-reference`: the reference of lab.yaml, rendered at build time from its JSON Schema
 * (server/cli/lab-schema.ts, itself from the zod schema the server validates labs with), so the
 * guide lists exactly the fields the server accepts, with their types, defaults and descriptions.
 * One section per object: the lab, each nested object, each check kind.
 */
import type { Heading, Paragraph, PhrasingContent, Root, RootContent, Table, TableCell } from 'mdast';
import type { LeafDirective } from 'mdast-util-directive';
import type { VFile } from 'vfile';
import { visit } from 'unist-util-visit';
import { labJsonSchema, type JsonSchema } from '../../server/cli/lab-schema.ts';
import type { PageContext } from './page-language.ts';

interface Section {
  path: string;
  description?: string;
  schema: JsonSchema;
}

/** `{ fr, en }`: a text in both languages. */
function isLocalized(schema: JsonSchema): boolean {
  const keys = Object.keys(schema.properties ?? {});
  return schema.type === 'object' && keys.length === 2 && keys.includes('fr') && keys.includes('en');
}

function hasFields(schema: JsonSchema): boolean {
  return schema.type === 'object' && schema.properties !== undefined && !isLocalized(schema);
}

function recordValue(schema: JsonSchema): JsonSchema | undefined {
  return typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
}

/** The sections below an object's field, in reading order. */
function sectionsUnder(path: string, schema: JsonSchema): Section[] {
  const sections: Section[] = [];
  const add = (here: string, nested: JsonSchema, description = nested.description) => {
    if (hasFields(nested)) sections.push({ path: here, description, schema: nested }, ...fieldsSections(here, nested));
    const value = recordValue(nested);
    if (value) {
      const key = nested.propertyNames?.enum ? '<service>' : '<name>';
      if (value.oneOf) {
        for (const branch of value.oneOf) {
          const kind = branch.properties?.kind?.const;
          sections.push({ path: `${here}.${key} (kind: ${String(kind)})`, description: branch.properties?.kind?.description, schema: branch }, ...fieldsSections(`${here}.${key}`, branch));
        }
      } else {
        add(`${here}.${key}`, value, description);
      }
    }
    if (nested.type === 'array' && nested.items && hasFields(nested.items)) add(`${here}[]`, nested.items, description);
  };
  add(path, schema);
  return sections;
}

function fieldsSections(path: string, schema: JsonSchema): Section[] {
  return Object.entries(schema.properties ?? {}).flatMap(([name, field]) => sectionsUnder(`${path}.${name}`, field));
}

/** Check kinds share fields (`requires`): their section is written once. */
function once(sections: Section[]): Section[] {
  const seen = new Set<string>();
  return sections.filter((section) => !seen.has(section.path) && seen.add(section.path));
}

const unbounded = Number.MAX_SAFE_INTEGER;

function typeOf(schema: JsonSchema, t: PageContext['t']): string {
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) return branches.map((branch) => typeOf(branch, t)).join(` ${t('labReference.or')} `);
  if (isLocalized(schema)) return '{ fr, en }';
  if (schema.type === 'array') return `${t('labReference.listOf')} ${schema.items ? typeOf(schema.items, t) : 'any'}`;
  const value = recordValue(schema);
  if (schema.type === 'object' && value) {
    const keys = schema.propertyNames?.enum ? `${schema.propertyNames.enum.map((key) => JSON.stringify(key)).join(' | ')} →` : t('labReference.mapOf');
    return `${keys} ${hasFields(value) || value.oneOf ? 'object' : typeOf(value, t)}`;
  }
  const bounds: string[] = [];
  const { minimum, maximum, exclusiveMinimum, minLength, maxLength } = schema as Record<string, number | undefined>;
  if (exclusiveMinimum !== undefined) bounds.push(`> ${exclusiveMinimum}`);
  if (minimum !== undefined) bounds.push(`≥ ${minimum}`);
  if (maximum !== undefined && maximum < unbounded) bounds.push(`≤ ${maximum}`);
  if (minLength !== undefined && minLength > 1) bounds.push(t('labReference.minLength', { count: minLength }));
  if (maxLength !== undefined) bounds.push(t('labReference.maxLength', { count: maxLength }));
  return [schema.type ?? 'any', ...bounds].join(', ');
}

/** Text with `code` spans, as the schema's descriptions write them. */
function phrasing(text: string): PhrasingContent[] {
  return text
    .split(/`([^`]+)`/)
    .flatMap((part, index): PhrasingContent[] => (index % 2 === 1 ? [{ type: 'inlineCode', value: part }] : part ? [{ type: 'text', value: part }] : []));
}

function cell(children: PhrasingContent[]): TableCell {
  return { type: 'tableCell', children };
}

function fieldsTable(section: Section, t: PageContext['t']): Table {
  const required = new Set(section.schema.required ?? []);
  const header = [t('labReference.field'), t('labReference.type'), t('labReference.default'), t('labReference.description')];
  const rows = Object.entries(section.schema.properties ?? {}).map(([name, field]) => ({
    type: 'tableRow' as const,
    children: [
      cell([{ type: 'inlineCode', value: name }, ...(required.has(name) ? [{ type: 'text' as const, value: ` (${t('labReference.required')})` }] : [])]),
      cell([{ type: 'inlineCode', value: typeOf(field, t) }, ...(hasFields(field) ? [{ type: 'text' as const, value: ` ${t('labReference.below')}` }] : [])]),
      cell(field.default === undefined ? [] : [{ type: 'inlineCode', value: JSON.stringify(field.default) }]),
      cell(phrasing(field.description ?? '')),
    ],
  }));
  return {
    type: 'table',
    align: [null, null, null, null],
    data: { hProperties: { className: ['atelier-lab-reference'] } },
    children: [{ type: 'tableRow', children: header.map((title) => cell([{ type: 'text', value: title }])) }, ...rows],
  };
}

/** The reference's nodes: a heading, the object's description and its table per section. */
export function labReference(schema: JsonSchema, { t }: PageContext, depth: Heading['depth'] = 3): RootContent[] {
  const root: Section = { path: 'lab.yaml', schema };
  return once([root, ...fieldsSections('', schema).map((section) => ({ ...section, path: section.path.slice(1) }))]).flatMap((section): RootContent[] => [
    { type: 'heading', depth, children: [{ type: 'inlineCode', value: section.path }] },
    ...(section.description ? [{ type: 'paragraph', children: phrasing(section.description) } satisfies Paragraph] : []),
    fieldsTable(section, t),
  ]);
}

export function transformLabReference(tree: Root, file: VFile, page: PageContext, schema: JsonSchema = labJsonSchema()): void {
  visit(tree, 'leafDirective', (node: LeafDirective, index, parent) => {
    if (node.name !== 'lab-reference' || !parent || index === undefined) return;
    if (parent.type !== 'root') file.fail('::lab-reference belongs at the top level of a page, not inside another block', node);
    parent.children.splice(index, 1, ...(labReference(schema, page) as never[]));
  });
}
