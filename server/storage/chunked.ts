/**
 * The request body as S3 means it: the aws-chunked framing removed (`STREAMING-…` modes), chunk
 * and trailer signatures verified, and the payload checked against what the client declared
 * (`x-amz-content-sha256`, `Content-MD5`, `x-amz-checksum-*` as header or trailer,
 * `x-amz-decoded-content-length`). Everything streams; a failed check errors the stream at its
 * end, before the store commits anything.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { createChecksum, isChecksumAlgorithm, type Checksum, type ChecksumAlgorithm } from './checksums.ts';
import { S3Error } from './errors.ts';
import { headerValue, type Authenticated, type ChunkSigner } from './sigv4.ts';

const maxLine = 8 * 1024;
const maxTrailers = 16;

type State = 'size' | 'data' | 'data-crlf' | 'trailer' | 'done';

/** Decodes an aws-chunked body; verifies chunk signatures when `signer` is given. */
export class AwsChunkedDecoder extends Transform {
  readonly trailers = new Map<string, string>();
  decodedLength = 0;
  readonly #signer: ChunkSigner | undefined;
  readonly #signedTrailer: boolean;
  #state: State = 'size';
  #line: Buffer[] = [];
  #lineLength = 0;
  #remaining = 0;
  #crlfSeen = 0;
  #chunkHash: Hash | undefined;
  #chunkSignature = '';
  #trailerLines: string[] = [];

