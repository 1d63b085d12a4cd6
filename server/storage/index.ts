/**
 * The embedded S3 endpoint. Mount `createS3Handler(…)` beside the site on the lab server's port
 * and route to it the requests `isS3Request` recognises (SigV4-signed, path-style).
 */
export { createS3Handler, isS3Request, type S3HandlerOptions } from './handler.ts';
export { MemoryCredentialStore, type CredentialStore, type S3Credential } from './credentials.ts';
export { S3Error, type S3ErrorCode } from './errors.ts';
