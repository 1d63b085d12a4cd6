/** ATELIER_DRIVER=kubernetes and its settings: checked together, named when wrong. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../server/config.ts';

const kubernetes = { ATELIER_DRIVER: 'kubernetes', ATELIER_LAB_IMAGE: 'registry.example/atelier-lab:1.0', ATELIER_LAB_GATEWAY: 'atelier.atelier.svc.cluster.local:4322' };

test('the local driver needs nothing more; kubernetes reads its namespace, image, gateway and server pods', () => {
  assert.equal(loadConfig({}).driver, 'local');
  assert.equal(loadConfig({}).kubernetes, undefined);
  const config = loadConfig({ ...kubernetes, ATELIER_KUBE_NAMESPACE: 'ensai-labs', ATELIER_SERVER_NAMESPACE: 'atelier', ATELIER_SERVER_POD_LABELS: 'app.kubernetes.io/name=atelier,app.kubernetes.io/instance=ensai', ATELIER_LAB_GATEWAY_PORT: '4322' });
  assert.deepEqual(config.kubernetes, {
    namespace: 'ensai-labs',
    image: 'registry.example/atelier-lab:1.0',
    gateway: { host: 'atelier.atelier.svc.cluster.local', port: 4322 },
    server: { namespace: 'atelier', podLabels: { 'app.kubernetes.io/name': 'atelier', 'app.kubernetes.io/instance': 'ensai' } },
  });
  assert.equal(config.labGatewayPort, 4322);
  assert.equal(loadConfig(kubernetes).kubernetes?.namespace, 'atelier-labs');
  assert.deepEqual(loadConfig({ ...kubernetes, ATELIER_LAB_EGRESS_CIDRS: '10.20.0.0/16,2001:db8::/32' }).kubernetes?.egressCidrs, ['10.20.0.0/16', '2001:db8::/32']);
  assert.throws(() => loadConfig({ ...kubernetes, ATELIER_LAB_EGRESS_CIDRS: 'minio.example' }), /ATELIER_LAB_EGRESS_CIDRS/);
});

test('kubernetes without an image or a gateway, or with malformed settings, is refused by name', () => {
  assert.throws(() => loadConfig({ ATELIER_DRIVER: 'kubernetes' }), /ATELIER_LAB_IMAGE and ATELIER_LAB_GATEWAY required when ATELIER_DRIVER=kubernetes/);
  assert.throws(() => loadConfig({ ...kubernetes, ATELIER_LAB_GATEWAY: 'http://x' }), /ATELIER_LAB_GATEWAY/);
  assert.throws(() => loadConfig({ ...kubernetes, ATELIER_KUBE_NAMESPACE: 'Not_A_Namespace' }), /ATELIER_KUBE_NAMESPACE/);
  assert.throws(() => loadConfig({ ...kubernetes, ATELIER_SERVER_POD_LABELS: 'no-equals-sign' }), /ATELIER_SERVER_POD_LABELS/);
  assert.throws(() => loadConfig({ ATELIER_DRIVER: 'docker' }), /ATELIER_DRIVER/);
});