  constructor(signer: ChunkSigner | undefined, signedTrailer = false) {
    super();
    this.#signer = signer;
    this.#signedTrailer = signedTrailer;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    // Some clients end right after the last trailer line, without the closing empty line.
    if (this.#state === 'trailer' && this.#lineLength === 0) this.#finishTrailers();
    if (this.#state !== 'done') return callback(new S3Error('IncompleteBody', 'The aws-chunked body ended early'));
    callback();
  }

  #consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      switch (this.#state) {
        case 'size':
        case 'trailer': {
          const newline = chunk.indexOf(0x0a, offset);
          const end = newline === -1 ? chunk.length : newline;
          this.#line.push(chunk.subarray(offset, end));
          this.#lineLength += end - offset;
          if (this.#lineLength > maxLine) throw malformed('chunk header line too long');
          if (newline === -1) return;
          offset = newline + 1;
          let line = Buffer.concat(this.#line).toString('latin1');
          this.#line = [];
          this.#lineLength = 0;
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (this.#state === 'size') this.#chunkHeader(line);
          else this.#trailerLine(line);
          break;
        }
        case 'data': {
          const take = Math.min(this.#remaining, chunk.length - offset);
          const data = chunk.subarray(offset, offset + take);
          this.#chunkHash?.update(data);
          this.push(data);
          this.decodedLength += take;
          this.#remaining -= take;
          offset += take;
          if (this.#remaining === 0) {
            this.#state = 'data-crlf';
            this.#crlfSeen = 0;
          }
          break;
        }
        case 'data-crlf': {
          const expected = this.#crlfSeen === 0 ? 0x0d : 0x0a;
          if (chunk[offset] !== expected) throw malformed('chunk data not followed by CRLF');
          offset += 1;
          this.#crlfSeen += 1;
          if (this.#crlfSeen === 2) {
            this.#verifyChunk();
            this.#state = 'size';
          }
          break;
        }
        case 'done':
          // Nothing may follow the final empty line but stray whitespace.
          if (chunk.subarray(offset).toString('latin1').trim() !== '') throw malformed('data after the final chunk');
          return;
      }
    }
  }

  #chunkHeader(line: string): void {
    const [sizeText = '', ...extensions] = line.split(';');
    if (!/^[0-9a-fA-F]{1,15}$/.test(sizeText.trim())) throw malformed('bad chunk size');
    const size = parseInt(sizeText.trim(), 16);
    this.#chunkSignature = '';
    for (const extension of extensions) {
      const [name, value] = extension.split('=', 2);
      if (name?.trim() === 'chunk-signature' && value !== undefined) this.#chunkSignature = value.trim();
    }
    if (this.#signer && !this.#chunkSignature) throw new S3Error('SignatureDoesNotMatch', 'Missing chunk signature');
    this.#chunkHash = this.#signer ? createHash('sha256') : undefined;
    if (size === 0) {
      this.#verifyChunk();
      this.#state = 'trailer';
      return;
    }
    this.#remaining = size;
    this.#state = 'data';
  }

  #verifyChunk(): void {
    if (!this.#signer || !this.#chunkHash) return;
    const ok = this.#signer.verifyChunk(this.#chunkHash.digest('hex'), this.#chunkSignature);
    this.#chunkHash = undefined;
    if (!ok) throw new S3Error('SignatureDoesNotMatch', 'The chunk signature does not match');
  }

  #trailerLine(line: string): void {
    if (line === '') {
      this.#finishTrailers();
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed('bad trailer line');
    if (this.#trailerLines.length >= maxTrailers) throw malformed('too many trailers');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      if (!this.#signer) throw malformed('unexpected trailer signature');
      const canonical = this.#trailerLines.join('');
      if (!this.#signer.verifyTrailer(canonical, value)) throw new S3Error('SignatureDoesNotMatch', 'The trailer signature does not match');
      this.trailers.set(name, value);
      return;
    }
    this.#trailerLines.push(`${name}:${value}\n`);
    this.trailers.set(name, value);
  }

  #finishTrailers(): void {
    if (this.#signedTrailer && this.#trailerLines.length > 0 && !this.trailers.has('x-amz-trailer-signature')) {
      throw new S3Error('SignatureDoesNotMatch', 'Missing trailer signature');
    }
    this.#state = 'done';
  }
}

function malformed(detail: string): S3Error {
  return new S3Error('IncompleteBody', `Malformed aws-chunked body: ${detail}`);
}

/** Checks the decoded payload against what the request declared; errors at the end if it differs. */
export class PayloadVerifier extends Transform {
  size = 0;
  readonly #sha256: Hash | undefined;
  readonly #expectedSha256: string | undefined;
  readonly #md5: Hash | undefined;
  readonly #expectedMd5: string | undefined;
  readonly #checksum: { name: ChecksumAlgorithm; checksum: Checksum; expected: () => string | undefined } | undefined;
  readonly #expectedLength: number | undefined;
  #computed: { algorithm: ChecksumAlgorithm; value: string } | undefined;

  constructor(options: {
    expectedSha256?: string;
    expectedMd5Base64?: string;
    /** `expected` undefined: the checksum is computed (to be stored) but there is nothing to check. */
    checksum?: { algorithm: string; expected: (() => string | undefined) | undefined };
    expectedLength?: number;
  }) {
    super();
    this.#expectedSha256 = options.expectedSha256?.toLowerCase();
    this.#sha256 = this.#expectedSha256 ? createHash('sha256') : undefined;
    this.#expectedMd5 = options.expectedMd5Base64;
    this.#md5 = this.#expectedMd5 ? createHash('md5') : undefined;
    if (options.checksum && isChecksumAlgorithm(options.checksum.algorithm)) {
      const expected = options.checksum.expected;
      this.#checksum = { name: options.checksum.algorithm, checksum: createChecksum(options.checksum.algorithm), expected: expected ?? (() => this.#computed?.value) };
    }
    this.#expectedLength = options.expectedLength;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    this.#sha256?.update(chunk);
    this.#md5?.update(chunk);
    this.#checksum?.checksum.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#expectedLength !== undefined && this.size !== this.#expectedLength) {
      return callback(new S3Error('IncompleteBody'));
    }
    if (this.#sha256 && this.#sha256.digest('hex') !== this.#expectedSha256) {
      return callback(new S3Error('XAmzContentSHA256Mismatch'));
    }
    if (this.#md5 && this.#md5.digest('base64') !== this.#expectedMd5) return callback(new S3Error('BadDigest'));
    if (this.#checksum) {
      this.#computed = { algorithm: this.#checksum.name, value: this.#checksum.checksum.digest() };
      const expected = this.#checksum.expected();
      if (expected === undefined) return callback(new S3Error('InvalidRequest', `Missing x-amz-checksum-${this.#checksum.name}`));
      if (this.#computed.value !== expected) {
        return callback(new S3Error('BadDigest', `The ${this.#checksum.name.toUpperCase()} you specified did not match the calculated checksum.`));
      }
    }
    callback();
  }

  /** The additional checksum of the payload, verified; known once the stream has ended. */
  get checksum(): { algorithm: ChecksumAlgorithm; value: string } | undefined {
    return this.#computed;
  }
}

/** The additional checksum of the payload that went through `stages` (from `payloadStages`). */
export function payloadChecksum(stages: NodeJS.ReadableStream[]): { algorithm: ChecksumAlgorithm; value: string } | undefined {
  const verifier = stages.at(-1);
  return verifier instanceof PayloadVerifier ? verifier.checksum : undefined;
}

/**
 * The stages that turn a request into its verified payload: `[req, decoder?, verifier]`, to
 * be piped (with `stream.pipeline`) into wherever the payload goes.
 */
export function payloadStages(
  req: NodeJS.ReadableStream,
  headers: Map<string, string[]>,
  auth: Authenticated,
  /** False where `x-amz-checksum-*` headers describe something else than the body (CompleteMultipartUpload). */
  checksumHeadersDescribeBody = true,
): NodeJS.ReadableStream[] {
  const mode = auth.payloadHash;
  const stages: NodeJS.ReadableStream[] = [req];
  let decoder: AwsChunkedDecoder | undefined;
  let expectedSha256: string | undefined;
  switch (mode) {
    case 'UNSIGNED-PAYLOAD':
      break;
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      decoder = new AwsChunkedDecoder(undefined);
      break;
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      decoder = new AwsChunkedDecoder(auth.chunks);
      break;
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      decoder = new AwsChunkedDecoder(auth.chunks, true);
      break;
    default:
      if (!/^[0-9a-fA-F]{64}$/.test(mode)) throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or a SHA-256 hex digest');
      if (auth.presigned && mode.toLowerCase() !== mode) throw new S3Error('InvalidArgument');
      expectedSha256 = mode;
  }
  if (decoder) stages.push(decoder);

  // Which additional checksum the client sent: as a trailer (declared by x-amz-trailer) or a header.
  let checksum: { algorithm: string; expected: (() => string | undefined) | undefined } | undefined;
  const trailer = headerValue(headers, 'x-amz-trailer')?.trim().toLowerCase();
  if (trailer && decoder) {
    const match = /^x-amz-checksum-([a-z0-9]+)$/.exec(trailer);
    if (!match || !isChecksumAlgorithm(match[1]!)) throw new S3Error('InvalidRequest', `Unsupported trailer: ${trailer}`);
    const trailers = decoder.trailers;
    checksum = { algorithm: match[1]!, expected: () => trailers.get(trailer) };
  } else if (checksumHeadersDescribeBody) {
    for (const [name, values] of headers) {
      const match = /^x-amz-checksum-([a-z0-9]+)$/.exec(name);
      if (match && isChecksumAlgorithm(match[1]!)) {
        const value = values.join(',');
        checksum = { algorithm: match[1]!, expected: () => value };
        break;
      }
    }
    // An algorithm named without a value (x-amz-sdk-checksum-algorithm): computed, to be stored.
    const named = headerValue(headers, 'x-amz-sdk-checksum-algorithm')?.trim().toLowerCase();
    if (!checksum && named !== undefined) {
      if (!isChecksumAlgorithm(named)) throw new S3Error('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.');
      checksum = { algorithm: named, expected: undefined };
    }
  }

  const decodedLength = headerValue(headers, 'x-amz-decoded-content-length');
  let expectedLength: number | undefined;
  if (decoder && decodedLength !== undefined) {
    if (!/^\d{1,15}$/.test(decodedLength)) throw new S3Error('InvalidArgument', 'Bad x-amz-decoded-content-length');
    expectedLength = Number(decodedLength);
  }
  const md5 = headerValue(headers, 'content-md5');
  if (md5 !== undefined && !/^[A-Za-z0-9+/]{22}==$/.test(md5)) throw new S3Error('InvalidDigest');

  stages.push(new PayloadVerifier({ expectedSha256, expectedMd5Base64: md5, checksum, expectedLength }));
  return stages;
}
