/**
 * Browsers resolve `*.localhost` to the loopback address (RFC 6761; the lab server's default S3
 * origin is `http://s3.localhost:<port>`); Node over glibc does not. Imported by the test server
 * helper, this makes every Node client of the tests (fetch, node:http, the AWS SDK) resolve those
 * names as a browser does, so tests reach the S3 origin by its own name, Host header and
 * signatures included. Node's net module looks `dns.lookup` up at each connection, which is what
 * lets a test replace it; nothing outside the tests does.
 */
import dns from 'node:dns';

type Lookup = typeof dns.lookup;
const systemLookup: Lookup = dns.lookup;

function loopbackLookup(hostname: string, options: unknown, callback?: unknown): void {
  const done = (typeof options === 'function' ? options : callback) as (error: Error | null, address: string | dns.LookupAddress[], family?: number) => void;
  const opts = (typeof options === 'object' && options !== null ? options : typeof options === 'number' ? { family: options } : {}) as dns.LookupOptions;
  if (!hostname.toLowerCase().endsWith('.localhost')) {
    (systemLookup as (h: string, o: dns.LookupOptions, c: typeof done) => void)(hostname, opts, done);
    return;
  }
  // The lab servers of the tests listen on 127.0.0.1.
  if (opts.all) process.nextTick(done, null, [{ address: '127.0.0.1', family: 4 }]);
  else process.nextTick(done, null, '127.0.0.1', 4);
}

dns.lookup = loopbackLookup as unknown as Lookup;
