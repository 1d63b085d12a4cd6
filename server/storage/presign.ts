/**
 * Presigned GET URLs of a learner's objects, made with the learner's own credentials: what the
 * files page links to, so that the bytes come from the S3 origin (embedded or external), never
 * from the site's, and stop working with the learner's keys.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

export interface DownloadLink {
  /** http(s)://host[:port] of the S3 endpoint as the browser reaches it. */
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  bucket: string;
  key: string;
  /** Seconds the link works. */
  expiresIn: number;
}

/** A URL that downloads the object (Content-Disposition: attachment, named after the key's last part). */
export async function presignedDownload(link: DownloadLink): Promise<string> {
  const client = new S3Client({ endpoint: link.endpoint, region: link.region, forcePathStyle: true, credentials: link.credentials });
  try {
    const name = link.key.split('/').pop() || link.key;
    const command = new GetObjectCommand({ Bucket: link.bucket, Key: link.key, ResponseContentDisposition: `attachment; filename*=UTF-8''${encodeURIComponent(name)}` });
    return await getSignedUrl(client, command, { expiresIn: link.expiresIn });
  } finally {
    client.destroy();
  }
}
