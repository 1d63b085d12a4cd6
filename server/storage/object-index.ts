/**
 * The object store's index (SQLite, one file under the S3 root): per bucket, every object's key,
 * size, ETag, date, content type and data file; multipart uploads and their parts' sizes; and
 * each bucket's usage (bytes, and a count of objects and uploads in progress, so that neither can
 * be piled up without limit), kept by triggers in the same transaction as the change. Listings page through it with an indexed range scan instead of reading every sidecar.
 *
 * The sidecars on disk stay the source of truth: the index is rebuilt from them when it is
 * missing or of another version, and a change that a crash may have cut between its sidecar and
 * its index row is recorded first as an intent (`pending`), replayed from the sidecar on open.
 *
 * Keys are stored as BLOBs of their UTF-8 bytes: SQLite compares BLOBs with memcmp, which is
 * exactly S3's listing order.
 */
import { DatabaseSync } from 'node:sqlite';
import { statementCache, type StatementCache } from '../sqlite.ts';

/** Bump when the schema or what a row means changes: the index is then rebuilt from disk. */
const schemaVersion = 2;

const schema = `
CREATE TABLE objects (
  bucket TEXT NOT NULL, key BLOB NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  last_modified INTEGER NOT NULL, content_type TEXT, data TEXT NOT NULL,
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE uploads (
  bucket TEXT NOT NULL, upload_id TEXT NOT NULL, key BLOB NOT NULL, initiated INTEGER NOT NULL,
  PRIMARY KEY (bucket, upload_id)
) WITHOUT ROWID;
CREATE INDEX uploads_by_age ON uploads (initiated);
CREATE TABLE parts (
  bucket TEXT NOT NULL, upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL,
  PRIMARY KEY (bucket, upload_id, part_number)
) WITHOUT ROWID;
CREATE TABLE usage (bucket TEXT PRIMARY KEY, bytes INTEGER NOT NULL DEFAULT 0, objects INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE pending (bucket TEXT NOT NULL, key BLOB NOT NULL, PRIMARY KEY (bucket, key)) WITHOUT ROWID;

CREATE TRIGGER objects_insert AFTER INSERT ON objects BEGIN
  INSERT INTO usage (bucket, bytes, objects) VALUES (new.bucket, new.size, 1)
    ON CONFLICT (bucket) DO UPDATE SET bytes = bytes + new.size, objects = objects + 1;
END;
CREATE TRIGGER objects_update AFTER UPDATE OF size ON objects BEGIN
  UPDATE usage SET bytes = bytes + new.size - old.size WHERE bucket = new.bucket;
END;
CREATE TRIGGER objects_delete AFTER DELETE ON objects BEGIN
  UPDATE usage SET bytes = bytes - old.size, objects = objects - 1 WHERE bucket = old.bucket;
END;
CREATE TRIGGER uploads_insert AFTER INSERT ON uploads BEGIN
  INSERT INTO usage (bucket, objects) VALUES (new.bucket, 1)
    ON CONFLICT (bucket) DO UPDATE SET objects = objects + 1;
END;
CREATE TRIGGER uploads_delete AFTER DELETE ON uploads BEGIN
  UPDATE usage SET objects = objects - 1 WHERE bucket = old.bucket;
END;
CREATE TRIGGER parts_insert AFTER INSERT ON parts BEGIN
  INSERT INTO usage (bucket, bytes) VALUES (new.bucket, new.size)
    ON CONFLICT (bucket) DO UPDATE SET bytes = bytes + new.size;
END;
CREATE TRIGGER parts_update AFTER UPDATE OF size ON parts BEGIN
  UPDATE usage SET bytes = bytes + new.size - old.size WHERE bucket = new.bucket;
END;
CREATE TRIGGER parts_delete AFTER DELETE ON parts BEGIN
  UPDATE usage SET bytes = bytes - old.size WHERE bucket = old.bucket;
END;
`;

export interface IndexedObject {
  key: string;
  size: number;
  /** Without quotes. */
  etag: string;
  /** Epoch ms. */
  lastModified: number;
  contentType: string | undefined;
  /** The data file's name in the bucket's objects directory. */
  data: string;
}

export interface IndexedUpload {
  bucket: string;
  uploadId: string;
  key: string;
  initiated: number;
}

export interface Usage {
  /** Objects and parts of uploads in progress. */
  bytes: number;
  /** Objects and uploads in progress. */
  objects: number;
}

