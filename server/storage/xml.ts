/**
 * The little XML S3 needs: escaping for responses, and parsing of the request documents
 * (DeleteObjects, CompleteMultipartUpload, …). Request documents are hostile input: they are parsed
 * by saxes, a streaming parser that runs in linear time, as they arrive, with a DOCTYPE refused (so
 * no entity can be defined, let alone expanded) and caps on nesting depth and element count, so a
 * document is refused as soon as it goes beyond what S3 itself accepts.
 */
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import { SaxesParser } from 'saxes';
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

/** An element of a request document: its local name (prefix dropped), children and own text. */
export interface XmlElement {
  name: string;
  children: XmlElement[];
  /** Text and CDATA directly inside the element, entities decoded. */
  text: string;
}

export interface XmlLimits {
  /** Deepest nesting accepted (the root is depth 1). */
  maxDepth: number;
  /** Elements accepted in the whole document. */
  maxElements: number;
  /** Bytes accepted in the whole document. */
  maxBytes: number;
}

function malformed(detail: string): S3Error {
  return new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema (${detail}).`);
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

/**
 * A Writable that parses the document as its bytes arrive (UTF-8) and fails the stream with
 * MalformedXML at the first fault: bad syntax, a DOCTYPE, an undefined entity, or a limit passed.
 * `root` is the document once the stream has finished.
 */
export class XmlDocumentSink extends Writable {
  root: XmlElement | undefined;
  readonly #parser = new SaxesParser({ position: false });
  readonly #decoder = new StringDecoder('utf8');
  readonly #stack: XmlElement[] = [];
  readonly #maxBytes: number;
  #elements = 0;
  #bytes = 0;

  constructor(limits: XmlLimits) {
    super();
    this.#maxBytes = limits.maxBytes;
    const parser = this.#parser;
    parser.on('doctype', () => {
      throw malformed('a DOCTYPE is not allowed');
    });
    parser.on('opentag', (tag) => {
      this.#elements += 1;
      if (this.#elements > limits.maxElements) throw malformed('too many elements');
      if (this.#stack.length >= limits.maxDepth) throw malformed('nested too deeply');
      const node: XmlElement = { name: localName(tag.name), children: [], text: '' };
      const parent = this.#stack.at(-1);
      if (parent) parent.children.push(node);
      else this.root = node;
      this.#stack.push(node);
    });
    parser.on('closetag', () => {
      this.#stack.pop();
    });
    const addText = (text: string): void => {
      const current = this.#stack.at(-1);
      if (current) current.text += text;
    };
    parser.on('text', addText);
    parser.on('cdata', addText);
    parser.on('error', (error) => {
      throw malformed(error.message);
    });
  }

  #feed(text: string): void {
    try {
      this.#parser.write(text);
    } catch (error) {
      throw error instanceof S3Error ? error : malformed(String(error));
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.#bytes += chunk.length;
      if (this.#bytes > this.#maxBytes) throw malformed('the document is too large');
      this.#feed(this.#decoder.write(chunk));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      this.#feed(this.#decoder.end());
      this.#parser.close();
      if (!this.root) throw malformed('empty document');
      callback();
    } catch (error) {
      callback(error instanceof S3Error ? error : malformed(String(error)));
    }
  }
}

/** The children of `parent` named `name`. */
export function childrenNamed(parent: XmlElement, name: string): XmlElement[] {
  return parent.children.filter((child) => child.name === name);
}

/** The text of the first child named `name`; `undefined` when absent. */
export function childText(parent: XmlElement, name: string): string | undefined {
  return parent.children.find((child) => child.name === name)?.text;
}
