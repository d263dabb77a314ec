import { ERRORS, type ErrorCode } from '../protocol/errors.ts';

/** An error meant for the client: carries a stable code; the HTTP status comes from protocol/errors.ts. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? ERRORS[code].message);
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }
}
