/**
 * Every error that crosses the wire: a stable code, its HTTP status and a human sentence.
 * Clients switch on `code`; the sentence may change wording, the code never does.
 */
export const ERRORS = {
  AUTH_REQUIRED: { status: 401, message: 'A bearer token is required.' },
  AUTH_INVALID: { status: 401, message: 'The bearer token is invalid or has expired.' },
  HANDSHAKE_REQUIRED: { status: 412, message: 'The X-N3XUS-Handshake header must be 55-45-17.' },
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request body must be JSON.' },
  NOT_FOUND: { status: 404, message: 'No such resource.' },
  SESSION_NOT_FOUND: { status: 404, message: 'No such session.' },
  UNKNOWN_TIER: { status: 400, message: 'That resource tier does not exist.' },
  TIER_NOT_ALLOWED: { status: 403, message: 'Your subscription does not include that tier.' },
  QUOTA_EXCEEDED: { status: 403, message: 'A resource quota would be exceeded.' },
  BALANCE_TOO_LOW: { status: 402, message: 'Your NexCoin balance does not cover the first billing period.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; try again shortly.' },
  NOT_READY: { status: 503, message: 'The service is not ready.' },
  ILLEGAL_TRANSITION: { status: 409, message: 'The session is not in a state that allows this.' },
  TRANSITION_IN_PROGRESS: { status: 409, message: 'Another change to this session is in progress.' },
  DEV_LOGIN_DISABLED: { status: 404, message: 'Dev login is disabled on this server.' },
  SESSION_NOT_STREAMABLE: { status: 409, message: 'The session has no running desktop to stream.' },
  RUNTIME_FAILED: { status: 500, message: 'The desktop could not be started.' },
  STREAM_PROTOCOL: { status: 400, message: 'The stream message is malformed.' },
  UPSTREAM_PROTOCOL: { status: 502, message: 'The desktop sent data that is not valid RFB.' },
  UPSTREAM_CLOSED: { status: 502, message: 'The desktop closed the connection.' },
  UPSTREAM_AUTH_FAILED: { status: 502, message: "The desktop refused the gateway's credentials." },
  UPSTREAM_UNREACHABLE: { status: 502, message: 'The desktop cannot be reached.' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The desktop did not answer in time.' },
  UPSTREAM_REFUSED: { status: 502, message: 'The desktop refused the connection.' },
  UPSTREAM_ABORTED: { status: 499, message: 'The stream was stopped.' },
  FILE_NAME_INVALID: { status: 400, message: 'That file name is not accepted.' },
  FILE_NOT_FOUND: { status: 404, message: 'No such file.' },
  ADMIN_REQUIRED: { status: 403, message: 'Only an admin of the tenant may do this for another user.' },
  ERASURE_BLOCKED: { status: 409, message: 'The erasure could not be completed; it is safe to try again.' },
  WORKSPACE_NOT_FOUND: { status: 404, message: 'No such workspace.' },
  WORKSPACE_OWNER_REQUIRED: { status: 403, message: "Only the workspace's owner may do this." },
  WORKSPACE_CONFLICT: { status: 409, message: 'The workspace is not in a state that allows this.' },
  INVITATION_NOT_FOUND: { status: 404, message: 'There is no pending invitation for you in that workspace.' },
  INTERNAL: { status: 500, message: 'Something went wrong on the server.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}
