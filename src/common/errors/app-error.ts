/**
 * A domain error: services throw it with a stable machine-readable code; the global
 * filter maps the code to an HTTP status and the error body of the API contract.
 */
export type ErrorCode =
  | 'bad_request'
  | 'malformed_json'
  | 'validation_failed'
  | 'unauthorized'
  | 'invalid_credentials'
  | 'forbidden'
  | 'not_found'
  | 'route_not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'quota_exceeded'
  | 'unsupported_media_type'
  | 'media_type_mismatch'
  | 'invalid_path'
  | 'zip_unsafe'
  | 'truncated_upload'
  | 'checksum_mismatch'
  | 'rate_limited'
  | 'lesson_retired'
  | 'nothing_to_publish'
  | 'enrollment_refused'
  | 'csv_header_invalid'
  | 'csv_unreadable'
  | 'internal_error';

export interface FieldDetail {
  field: string;
  message: string;
  [key: string]: unknown;
}

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  malformed_json: 400,
  validation_failed: 422,
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden: 403,
  not_found: 404,
  route_not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  quota_exceeded: 413,
  unsupported_media_type: 415,
  media_type_mismatch: 415,
  invalid_path: 422,
  zip_unsafe: 422,
  truncated_upload: 400,
  checksum_mismatch: 460,
  rate_limited: 429,
  lesson_retired: 409,
  nothing_to_publish: 409,
  enrollment_refused: 403,
  csv_header_invalid: 422,
  csv_unreadable: 422,
  internal_error: 500,
};

export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: unknown[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.status = STATUS[code];
  }

  static notFound(what: string): AppError {
    return new AppError('not_found', `${what} not found`);
  }
}
