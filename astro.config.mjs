// @ts-check
import { defineConfig } from 'astro/config';
import starlight from '@astrojs/starlight';
import { unified } from '@astrojs/markdown-remark';
import { fileURLToPath } from 'node:url';
import { atelierRemark } from './site/markdown/index.ts';
import { precompress } from './site/build/precompress.ts';

export default defineConfig({
  srcDir: './site',
  // Beside the sources (favicon.svg); Astro looks in ./public otherwise, whatever srcDir says.
  publicDir: './site/public',
  outDir: './dist',
  trailingSlash: 'always',
  // The build sees `content/` through a symlink; resolving it would break Starlight's paths.
  vite: { resolve: { preserveSymlinks: true } },
  markdown: { processor: unified({ remarkPlugins: [atelierRemark] }) },
  integrations: [
    starlight({
      title: 'Atelier',
      defaultLocale: 'fr',
      locales: {
        fr: { label: 'Français', lang: 'fr' },
        en: { label: 'English', lang: 'en' },
      },
      sidebar: [
        { label: 'Travaux pratiques', translations: { en: 'Practicals' }, items: [{ autogenerate: { directory: 'tp' } }] },
        { label: 'Le datalab', translations: { en: 'The datalab' }, items: [{ autogenerate: { directory: 'datalab' } }] },
        { label: 'Découverte du Datalab', translations: { en: 'Datalab discovery' }, items: [{ autogenerate: { directory: 'datalab-tp' } }] },
        {
          label: 'Mon espace',
          translations: { en: 'My space' },
          items: [
            { label: 'Mon compte', translations: { en: 'My account' }, link: '/account/' },
            { label: 'Mes fichiers', translations: { en: 'My files' }, link: '/files/' },
            { label: 'Mes secrets', translations: { en: 'My secrets' }, link: '/secrets/' },
            { label: 'Mes dépôts', translations: { en: 'My repositories' }, link: '/forge/' },
            { label: 'Mes services', translations: { en: 'My services' }, link: '/services/' },
          ],
        },
        // For trainers, not for learners: after everything learners use.
        { label: 'Formateur', translations: { en: 'Trainer' }, link: '/trainer/' },
        { label: 'Écrire un cours', translations: { en: 'Writing a course' }, items: [{ autogenerate: { directory: 'authoring' } }] },
        // For whoever installs and runs Atelier, not for learners: after everything learners use.
        { label: 'Exploitation', translations: { en: 'Operating Atelier' }, items: [{ autogenerate: { directory: 'admin' } }] },
      ],
      components: {
        MarkdownContent: './site/components/MarkdownContent.astro',
        PageFrame: './site/components/PageFrame.astro',
        Head: './site/components/Head.astro',
        SocialIcons: './site/components/SocialIcons.astro',
      },
      customCss: ['./site/styles/atelier.css', './site/styles/account.css', './site/styles/dock.css', './site/styles/monitoring.css', './site/styles/step-help.css', './site/styles/trainer.css'],
      pagefind: false,
    }),
    // Brotli and gzip copies of the built text files, served as they are (server/http/site.ts).
    { name: 'atelier-precompress', hooks: { 'astro:build:done': ({ dir, logger }) => logger.info(`${precompress(fileURLToPath(dir))} files precompressed`) } },
  ],
});
