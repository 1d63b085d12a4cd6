import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../server/config.ts';
import { configError } from '../helpers/config.ts';

const external = { ATELIER_S3_ENDPOINT: 'http://minio:9000', ATELIER_S3_ADMIN_ACCESS_KEY_ID: 'atelier', ATELIER_S3_ADMIN_SECRET_ACCESS_KEY: 'secret-secret' };

test('S3 origin, presign cap and credential lifetime: defaults and settings', () => {
  const defaults = loadConfig({});
  assert.equal(defaults.s3Origin, undefined, 'unset: s3.localhost on the port listened on');
  assert.equal(defaults.s3PresignMaxExpiry, 24 * 3600_000);
  assert.equal(defaults.s3CredentialTtl, 24 * 3600_000);
  const set = loadConfig({ ATELIER_S3_ORIGIN: 'https://s3.atelier.example/', ATELIER_S3_PRESIGN_MAX_EXPIRY: '15m', ATELIER_S3_CREDENTIAL_TTL: '2h' });
  assert.equal(set.s3Origin, 'https://s3.atelier.example');
  assert.equal(set.s3PresignMaxExpiry, 15 * 60_000);
  assert.equal(set.s3CredentialTtl, 2 * 3600_000);
  assert.equal(loadConfig(external).s3CredentialTtl, 12 * 3600_000, 'external: STS default');
  assert.match(configError({ ATELIER_S3_ORIGIN: 's3.localhost' }), /ATELIER_S3_ORIGIN="s3.localhost": expected http\(s\):\/\/host\[:port\]/);
  assert.match(configError({ ATELIER_S3_ORIGIN: 'http://s3.example/path' }), /ATELIER_S3_ORIGIN/);
  assert.match(configError({ ATELIER_S3_PRESIGN_MAX_EXPIRY: '169h' }), /ATELIER_S3_PRESIGN_MAX_EXPIRY="169h": must be from 1s to 168h/);
  assert.match(configError({ ATELIER_S3_CREDENTIAL_TTL: '10m' }), /ATELIER_S3_CREDENTIAL_TTL/);
  assert.match(configError({ ...external, ATELIER_S3_CREDENTIAL_TTL: '24h' }), /must be from 15m to 12h with an external S3/);
});
