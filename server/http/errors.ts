/**
 * The API's one error type and its handler. Every error leaves as
 * `{ error: { code, message } }` (plus `field` for bad requests), the message in the caller's
 * language; never a stack trace: unexpected errors are logged and answered as `internal`.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { translator, type Language } from '../../i18n/index.ts';
import { QuotaExceededError } from '../storage/quota.ts';
import { BrowseBusyError } from '../forge/index.ts';
import { languageOf } from './language.ts';

export const errorStatus = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  cross_site: 403,
  s3_keys_fixed: 409,
  not_found: 404,
  unknown_lab: 404,
  unknown_check: 404,
  not_solvable: 409,
  solve_busy: 409,
  lab_gone: 404,
  too_large: 413,
  files_quota_bytes: 403,
  files_quota_objects: 403,
  too_many_labs: 429,
  too_many_terminals: 429,
  too_many_secret_groups: 409,
  too_many_repository_views: 429,
  rate_limited: 429,
  too_many_visitors: 429,
  unknown_page: 404,
  unknown_step: 404,
  step_checked: 403,
  too_many_progress_pages: 409,
  too_many_progress_streams: 429,
  extend_limit: 409,
  lab_not_started: 409,
  usage_unavailable: 501,
  queue_full: 503,
  internal: 500,
  lab_failed: 503,
  unknown_service: 404,
  service_failed: 503,
  trainer_required: 401,
  trainer_token_invalid: 401,
  too_many_attempts: 429,
  class_closed: 409,
  too_many_class_views: 429,
  too_many_messages: 429,
  too_many_classes: 409,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string };
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Interpolation values of the message (i18n key `errors.<code>`). */
  readonly params: Record<string, string | number>;
  /** For bad_request: the offending field, as a dotted path ("lab", "body"). */
  readonly field: string | undefined;
  /** Sent as Retry-After when the caller may simply try again later. */
  retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, params: Record<string, string | number> = {}, field?: string) {
    super(code);
    this.name = 'ApiError';
    this.code = code;
    this.status = errorStatus[code];
    this.params = params;
    this.field = field;
  }
}

/** The error body for `code`, worded in `language`. */
export function errorBody(code: ErrorCode, language: Language, params: Record<string, string | number> = {}, field?: string): ErrorBody {
  const message = translator(language)(`errors.${code}`, params);
  return { error: { code, message, ...(field === undefined ? {} : { field }) } };
}

/** Validates `value` with `schema`; throws a bad_request naming the first wrong field, in `language`. */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown, language: Language, root = 'body'): z.output<T> {
  const parsed = schema.safeParse(value, { error: z.locales[language]().localeError });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : root;
  throw new ApiError('bad_request', { field, problem: issue.message }, field);
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: ApiError): FastifyReply {
  if (error.code === 'unauthorized') void reply.header('www-authenticate', 'Bearer');
  if (error.retryAfterSeconds !== undefined) void reply.header('retry-after', String(error.retryAfterSeconds));
  return reply
    .code(error.status)
    .header('cache-control', 'no-store')
    .send(errorBody(error.code, languageOf(request.headers), error.params, error.field));
}

const byteUnits = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;

/** Binary multiples with the language's own unit names ("10 Go", "10 GB"). */
function formatBytes(bytes: number, language: Language): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < byteUnits.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return new Intl.NumberFormat(language, { style: 'unit', unit: byteUnits[unit], unitDisplay: 'short', maximumFractionDigits: 1 }).format(value);
}

/** A bucket quota the object store refused a write with, for "My files". */
function quotaError(error: QuotaExceededError, language: Language): ApiError {
  if (error.kind === 'objects') return new ApiError('files_quota_objects', { maximum: error.maximum, used: error.used });
  return new ApiError('files_quota_bytes', { maximum: formatBytes(error.maximum, language), used: formatBytes(error.used, language) });
}

/** Maps fastify's own errors (body parsing, limits), storage quotas and busy repository views to API errors; undefined: unexpected. */
function toApiError(error: FastifyError, language: Language): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if ((error as unknown) instanceof QuotaExceededError) return quotaError(error as unknown as QuotaExceededError, language);
  if ((error as unknown) instanceof BrowseBusyError) return new ApiError('too_many_repository_views', { max: (error as unknown as BrowseBusyError).max });
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413) return new ApiError('too_large');
  const clientError = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500;
  if (error.code?.startsWith('FST_ERR_CTP_') || error instanceof SyntaxError || clientError) {
    const problem = translator(language)('errors.invalid_json');
    return new ApiError('bad_request', { field: 'body', problem }, 'body');
  }
  return undefined;
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error, languageOf(request.headers));
    if (apiError) return sendError(request, reply, apiError);
    request.log.error({ err: error }, 'unexpected error');
    return sendError(request, reply, new ApiError('internal'));
  });
}
