/** The labs' services without a lab: what runs, the hand-off, the origins, the proxy's rewrites. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serviceSpec, resourcesFor, offered } from '../../server/services/catalog.ts';
import { Handoff, ticketTtlMs } from '../../server/services/handoff.ts';
import { AppOrigins } from '../../server/services/app-origins.ts';
import { cookieValue, framedCookie, framedPolicy, withoutCookie } from '../../server/http/apps.ts';
import { labDefinition } from '../../server/labs/schema.ts';
import { SERVICE_SOCKET_DIR } from '../../server/drivers/local/sandbox-args.ts';

describe('catalogue', () => {
  for (const kind of ['jupyterlab', 'vscode'] as const) {
    it(`${kind}: listens on its socket only, its password in the environment, never in argv`, () => {
      const spec = serviceSpec(kind, { password: 'S3cret-pass', workspace: '/home/onyxia/work' });
      assert.equal(spec.socket, `${SERVICE_SOCKET_DIR}/${kind}.sock`);
      assert.ok(spec.argv.some((arg) => arg.includes(spec.socket)), 'told its socket');
      assert.ok(!spec.argv.some((arg) => /port|ip=|0\.0\.0\.0|--bind/i.test(arg) && !arg.includes('sock')), `no TCP listener: ${spec.argv.join(' ')}`);
      assert.ok(!spec.argv.join(' ').includes('S3cret-pass'));
      assert.ok(Object.values(spec.env ?? {}).includes('S3cret-pass'));
      assert.ok(spec.argv.includes('/home/onyxia/work') || spec.argv.some((arg) => arg.endsWith('=/home/onyxia/work')), 'opens the workspace');
    });
  }
  it('a lab offers its catalogue in order; a service gets its own resources over the lab’s', () => {
    const lab = labDefinition.parse({
      id: 'l',
      title: { fr: 'L', en: 'L' },
      resources: { memory: '512Mi' },
      catalog: { jupyterlab: { resources: { memory: '2Gi' } }, terminal: {} },
    });
    assert.deepEqual(offered(lab), ['jupyterlab', 'terminal']);
    assert.equal(resourcesFor(lab, 'jupyterlab').memory, 2 * 1024 ** 3);
    assert.equal(resourcesFor(lab, 'terminal').memory, 512 * 1024 ** 2);
    assert.deepEqual(offered(labDefinition.parse({ id: 'm', title: { fr: 'M', en: 'M' } })), ['terminal']);
    assert.throws(() => labDefinition.parse({ id: 'n', title: { fr: 'N', en: 'N' }, catalog: {} }), /at least one service/);
    assert.throws(() => labDefinition.parse({ id: 'o', title: { fr: 'O', en: 'O' }, catalog: { rstudio: {} } }));
  });
});

describe('hand-off', () => {
  const grant = { session: 'AbCdEfGhIjKlMnOp', service: 'jupyterlab', learner: 'u123' };
  it('a ticket is redeemed once, within its minute, by the same key only', () => {
    let now = 1_000_000;
    const handoff = new Handoff('secret', () => now);
    const ticket = handoff.ticket(grant);
    assert.deepEqual(new Handoff('other secret', () => now).redeem(ticket), undefined);
    assert.deepEqual(handoff.redeem(ticket), grant);
    assert.equal(handoff.redeem(ticket), undefined, 'spent');
    const late = handoff.ticket(grant);
    now += ticketTtlMs + 1;
    assert.equal(handoff.redeem(late), undefined, 'expired');
  });
  it('a cookie is no ticket, a ticket no cookie; a changed byte is refused', () => {
    const handoff = new Handoff('secret');
    const cookie = handoff.cookie(grant);
    assert.deepEqual(handoff.grantOf(cookie), grant);
    assert.equal(handoff.redeem(cookie), undefined);
    assert.equal(handoff.grantOf(handoff.ticket(grant)), undefined);
    for (let i = 0; i < cookie.length; i += 7) {
      const flipped = cookie.slice(0, i) + (cookie[i] === 'a' ? 'b' : 'a') + cookie.slice(i + 1);
      assert.equal(handoff.grantOf(flipped), undefined, `byte ${i}`);
    }
    assert.equal(handoff.grantOf('x'.repeat(100_000)), undefined);
  });
});

describe('service origins', () => {
  const origins = new AppOrigins('http://*.apps.atelier.localhost:4321');
  it('names and parses one host per lab service', () => {
    const origin = origins.origin('abcdefghijklmnop', 'vscode');
    assert.equal(origin, 'http://vscode-abcdefghijklmnop.apps.atelier.localhost:4321');
    assert.deepEqual(origins.parse(new URL(origin).host), { appId: 'abcdefghijklmnop', kind: 'vscode' });
    for (const host of ['apps.atelier.localhost:4321', 'terminal-abcdefghijklmnop.apps.atelier.localhost:4321', 'vscode-ABCDEFGHIJKLMNOP.apps.atelier.localhost:4321', 'vscode-abc.apps.atelier.localhost:4321', 'x.vscode-abcdefghijklmnop.apps.atelier.localhost:4321', 'vscode-abcdefghijklmnop.apps.atelier.localhost:9999', 'localhost:4321', undefined]) {
      assert.equal(origins.parse(host), undefined, String(host));
    }
  });
  it('frames only under a platform host of the same site', () => {
    assert.equal(origins.framedFor('atelier.localhost:4321'), true);
    assert.equal(origins.framedFor('localhost:4321'), false, 'bare localhost: every subdomain is a site of its own');
    assert.equal(origins.framedFor('127.0.0.1:4321'), false);
    assert.equal(new AppOrigins('https://*.apps.atelier.example').framedFor('atelier.example'), true);
    assert.equal(new AppOrigins('https://*.apps.other.example').framedFor('atelier.example'), false);
  });
});

describe('proxy rewrites', () => {
  it('the service’s frame policy names the platform only, keeping its other directives', () => {
    assert.equal(framedPolicy("frame-ancestors 'self'; report-uri /api/security/csp-report", 'http://atelier.localhost:4321'), "report-uri /api/security/csp-report; frame-ancestors 'self' http://atelier.localhost:4321");
    assert.equal(framedPolicy(undefined, 'https://a.example'), "frame-ancestors 'self' https://a.example");
  });
  it('the service’s cookies live in a frame; ours never reaches it', () => {
    assert.equal(framedCookie('_xsrf=abc; Path=/; SameSite=Lax'), '_xsrf=abc; Path=/; SameSite=None; Secure; Partitioned');
    const header = 'username-x=1; atelier_service=c.grant; _xsrf=abc';
    assert.equal(cookieValue(header, 'atelier_service'), 'c.grant');
    assert.equal(withoutCookie(header, 'atelier_service'), 'username-x=1; _xsrf=abc');
    assert.equal(withoutCookie('atelier_service=c.grant', 'atelier_service'), undefined);
  });
});
