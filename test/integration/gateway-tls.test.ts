/**
 * The practical's own s3fs code, as a datalab page writes it (`"https://" + AWS_S3_ENDPOINT`), in
 * a real lab: the lab gateway answers TLS with the installation's certificate, which the lab
 * trusts through AWS_CA_BUNDLE; plain http:// keeps working on the same port.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testLabId, type TestServer } from '../helpers/server.ts';
import { LearnerClient, inLabOk } from '../helpers/learner.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server?.cleanup());

test('s3fs over https://$AWS_S3_ENDPOINT writes and reads the learner’s bucket; http:// still answers', async () => {
  const learner = new LearnerClient(server.url);
  const lab = await learner.launch(testLabId);
  const script = [
    'import os, s3fs',
    'S3_ENDPOINT_URL = "https://" + os.environ["AWS_S3_ENDPOINT"]',
    "fs = s3fs.S3FileSystem(client_kwargs={'endpoint_url': S3_ENDPOINT_URL})",
    'path = os.environ["AWS_BUCKET"] + "/tls/hello.txt"',
    'fs.pipe(path, b"bonjour")',
    'print(fs.cat(path).decode(), fs.ls(os.environ["AWS_BUCKET"] + "/tls"))',
  ].join('\n');
  const https = await inLabOk(server, lab.id, `python3 - <<'EOF'\n${script}\nEOF`, 60_000);
  assert.match(https.stdout, /^bonjour \[.*tls\/hello\.txt/m);
  // The certificate is the one the lab was told to trust, not any: without it, TLS is refused.
  const untrusted = await inLabOk(server, lab.id, 'curl -s -o /dev/null -w "%{http_code}" "https://$AWS_S3_ENDPOINT/" || echo " refused $?"');
  assert.match(untrusted.stdout, /refused 60/);
  const trusted = await inLabOk(server, lab.id, 'curl -s -o /dev/null -w "%{http_code}" --cacert "$AWS_CA_BUNDLE" "https://$AWS_S3_ENDPOINT/"');
  assert.match(trusted.stdout, /^[234]\d\d$/);
  const plain = await inLabOk(server, lab.id, 'curl -s -o /dev/null -w "%{http_code}" "$AWS_ENDPOINT_URL/"');
  assert.match(plain.stdout, /^[234]\d\d$/);
  await learner.deleteLab(lab.id);
});
