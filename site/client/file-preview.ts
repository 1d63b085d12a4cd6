/**
 * Previews of "My files": the first rows of a CSV, a Parquet file's schema and first rows, the
 * beginning of a text file, an image. Bytes come from a presigned link on the S3 origin with Range
 * requests (never from the site's origin), and only as data: text nodes and an <img>, never
 * markup. Loaded on demand: hyparquet only when a Parquet file is opened.
 */
import { api } from './api.ts';
import { formatBytes, h } from './dom.ts';
import { pageLanguage, t } from './strings.ts';

interface Link {
  url: string;
  size: number;
  contentType: string;
}

export type PreviewKind = 'csv' | 'parquet' | 'text' | 'image';

const kinds: Record<string, PreviewKind> = {
  csv: 'csv', tsv: 'csv',
  parquet: 'parquet',
  txt: 'text', md: 'text', json: 'text', py: 'text', r: 'text', yaml: 'text', yml: 'text', sh: 'text', sql: 'text', log: 'text', toml: 'text', ini: 'text',
  png: 'image', jpg: 'image', jpeg: 'image', gif: 'image', webp: 'image', avif: 'image',
};

export function previewKind(key: string): PreviewKind | undefined {
  const extension = /\.([A-Za-z0-9]+)$/.exec(key)?.[1]?.toLowerCase();
  return extension === undefined ? undefined : kinds[extension];
}

/** Bytes a text or CSV preview reads: enough for a screen of rows. */
const textBytes = 64 * 1024;
/** Rows shown. */
const previewRows = 20;
/** Bytes a Parquet preview may read in all (footer and the first row group's columns). */
const parquetBudget = 8 * 1024 * 1024;
/** A footer larger than this is not a preview's business. */
const parquetMaxFooter = 2 * 1024 * 1024;

/** GET of a byte range of the object; a server that ignores Range gets cut at `end` anyway. */
async function readRange(url: string, start: number, end: number): Promise<ArrayBuffer> {
  const response = await fetch(url, { headers: { Range: `bytes=${start}-${end - 1}` }, credentials: 'omit', referrerPolicy: 'no-referrer' });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const bytes = await response.arrayBuffer();
  return bytes.byteLength > end - start ? bytes.slice(0, end - start) : bytes;
}

/**
 * Minimal RFC 4180 reading: quoted fields, doubled quotes, CRLF; the delimiter is the one of
 * `,` `;` and tab that the first line has most of (French CSVs use `;`).
 */
export function parseCsv(text: string, maxRows: number): string[][] {
  const firstLine = text.slice(0, text.indexOf('\n') === -1 ? text.length : text.indexOf('\n'));
  const delimiter = [',', ';', '\t'].reduce((best, candidate) => (firstLine.split(candidate).length > firstLine.split(best).length ? candidate : best), ',');
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i += 1) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"' && field === '') quoted = true;
    else if (char === delimiter) {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += char;
  }
  if ((field !== '' || row.length > 0) && rows.length < maxRows) rows.push([...row, field]);
  return rows;
}

function table(header: string[], rows: unknown[][], caption: string): HTMLElement {
  const cell = (value: unknown) => (value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) : String(value));
  return h(
    'div',
    { class: 'atelier-table-scroll', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      { class: 'atelier-table atelier-table--data' },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, header.map((name) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, row.map((value) => h('td', {}, cell(value)))))),
    ),
  );
}

async function previewText(link: Link, kind: 'text' | 'csv'): Promise<HTMLElement[]> {
  const end = Math.min(link.size, textBytes);
  const bytes = end === 0 ? new ArrayBuffer(0) : await readRange(link.url, 0, end);
  // A cut may split a character: the decoder shows a replacement, never an error.
  const text = new TextDecoder('utf-8').decode(bytes);
  const cut = link.size > end ? [h('p', { class: 'atelier-field-hint' }, t('files.previewCut', { size: formatBytes(end, pageLanguage()) }))] : [];
  if (kind === 'text') return [h('pre', { class: 'atelier-pre atelier-preview__text' }, text), ...cut];
  // The last line of a cut read is likely partial: drop it.
  const complete = link.size > end ? text.slice(0, Math.max(0, text.lastIndexOf('\n'))) : text;
  const [header = [], ...rows] = parseCsv(complete, previewRows + 1);
  return [table(header, rows, t('files.previewRows', { count: rows.length })), ...cut];
}

async function previewParquet(link: Link): Promise<HTMLElement[]> {
  const language = pageLanguage();
  if (link.size < 12) throw new Error('not a Parquet file');
  // The footer's length first (its last 8 bytes): refuse a huge one before reading it.
  const tail = new DataView(await readRange(link.url, link.size - 8, link.size));
  if (tail.getUint32(4, true) !== 0x31524150) throw new Error('not a Parquet file');
  const footer = tail.getUint32(0, true);
  if (footer > parquetMaxFooter) {
    return [h('p', {}, t('files.previewTooBig', { size: formatBytes(footer, language), max: formatBytes(parquetMaxFooter, language) }))];
  }
  const { parquetMetadataAsync, parquetReadObjects, parquetSchema } = await import('hyparquet');
  let spent = 0;
  const file = {
    byteLength: link.size,
    slice: async (start: number, end = link.size) => {
      spent += end - start;
      if (spent > parquetBudget) throw new Error(`more than ${formatBytes(parquetBudget, language)} to read`);
      return readRange(link.url, start, end);
    },
  };
  const metadata = await parquetMetadataAsync(file, { initialFetchSize: footer + 8 });
  const columns = parquetSchema(metadata).children.map((child) => ({
    name: child.element.name,
    type: String(child.element.logical_type?.type ?? child.element.converted_type ?? child.element.type ?? 'GROUP'),
  }));
  const rows = await parquetReadObjects({ file, metadata, rowStart: 0, rowEnd: Math.min(previewRows, Number(metadata.num_rows)) });
  return [
    h('p', {}, t('files.parquetSummary', { rows: new Intl.NumberFormat(language).format(Number(metadata.num_rows)), columns: columns.length, groups: metadata.row_groups.length })),
    table([t('files.column'), t('files.type')], columns.map((column) => [column.name, column.type]), t('files.schema')),
    table(columns.map((column) => column.name), rows.map((row) => columns.map((column) => row[column.name])), t('files.previewRows', { count: rows.length })),
  ];
}

/** The preview of `key`, or a sentence saying why there is none. */
export async function renderPreview(key: string, name: string): Promise<HTMLElement[]> {
  const kind = previewKind(key);
  if (!kind) return [h('p', {}, t('files.previewNone'))];
  const link = await api<Link>('GET', `/api/me/files/link?key=${encodeURIComponent(key)}`);
  try {
    if (kind === 'image') return [h('img', { src: link.url, alt: t('files.previewOf', { name }), class: 'atelier-preview__image', crossorigin: 'anonymous', referrerpolicy: 'no-referrer' })];
    if (kind === 'parquet') return await previewParquet(link);
    return await previewText(link, kind);
  } catch (error) {
    return [h('p', { class: 'atelier-error' }, t('files.previewFailed', { reason: (error as Error).message }))];
  }
}
