/**
 * Atelier's additions to Markdown, beside Starlight's asides (which already bring remark-directive):
 *   :::launch{lab="…"}       a launch card for a lab of labs/
 *   - [ ] … :check[id]       a step the lab server checks
 *   - [ ] … :step{#id}       a step without a check; every task item needs one of the two ids
 *     :::hint … :::          (indented in a task item) a hint revealed on demand; the check's
 *                            solution, Skip and Rebuild come from lab.yaml (hints.ts)
 *   ```bash run              a command the learner can type into the lab's terminal with one click
 *   | a | table |            focusable, so a table that scrolls sideways on a phone can be read by keyboard
 *   ::lab-reference          the lab.yaml reference, from its schema (the authoring guide)
 * Mistakes (unknown lab or check, missing id) fail the build with the file and line.
 */
import { join } from 'node:path';
import type { Root } from 'mdast';
import type { VFile } from 'vfile';
import { loadLabs } from '../../server/labs/registry.ts';
import type { LabDefinition } from '../../server/labs/schema.ts';
import { pageContext } from './page-language.ts';
import { transformLaunchBlocks } from './launch.ts';
import { transformSteps } from './steps.ts';
import { transformStepHelp } from './hints.ts';
import { transformRunBlocks } from './run-blocks.ts';
import { makeTablesFocusable } from './tables.ts';
import { transformLabReference } from './lab-reference.ts';

export interface AtelierMarkdownOptions {
  /** Lab definitions by id; defaults to the project's labs/ folder. */
  labs?: Map<string, LabDefinition>;
}

const projectRoot = join(import.meta.dirname, '..', '..');
let projectLabs: Map<string, LabDefinition> | undefined;

export function atelierRemark(options: AtelierMarkdownOptions = {}) {
  return (tree: Root, file: VFile) => {
    const labs = options.labs ?? (projectLabs ??= loadLabs(join(projectRoot, 'labs'), projectRoot));
    const page = pageContext(file.path);
    const lab = transformLaunchBlocks(tree, file, labs, page);
    transformSteps(tree, file, lab, page);
    transformStepHelp(tree, file, lab, page);
    transformRunBlocks(tree, page);
    transformLabReference(tree, file, page);
    makeTablesFocusable(tree);
  };
}
