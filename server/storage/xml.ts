/**
 * The little XML S3 needs: escaping for responses, and extraction of the few elements the
 * request documents carry (DeleteObjects, CompleteMultipartUpload). Request documents are small
 * and flat; a regular scan is enough and cannot be made to expand entities or fetch anything.
 */
import { S3Error } from './errors.ts';

export const xmlDeclaration = '<?xml version="1.0" encoding="UTF-8"?>\n';
export const s3Namespace = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function escapeXml(value: string): string {
  return value.replace(/[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (char) => {
    switch (char) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      case "'": return '&apos;';
      default: return `&#x${char.charCodeAt(0).toString(16)};`;
    }
  });
}

/** `<name>value</name>`, value escaped. */
export function element(name: string, value: string | number | boolean): string {
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

export function decodeXmlText(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_match, entity: string) => {
    switch (entity) {
      case 'amp': return '&';
      case 'lt': return '<';
      case 'gt': return '>';
      case 'quot': return '"';
      case 'apos': return "'";
      default: {
        const code = entity[1] === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
        if (!Number.isFinite(code) || code > 0x10ffff) throw new S3Error('MalformedXML');
        return String.fromCodePoint(code);
      }
    }
  });
}

/** Inner texts of every `<tag>…</tag>` (optionally namespaced `<x:tag>`), in order. */
export function childTexts(xml: string, tag: string): string[] {
  const pattern = new RegExp(`<(?:[A-Za-z0-9_]+:)?${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[A-Za-z0-9_]+:)?${tag}\\s*>`, 'g');
  const out: string[] = [];
  for (const match of xml.matchAll(pattern)) out.push(match[1] ?? '');
  return out;
}

/** The text of the first `<tag>` inside `xml`, entity-decoded; `undefined` when absent. */
export function childText(xml: string, tag: string): string | undefined {
  const [first] = childTexts(xml, tag);
  if (first === undefined) return undefined;
  // CDATA is allowed by XML and some clients use it for keys.
  const cdata = /^<!\[CDATA\[([\s\S]*)\]\]>$/.exec(first);
  return cdata ? cdata[1] : decodeXmlText(first);
}
