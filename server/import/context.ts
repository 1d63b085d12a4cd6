import type { TFunction } from 'i18next';
import type { Dialect } from './dialect.ts';
import type { Report } from './report.ts';

export interface ImportContext {
  report: Report;
  dialect: Dialect;
  /** In the source's language: the strings the importer writes into the page (labels, markers). */
  t: TFunction;
  /** The source's lines, to quote a construct as it was written. */
  lines: string[];
  /** Custom heading ids (`{#id}`) to the id Starlight gives the heading, for in-page links. */
  anchors: Map<string, string>;
  /** Whether the page needs Starlight's Tabs components imported. */
  usesTabs: boolean;
}
