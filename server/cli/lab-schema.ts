/**
 * Writes labs/lab.schema.json, the JSON Schema of lab.yaml, from the zod schema the server
 * validates labs with: editors (VS Code's YAML extension, through each lab.yaml's
 * `# yaml-language-server: $schema=` line) complete and validate what trainers write, and the
 * authoring guide's reference is rendered from the same object, so neither can drift from it.
 * Usage: npm run schema   (test/unit/lab-json-schema.test.ts fails while the file is stale)
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { labDefinition } from '../labs/schema.ts';

export const labSchemaFile = join(import.meta.dirname, '..', '..', 'labs', 'lab.schema.json');

export type JsonSchema = {
  [key: string]: unknown;
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
};

/**
 * The input side: what authors write ("512Mi", "2h"), before the transforms that give the server
 * bytes and milliseconds. Refinements across fields (a `requires` naming another check) cannot be
 * said in JSON Schema; the server's own validation still reports them. Draft 7, the newest that
 * VS Code's YAML extension (yaml-language-server) fully supports.
 */
export function labJsonSchema(): JsonSchema {
  return {
    ...(z.toJSONSchema(labDefinition, { io: 'input', unrepresentable: 'any', target: 'draft-7' }) as JsonSchema),
    title: 'Atelier lab (labs/<id>/lab.yaml)',
  };
}

export function labSchemaText(): string {
  return `${JSON.stringify(labJsonSchema(), null, 2)}\n`;
}

if (import.meta.main) {
  writeFileSync(labSchemaFile, labSchemaText());
  console.log(`${relative(process.cwd(), labSchemaFile)} written from server/labs/schema.ts`);
}
