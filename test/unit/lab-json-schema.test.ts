import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { labJsonSchema, labSchemaFile, labSchemaText } from '../../server/cli/lab-schema.ts';

const labsDir = join(import.meta.dirname, '..', '..', 'labs');
const labFiles = readdirSync(labsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name !== 'tools')
  .map((entry) => join(labsDir, entry.name, 'lab.yaml'));

test('labs/lab.schema.json is what server/labs/schema.ts gives now', () => {
  assert.equal(readFileSync(labSchemaFile, 'utf8'), labSchemaText(), 'labs/lab.schema.json is stale: run `npm run schema` and commit it');
});

test('the JSON Schema accepts every lab of the project and refuses what the server refuses', () => {
  const validate = new Ajv({ strict: true, allErrors: true }).compile(labJsonSchema());
  for (const file of labFiles) {
    assert.ok(validate(parse(readFileSync(file, 'utf8'))), `${file}: ${JSON.stringify(validate.errors)}`);
  }
  const lab = { id: 'demo', title: { fr: 'Démo', en: 'Demo' } };
  assert.ok(validate(lab));
  assert.ok(validate({ ...lab, resources: { memory: '1Gi' }, ttl: '90m' }), 'sizes and durations are written as authors write them');
  assert.ok(!validate({ ...lab, colour: 'blue' }), 'unknown field');
  assert.ok(!validate({ ...lab, ttl: 'forever' }), 'bad duration');
  assert.ok(!validate({ ...lab, checks: { x: { kind: 'magic' } } }), 'unknown check kind');
  assert.ok(!validate({ ...lab, checks: { x: { kind: 'file', path: 'work/x' } } }), 'relative path');
  assert.ok(!validate({ ...lab, title: { fr: 'Démo' } }), 'a title in one language');
});

test('every field of lab.yaml carries a description', () => {
  const undescribed: string[] = [];
  const walk = (schema: Record<string, unknown>, path: string) => {
    const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
    for (const [name, property] of Object.entries(properties ?? {})) {
      const here = `${path}${name}`;
      // A { fr, en } pair's halves are described by the field they belong to.
      if (!(name === 'fr' || name === 'en') && typeof property.description !== 'string') undescribed.push(here);
      walk(property, `${here}.`);
    }
    for (const key of ['anyOf', 'oneOf'] as const) for (const branch of (schema[key] as Record<string, unknown>[] | undefined) ?? []) walk(branch, path);
    if (typeof schema.additionalProperties === 'object') walk(schema.additionalProperties as Record<string, unknown>, `${path}<name>.`);
    if (typeof schema.items === 'object') walk(schema.items as Record<string, unknown>, `${path}[].`);
  };
  walk(labJsonSchema(), '');
  assert.deepEqual(undescribed, [], 'add .describe() to these fields in server/labs/schema.ts, then run `npm run schema`');
});

test('each lab.yaml points editors to the schema', () => {
  for (const file of labFiles) {
    assert.equal(readFileSync(file, 'utf8').split('\n')[0], '# yaml-language-server: $schema=../lab.schema.json', file);
  }
});
