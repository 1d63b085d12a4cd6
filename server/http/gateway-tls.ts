/**
 * The lab gateway also speaks TLS, so that a datalab's usual `"https://" + AWS_S3_ENDPOINT` works
 * in a lab as written: one certificate per installation, for 127.0.0.1 and localhost (where labs
 * reach the gateway), made once by openssl (Node can sign nothing itself) and kept in the data
 * directory's keys/. Labs trust it through AWS_CA_BUNDLE, which botocore (aws, boto3, s3fs) reads.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface GatewayCertificate {
  key: string;
  cert: string;
}

export function gatewayCertificate(keysDir: string): GatewayCertificate {
  const keyFile = join(keysDir, 'gateway-tls.key');
  const certFile = join(keysDir, 'gateway-tls.crt');
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    mkdirSync(keysDir, { recursive: true, mode: 0o700 });
    const partial = (file: string) => `${file}.partial`;
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
        '-subj', '/CN=Atelier lab gateway',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-keyout', partial(keyFile), '-out', partial(certFile),
      ],
      { stdio: 'ignore' },
    );
    chmodSync(partial(keyFile), 0o600);
    renameSync(partial(certFile), certFile);
    renameSync(partial(keyFile), keyFile);
    rmSync(partial(certFile), { force: true });
  }
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
}
