/**
 * `npm run new -- course <slug>`: a course that builds at once, for a trainer to fill in: its
 * French and English pages (content/{fr,en}/<slug>/index.mdx) and its lab (labs/<slug>/lab.yaml),
 * with one launch card, one step the lab checks and one step the learner ticks, so that the
 * first thing the trainer sees is a page that works, not a blank one.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { languages } from '../../i18n/index.ts';
import { appPages } from '../../site/app-pages.ts';
import { toolsFolder } from '../labs/registry.ts';

const slugPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Names that are already something else: a lab folder, the learner's pages, the site's own sections. */
const reserved = new Set<string>([toolsFolder, ...appPages, ...languages, 'admin', 'authoring', 'api', 'git']);

export class NewCourseError extends Error {}

function titleOf(slug: string): string {
  const words = slug.replace(/-/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const page = {
  fr: (slug: string) => `---
title: ${titleOf(slug)}
description: Ce que le cours apprend, en une phrase (elle sert aussi de résumé aux moteurs de recherche).
sidebar:
  order: 0
---

Remplacez ce paragraphe par l'introduction du cours : à qui il s'adresse, ce que l'on saura faire à la fin. Le guide [Écrire un cours](/fr/authoring/) décrit chaque élément de cette page.

:::launch{lab="${slug}"}
Lancez le service du cours : il s'ouvre à côté de la page, avec son terminal.
:::

## Première étape

Chaque case à cocher est une étape. La première se coche à la main ; la seconde est vérifiée dans le service par la vérification \`made-folder\` de \`labs/${slug}/lab.yaml\`.

- [ ] Lisez la note du service, dans le panneau à côté du cours :step{#read-note}
- [ ] Créez le dossier \`premier-dossier\` dans \`~/work\` :check[made-folder]

\`\`\`bash run
mkdir -p ~/work/premier-dossier
\`\`\`
`,
  en: (slug: string) => `---
title: ${titleOf(slug)}
description: What the course teaches, in one sentence (it is also the summary search engines show).
sidebar:
  order: 0
---

Replace this paragraph with the course's introduction: who it is for, what they will be able to do at the end. The [Writing a course](/en/authoring/) guide describes each part of this page.

:::launch{lab="${slug}"}
Start the course's service: it opens beside the page, with its terminal.
:::

## First step

Each checkbox is a step. The first one is ticked by hand; the second one is checked in the service by the \`made-folder\` check of \`labs/${slug}/lab.yaml\`.

- [ ] Read the service's note, in the panel beside the course :step{#read-note}
- [ ] Create the folder \`first-folder\` in \`~/work\` :check[made-folder]

\`\`\`bash run
mkdir -p ~/work/first-folder
\`\`\`
`,
};

function labYaml(slug: string): string {
  const title = titleOf(slug);
  return `# yaml-language-server: $schema=../lab.schema.json
# The lab of the course /${slug}/. Every field is described in the authoring guide's lab.yaml
# reference (/en/authoring/lab-yaml/), and an editor with the YAML extension completes them.
id: ${slug}
title: { fr: ${title}, en: ${title} }
course: /${slug}/
resources: { cpu: 0.5, memory: 256Mi, disk: 64Mi }
catalog:
  terminal: {}
checks:
  made-folder:
    kind: file
    # English pages use English example names: a path may be given per language.
    path: { fr: ~/work/premier-dossier, en: ~/work/first-folder }
    type: dir
    expect:
      fr: un dossier premier-dossier dans ~/work
      en: a folder named first-folder in ~/work
    hint:
      fr: "Tapez mkdir premier-dossier dans le terminal, depuis ~/work."
      en: "Type mkdir first-folder in the terminal, from ~/work."
    solution:
      fr: mkdir -p ~/work/premier-dossier
      en: mkdir -p ~/work/first-folder
    # Run by "Skip this step" and by a rebuild: it must do no harm when the step is already done.
    solve:
      fr: mkdir -p ~/work/premier-dossier
      en: mkdir -p ~/work/first-folder
`;
}

/** Writes the course under `root` (the project) and returns the files written, relative to it. */
export function newCourse(root: string, slug: string): string[] {
  if (!slugPattern.test(slug)) {
    throw new NewCourseError(`"${slug}" is not a course name: use lower-case letters, digits and dashes, starting with a letter or digit (e.g. intro-python)`);
  }
  if (reserved.has(slug)) throw new NewCourseError(`"${slug}" is taken by the site itself: choose another name for the course`);
  const files = {
    ...Object.fromEntries(languages.map((language) => [join('content', language, slug, 'index.mdx'), page[language](slug)])),
    [join('labs', slug, 'lab.yaml')]: labYaml(slug),
  };
  const taken = [join('content', 'fr', slug), join('content', 'en', slug), join('labs', slug)].filter((path) => existsSync(join(root, path)));
  if (taken.length > 0) {
    throw new NewCourseError(`a course or lab named "${slug}" already exists (${taken.join(', ')}): choose another name, or edit those files`);
  }
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text, { flag: 'wx' });
  }
  return Object.keys(files);
}

const usage = 'usage: npm run new -- course <slug>   (e.g. npm run new -- course intro-python)';

if (import.meta.main) {
  const [kind, slug, ...rest] = process.argv.slice(2);
  if (kind !== 'course' || slug === undefined || rest.length > 0) {
    console.error(usage);
    process.exit(2);
  }
  const root = join(import.meta.dirname, '..', '..');
  try {
    const files = newCourse(root, slug);
    const here = relative(process.cwd(), root);
    console.log(`Written:\n${files.map((file) => `  ${join(here, file)}`).join('\n')}`);
    console.log(`
Next:
  1. Put the course in the sidebar: in astro.config.mjs, add to sidebar
       { label: '${titleOf(slug)}', translations: { en: '${titleOf(slug)}' }, items: [{ autogenerate: { directory: '${slug}' } }] },
  2. npm run lint:content     checks both languages, labs, checks, links and images
  3. npm start                then open http://atelier.localhost:4321/fr/${slug}/ and /en/${slug}/
The authoring guide: /en/authoring/ (or /fr/authoring/) on the running site.`);
  } catch (error) {
    if (!(error instanceof NewCourseError)) throw error;
    console.error(`npm run new: ${error.message}`);
    process.exit(1);
  }
}