interface ObjectRow {
  key: Uint8Array;
  size: number;
  etag: string;
  last_modified: number;
  content_type: string | null;
  data: string;
}

const utf8 = (key: string): Buffer => Buffer.from(key, 'utf8');
const text = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

function fromRow(row: ObjectRow): IndexedObject {
  return { key: text(row.key), size: row.size, etag: row.etag, lastModified: row.last_modified, contentType: row.content_type ?? undefined, data: row.data };
}

export class ObjectIndex {
  readonly #db: DatabaseSync;
  readonly #sql: StatementCache;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#sql = statementCache(this.#db);
    // synchronous=FULL: an intent must be on disk before the sidecar it announces, or a power cut
    // could leave a sidecar the index never hears of.
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.#db.exec('CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)');
  }


  #transaction<T>(task: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = task();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  /** False when the index is missing, half-built or of another schema: rebuild it from disk. */
  get current(): boolean {
    const row = this.#sql("SELECT value FROM meta WHERE name = 'version'").get() as { value: string } | undefined;
    return row?.value === String(schemaVersion);
  }

  /**
   * Empties the index for a rebuild (the version stays unset until `markCurrent`). Until then
   * nothing is synced: a crash meanwhile only means building it again.
   */
  reset(): void {
    this.#sql.clear();
    this.#db.exec('PRAGMA synchronous = OFF');
    this.#db.exec(`
      DELETE FROM meta WHERE name = 'version';
      DROP TABLE IF EXISTS objects; DROP TABLE IF EXISTS uploads; DROP TABLE IF EXISTS parts;
      DROP TABLE IF EXISTS usage; DROP TABLE IF EXISTS pending;
    `);
    this.#transaction(() => this.#db.exec(schema));
  }

  markCurrent(): void {
    // Syncing the WAL for this commit syncs every frame the rebuild wrote before it.
    this.#db.exec('PRAGMA synchronous = FULL');
    this.#sql("INSERT INTO meta (name, value) VALUES ('version', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(String(schemaVersion));
  }

  /** Loads a batch of a rebuild in one transaction. */
  load(batch: { objects: Array<{ bucket: string; object: IndexedObject }>; uploads: IndexedUpload[]; parts: Array<{ bucket: string; uploadId: string; partNumber: number; size: number }> }): void {
    this.#transaction(() => {
      for (const { bucket, object } of batch.objects) this.#upsert(bucket, object);
      for (const upload of batch.uploads) this.addUpload(upload);
      for (const part of batch.parts) this.putPart(part.bucket, part.uploadId, part.partNumber, part.size);
    });
  }

  // Objects.

  get(bucket: string, key: string): IndexedObject | undefined {
    const row = this.#sql('SELECT key, size, etag, last_modified, content_type, data FROM objects WHERE bucket = ? AND key = ?').get(bucket, utf8(key)) as ObjectRow | undefined;
    return row && fromRow(row);
  }

  /** Records that `key` is about to change on disk (see the header): call before touching its sidecar. */
  intend(bucket: string, key: string): void {
    this.#sql('INSERT OR IGNORE INTO pending (bucket, key) VALUES (?, ?)').run(bucket, utf8(key));
  }

  /** Changes a crash may have interrupted: replay each from its sidecar, then `put` or `remove` it. */
  pending(): Array<{ bucket: string; key: string }> {
    return (this.#sql('SELECT bucket, key FROM pending').all() as Array<{ bucket: string; key: Uint8Array }>).map((row) => ({ bucket: row.bucket, key: text(row.key) }));
  }

  #upsert(bucket: string, object: IndexedObject): void {
    this.#sql(
      `INSERT INTO objects (bucket, key, size, etag, last_modified, content_type, data) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, etag = excluded.etag, last_modified = excluded.last_modified,
         content_type = excluded.content_type, data = excluded.data`,
    ).run(bucket, utf8(object.key), object.size, object.etag, object.lastModified, object.contentType ?? null, object.data);
  }

  #settle(bucket: string, key: string): void {
    this.#sql('DELETE FROM pending WHERE bucket = ? AND key = ?').run(bucket, utf8(key));
  }

  /** The object as its sidecar now says, and its intent settled. */
  put(bucket: string, object: IndexedObject): void {
    this.#transaction(() => {
      this.#upsert(bucket, object);
      this.#settle(bucket, object.key);
    });
  }

  remove(bucket: string, key: string): void {
    this.#transaction(() => {
      this.#sql('DELETE FROM objects WHERE bucket = ? AND key = ?').run(bucket, utf8(key));
      this.#settle(bucket, key);
    });
  }

  /** Objects with `lower <= key < upper` (UTF-8 bytes), in key order, at most `limit`. */
  scan(bucket: string, lower: Buffer, upper: Buffer, limit: number): IndexedObject[] {
    const rows = this.#sql('SELECT key, size, etag, last_modified, content_type, data FROM objects WHERE bucket = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?').all(bucket, lower, upper, limit) as unknown as ObjectRow[];
    return rows.map(fromRow);
  }

  /** Every data file the bucket's objects name (to find what a crash left unreferenced). */
  dataFiles(bucket: string): Set<string> {
    return new Set((this.#sql('SELECT data FROM objects WHERE bucket = ?').all(bucket) as Array<{ data: string }>).map((row) => row.data));
  }

  hasObjects(bucket: string): boolean {
    return this.#sql('SELECT 1 FROM objects WHERE bucket = ? LIMIT 1').get(bucket) !== undefined;
  }

  usage(bucket: string): Usage {
    const row = this.#sql('SELECT bytes, objects FROM usage WHERE bucket = ?').get(bucket) as Usage | undefined;
    return row ? { bytes: row.bytes, objects: row.objects } : { bytes: 0, objects: 0 };
  }

  // Multipart uploads.

  addUpload(upload: IndexedUpload): void {
    this.#sql('INSERT OR IGNORE INTO uploads (bucket, upload_id, key, initiated) VALUES (?, ?, ?, ?)').run(upload.bucket, upload.uploadId, utf8(upload.key), upload.initiated);
  }

  uploads(bucket: string): IndexedUpload[] {
    const rows = this.#sql('SELECT upload_id, key, initiated FROM uploads WHERE bucket = ? ORDER BY key, initiated').all(bucket) as Array<{ upload_id: string; key: Uint8Array; initiated: number }>;
    return rows.map((row) => ({ bucket, uploadId: row.upload_id, key: text(row.key), initiated: row.initiated }));
  }

  /** The oldest uploads initiated before `before`, at most `limit`. */
  uploadsBefore(before: number, limit: number): IndexedUpload[] {
    const rows = this.#sql('SELECT bucket, upload_id, key, initiated FROM uploads WHERE initiated < ? ORDER BY initiated LIMIT ?').all(before, limit) as Array<{ bucket: string; upload_id: string; key: Uint8Array; initiated: number }>;
    return rows.map((row) => ({ bucket: row.bucket, uploadId: row.upload_id, key: text(row.key), initiated: row.initiated }));
  }

  partSize(bucket: string, uploadId: string, partNumber: number): number {
    const row = this.#sql('SELECT size FROM parts WHERE bucket = ? AND upload_id = ? AND part_number = ?').get(bucket, uploadId, partNumber) as { size: number } | undefined;
    return row?.size ?? 0;
  }

  /** Records a part's size; false (nothing recorded) when its upload is gone. */
  putPart(bucket: string, uploadId: string, partNumber: number, size: number): boolean {
    const result = this.#sql(
      `INSERT INTO parts (bucket, upload_id, part_number, size)
       SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM uploads WHERE bucket = ? AND upload_id = ?)
       ON CONFLICT (bucket, upload_id, part_number) DO UPDATE SET size = excluded.size`,
    ).run(bucket, uploadId, partNumber, size, bucket, uploadId);
    return Number(result.changes) > 0;
  }

  #dropUpload(bucket: string, uploadId: string): void {
    this.#sql('DELETE FROM parts WHERE bucket = ? AND upload_id = ?').run(bucket, uploadId);
    this.#sql('DELETE FROM uploads WHERE bucket = ? AND upload_id = ?').run(bucket, uploadId);
  }

  removeUpload(bucket: string, uploadId: string): void {
    this.#transaction(() => this.#dropUpload(bucket, uploadId));
  }

  /** The upload's parts become the object, in one transaction (usage moves from parts to the object). */
  completeUpload(bucket: string, uploadId: string, object: IndexedObject): void {
    this.#transaction(() => {
      this.#dropUpload(bucket, uploadId);
      this.#upsert(bucket, object);
      this.#settle(bucket, object.key);
    });
  }

  close(): void {
    this.#sql.clear();
    this.#db.close();
  }
}
