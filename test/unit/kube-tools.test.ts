/**
 * server/cli/kube-tools.ts without building anything: the wrapper module it writes around
 * k8s.io/kubernetes, and the stamp that makes a second run do nothing.
 * Run: node_modules/.bin/node --test test/unit/kube-tools.test.ts
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeTools, kubeToolsDir, kubernetesWrapper, readKubeVersions, type KubeVersions } from '../../server/cli/kube-tools.ts';

const versions: KubeVersions = { kubernetes: 'v1.37.2', etcd: 'v3.7.0', kwok: 'v0.8.0' };

// The shape of k8s.io/kubernetes's own go.mod: staging modules required at v0.0.0 and pointed at
// its tree; sample modules replaced but not required; other modules at real versions.
const kubernetesGoMod = `module k8s.io/kubernetes

go 1.26.0

require (
\tgo.etcd.io/etcd/client/v3 v3.7.0
\tk8s.io/api v0.0.0
\tk8s.io/apiserver v0.0.0
\tk8s.io/klog/v2 v2.140.0
)

require k8s.io/kms v0.0.0 // indirect

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apiserver => ./staging/src/k8s.io/apiserver
\tk8s.io/kms => ./staging/src/k8s.io/kms
\tk8s.io/sample-controller => ./staging/src/k8s.io/sample-controller
)
`;

describe('kube-tools', () => {
  it('replaces each staging module Kubernetes requires by the release of the same minor and patch, and only those', () => {
    const wrapper = kubernetesWrapper(versions, kubernetesGoMod);
    const replaced = [...wrapper.matchAll(/^\t(\S+) => (\S+) (\S+)$/gm)].map(([, from, to, version]) => `${from}=>${to}@${version}`);
    assert.deepEqual(replaced, ['k8s.io/api=>k8s.io/api@v0.37.2', 'k8s.io/apiserver=>k8s.io/apiserver@v0.37.2', 'k8s.io/kms=>k8s.io/kms@v0.37.2']);
    assert.match(wrapper, /^\tk8s\.io\/kubernetes v1\.37\.2$/m);
    assert.match(wrapper, /^\tgo\.etcd\.io\/etcd\/server\/v3 v3\.7\.0$/m);
  });

  it('refuses a go.mod that names no staging module (a layout it does not know)', () => {
    assert.throws(() => kubernetesWrapper(versions, 'module k8s.io/kubernetes\n\nrequire k8s.io/api v0.37.2\n'), /names no staging module/);
  });

  it('finds the tools only with a stamp of the same versions and every file there', () => {
    const cache = mkdtempSync(join(tmpdir(), 'atelier-kube-tools-test-'));
    const previous = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = cache;
    try {
      const dir = kubeToolsDir(versions);
      assert.equal(dir, join(cache, 'atelier', 'kube', 'kubernetes-v1.37.2_etcd-v3.7.0_kwok-v0.8.0'));
      assert.equal(kubeTools(versions), undefined, 'nothing built');
      mkdirSync(join(dir, 'bin'), { recursive: true });
      mkdirSync(join(dir, 'stages'));
      for (const binary of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']) writeFileSync(join(dir, 'bin', binary), '');
      for (const stage of ['node-initialize', 'node-heartbeat-with-lease', 'pod-ready', 'pod-complete', 'pod-delete']) writeFileSync(join(dir, 'stages', `${stage}.yaml`), '');
      assert.equal(kubeTools(versions), undefined, 'no stamp: an interrupted build');
      writeFileSync(join(dir, 'stamp.json'), JSON.stringify({ versions: { ...versions, kwok: 'v0.7.0' } }));
      assert.equal(kubeTools(versions), undefined, 'a stamp of other versions');
      writeFileSync(join(dir, 'stamp.json'), JSON.stringify({ versions }));
      assert.equal(kubeTools(versions)?.kubeApiserver, join(dir, 'bin', 'kube-apiserver'));
      rmSync(join(dir, 'bin', 'kwok'));
      assert.equal(kubeTools(versions), undefined, 'a binary missing');
    } finally {
      if (previous === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = previous;
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('reads the pinned versions from test/kube/versions.json', () => {
    const pinned = readKubeVersions();
    assert.match(pinned.kubernetes, /^v1\.\d+\.\d+$/);
    assert.match(pinned.etcd, /^v3\.\d+\.\d+$/);
    assert.match(pinned.kwok, /^v0\.\d+\.\d+$/);
  });
});
