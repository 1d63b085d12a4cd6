import { defineCollection } from 'astro:content';
import { docsLoader } from '@astrojs/starlight/loaders';
import { docsSchema } from '@astrojs/starlight/schema';

// Tutorials live in the project's top-level `content/`, reached through the
// `site/content/docs` symlink: Starlight's own loader keeps the sidebar and
// per-language labels right, which a custom glob loader does not.
export const collections = {
  docs: defineCollection({ loader: docsLoader(), schema: docsSchema() }),
};
