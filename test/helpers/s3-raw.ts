/**
 * Raw SigV4-signed S3 requests, for what SDKs will not send (hostile bodies, odd headers). The
 * request goes to `connectTo` (a loopback address) with the `Host` of `endpoint`, so an endpoint
 * on a `*.localhost` origin works although Node does not resolve those names.
 */
import { createHash, createHmac } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface RawCredential {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface RawTarget {
  /** The S3 endpoint as clients are given it (its host goes in `Host` and in the signature). */
  endpoint: string;
  /** Where to connect: `{ host: '127.0.0.1', port }`; the endpoint's own host and port when absent. */
  connectTo?: { host: string; port: number };
  region: string;
}

export interface RawResponse {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** `path` is sent exactly as given (already URI-encoded), query included. */
export function rawSigned(target: RawTarget, credential: RawCredential, method: string, path: string, body: Buffer | string = '', headers: Record<string, string> = {}): Promise<RawResponse> {
  const url = new URL(target.endpoint);
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const date = amzDate.slice(0, 8);
  const payload = Buffer.from(body);
  const all: Record<string, string> = {
    host: url.host,
    'x-amz-date': amzDate,
    'x-amz-content-sha256': sha256(payload),
    ...(credential.sessionToken ? { 'x-amz-security-token': credential.sessionToken } : {}),
    ...headers,
  };
  const lower = Object.fromEntries(Object.entries(all).map(([name, value]) => [name.toLowerCase(), value]));
  const signed = Object.keys(lower).sort();
  const [rawPath = '/', rawQuery = ''] = path.split('?');
  const query = rawQuery.split('&').filter(Boolean).map((part) => (part.includes('=') ? part : `${part}=`)).sort().join('&');
  const canonical = [method, rawPath, query, signed.map((name) => `${name}:${lower[name]}\n`).join(''), signed.join(';'), lower['x-amz-content-sha256']].join('\n');
  const scope = `${date}/${target.region}/s3/aws4_request`;
  let key: Buffer = createHmac('sha256', `AWS4${credential.secretAccessKey}`).update(date).digest();
  for (const part of [target.region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(`AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256(canonical)}`).digest('hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${credential.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
  const connectTo = target.connectTo ?? { host: url.hostname, port: Number(url.port || 80) };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ ...connectTo, method, path, headers: { ...lower, authorization, 'content-length': String(payload.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
