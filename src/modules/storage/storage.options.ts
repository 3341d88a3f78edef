export const STORAGE_OPTIONS = Symbol('STORAGE_OPTIONS');

export interface S3StorageOptions {
  /** Unset for AWS itself; the URL of MinIO, Ceph RGW or another S3-compatible server otherwise. */
  endpoint?: string;
  bucket: string;
  region: string;
  /** Both unset: the AWS SDK's default credential chain applies. */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** MinIO and most self-hosted servers need path-style URLs (`endpoint/bucket/key`). */
  forcePathStyle: boolean;
}

export interface StorageOptions {
  driver: 'fs' | 's3';
  /** Holds `tmp/` (staging) for both drivers and `blobs/` for the fs driver. */
  dataDir: string;
  /** Required when driver is 's3'. */
  s3?: S3StorageOptions;
}
