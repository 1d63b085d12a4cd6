/** ATELIER_OIDC_*: off by default, read together, and every bad value named without quoting the secret. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.ts';
import { configError } from '../helpers/config.ts';
import { OidcClient } from '../../server/auth/oidc.ts';

const base = { ATELIER_OIDC_ISSUER: 'https://auth.school.example/realms/school', ATELIER_OIDC_CLIENT_ID: 'atelier' };

test('OpenID Connect: unset, anonymous learners only; set, its issuer, client, scopes and trainer rule', () => {
  assert.equal(loadConfig({}).oidc, undefined);
  assert.deepEqual(loadConfig(base).oidc, { issuer: base.ATELIER_OIDC_ISSUER, clientId: 'atelier', scopes: 'openid profile email' });
  const full = loadConfig({ ...base, ATELIER_OIDC_CLIENT_SECRET: 'the-secret', ATELIER_OIDC_SCOPES: 'openid profile email groups', ATELIER_OIDC_TRAINER_CLAIM: 'realm_access.roles=trainer' }).oidc;
  assert.deepEqual(full, { ...loadConfig(base).oidc, clientSecret: 'the-secret', scopes: 'openid profile email groups', trainer: { claim: ['realm_access', 'roles'], value: 'trainer' } });
  assert.equal(loadConfig({ ...base, ATELIER_OIDC_ISSUER: 'http://127.0.0.1:9000' }).oidc?.issuer, 'http://127.0.0.1:9000', 'plain http on this machine');

  const dir = mkdtempSync(join(tmpdir(), 'atelier-oidc-config-'));
  try {
    writeFileSync(join(dir, 'secret'), 'from-a-file\n');
    assert.equal(loadConfig({ ...base, ATELIER_OIDC_CLIENT_SECRET_FILE: join(dir, 'secret') }).oidc?.clientSecret, 'from-a-file');
    writeFileSync(join(dir, 'empty'), '\n');
    assert.match(configError({ ...base, ATELIER_OIDC_CLIENT_SECRET_FILE: join(dir, 'empty') }), /ATELIER_OIDC_CLIENT_SECRET_FILE=.*: the file is empty/);
    assert.match(configError({ ...base, ATELIER_OIDC_CLIENT_SECRET_FILE: join(dir, 'missing') }), /ATELIER_OIDC_CLIENT_SECRET_FILE=.*: cannot be read \(ENOENT\)/);
    assert.match(configError({ ...base, ATELIER_OIDC_CLIENT_SECRET: 'x', ATELIER_OIDC_CLIENT_SECRET_FILE: join(dir, 'secret') }), /both set/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('OpenID Connect: bad values are named, the secret never quoted', () => {
  assert.match(configError({ ATELIER_OIDC_CLIENT_ID: 'atelier' }), /ATELIER_OIDC_CLIENT_ID is set but ATELIER_OIDC_ISSUER is not/);
  assert.match(configError({ ATELIER_OIDC_ISSUER: base.ATELIER_OIDC_ISSUER }), /ATELIER_OIDC_CLIENT_ID required/);
  assert.match(configError({ ...base, ATELIER_OIDC_ISSUER: 'auth.school.example' }), /ATELIER_OIDC_ISSUER="auth.school.example": expected the provider's issuer URL/);
  assert.match(configError({ ...base, ATELIER_OIDC_ISSUER: 'http://auth.school.example' }), /ATELIER_OIDC_ISSUER=.*: expected https/);
  assert.match(configError({ ...base, ATELIER_OIDC_SCOPES: 'profile email' }), /ATELIER_OIDC_SCOPES="profile email": must include openid/);
  assert.match(configError({ ...base, ATELIER_OIDC_TRAINER_CLAIM: 'groups' }), /ATELIER_OIDC_TRAINER_CLAIM="groups": expected claim=value/);
  assert.match(configError({ ...base, ATELIER_OIDC_TRAINER_CLAIM: 'groups=a=b' }), /ATELIER_OIDC_TRAINER_CLAIM/);
  const message = configError({ ...base, ATELIER_OIDC_CLIENT_SECRET: 'hunter2-secret', ATELIER_OIDC_SCOPES: 'profile' });
  assert.match(message, /ATELIER_OIDC_SCOPES/);
  assert.doesNotMatch(message, /hunter2/);
});

test('the trainer rule: a claim equal to the value or a list holding it, along a dotted path; no rule, no trainer', () => {
  const client = (claim?: string) => {
    const { oidc } = loadConfig({ ...base, ATELIER_OIDC_ISSUER: 'http://127.0.0.1:1', ...(claim ? { ATELIER_OIDC_TRAINER_CLAIM: claim } : {}) });
    const made = new OidcClient(oidc!, () => undefined);
    made.close();
    return made;
  };
  const groups = client('groups=trainers');
  assert.equal(groups.isTrainer({ groups: ['staff', 'trainers'] }), true);
  assert.equal(groups.isTrainer({ groups: 'trainers' }), true);
  assert.equal(groups.isTrainer({ groups: ['trainers-not'] }), false);
  assert.equal(groups.isTrainer({}), false);
  const keycloak = client('realm_access.roles=trainer');
  assert.equal(keycloak.isTrainer({ realm_access: { roles: ['offline_access', 'trainer'] } }), true);
  assert.equal(keycloak.isTrainer({ realm_access: { roles: ['student'] } }), false);
  assert.equal(keycloak.isTrainer({ realm_access: null }), false);
  assert.equal(keycloak.isTrainer({ realm_access: Object.create({ roles: ['trainer'] }) }), false, 'own claims only, never inherited ones');
  assert.equal(client().isTrainer({ groups: ['trainers'] }), false);
});
