import { defineCollection } from 'astro:content';
import { docsLoader, i18nLoader } from '@astrojs/starlight/loaders';
import { docsSchema, i18nSchema } from '@astrojs/starlight/schema';

// Tutorials live in the project's top-level `content/`, reached through the
// `site/content/docs` symlink: Starlight's own loader keeps the sidebar and
// per-language labels right, which a custom glob loader does not.
//
// `i18n` holds Starlight's own UI strings where its defaults fall short: with French as the
// default locale, a string Starlight has no English for (Expressive Code's copy button) fell
// back to French on English pages. Atelier's own strings live in the top-level i18n/.
export const collections = {
  docs: defineCollection({ loader: docsLoader(), schema: docsSchema() }),
  i18n: defineCollection({ loader: i18nLoader(), schema: i18nSchema() }),
};
