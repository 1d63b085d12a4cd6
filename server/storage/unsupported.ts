/**
 * What the endpoint does not implement is refused with 501 NotImplemented, never silently
 * ignored: a client asking for encryption, object lock, tags, an ACL other than private or another
 * storage class would otherwise believe it got them. What real clients send routinely (STANDARD,
 * private, the SDKs' `x-id`, presigned parameters) stays accepted.
 */
import { S3Error } from './errors.ts';

const refusedHeaderPrefixes = ['x-amz-server-side-encryption', 'x-amz-copy-source-server-side-encryption', 'x-amz-object-lock-', 'x-amz-grant-'];
const refusedHeaders = ['x-amz-tagging', 'x-amz-website-redirect-location'];
/** Headers accepted only with the value that means what the endpoint does anyway. */
const neutralValues: Record<string, string[]> = {
  'x-amz-acl': ['private', 'bucket-owner-full-control'],
  'x-amz-storage-class': ['STANDARD'],
};

export function refuseUnsupportedHeaders(headers: Map<string, string[]>): void {
  for (const [name, values] of headers) {
    const neutral = neutralValues[name];
    const refused = neutral
      ? values.some((value) => !neutral.includes(value.trim()))
      : refusedHeaders.includes(name) || refusedHeaderPrefixes.some((prefix) => name.startsWith(prefix));
    if (refused) throw new S3Error('NotImplemented', `The ${name} header is not implemented`, { Header: name });
  }
}

/** Query parameters of any request: authentication and the SDKs' operation hint. */
function isNeutralParameter(name: string): boolean {
  return /^x-amz-/i.test(name) || ['x-id', 'AWSAccessKeyId', 'Expires', 'Signature'].includes(name);
}

/** Parameters an object request may carry, by method (sub-resources the endpoint implements). */
const objectParameters: Record<string, string[]> = {
  GET: ['uploadId', 'partNumber', 'versionId', 'acl', 'tagging', 'max-parts', 'part-number-marker', 'encoding-type',
    'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control', 'response-content-disposition', 'response-content-encoding'],
  HEAD: ['partNumber', 'versionId', 'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control', 'response-content-disposition', 'response-content-encoding'],
  PUT: ['uploadId', 'partNumber'],
  POST: ['uploads', 'uploadId'],
  DELETE: ['uploadId', 'versionId'],
};

/** Refuses a sub-resource or parameter the endpoint does not implement for this object request. */
export function refuseUnknownObjectParameters(method: string, query: Map<string, string>): void {
  const allowed = objectParameters[method] ?? [];
  for (const [name, value] of query) {
    if (isNeutralParameter(name)) continue;
    // Without versioning, the only version of an object is "null".
    if (name === 'versionId' && value === 'null') continue;
    if (name === 'versionId' || !allowed.includes(name)) throw new S3Error('NotImplemented', `The ${name} parameter is not implemented for ${method} on an object`);
  }
}
