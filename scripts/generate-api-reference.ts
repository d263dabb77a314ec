/**
 * Writes docs/api-reference.md from the OpenAPI 3.1 document the real adapter serves at /api/v1/openapi.json,
 * with the error codes of protocol/errors.ts. `--check` only compares and exits 1 when the file is stale;
 * test/node/docs/api-reference.test.ts does the same, so the reference cannot drift from the code.
 *
 *   node --import tsx scripts/generate-api-reference.ts           # rewrite docs/api-reference.md
 *   node --import tsx scripts/generate-api-reference.ts --check   # exit 1 if it is stale
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { loadConfig } from '../backend-adapter/config.ts';
import { startAdapter } from '../backend-adapter/start-adapter.ts';
import { ERRORS, type ErrorCode } from '../protocol/errors.ts';
import { API_PREFIX, HANDSHAKE } from '../protocol/handshake.ts';
import { HANDSHAKE_SUBPROTOCOL, STREAM_SUBPROTOCOL, StreamCloseCode } from '../protocol/stream.ts';

export const API_REFERENCE_PATH = fileURLToPath(new URL('../docs/api-reference.md', import.meta.url));

// ---- the parts of OpenAPI 3.1 this reference reads ----

export interface SchemaObject {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: SchemaObject[];
  oneOf?: SchemaObject[];
  properties?: Record<string, SchemaObject>;
  required?: string[];
  items?: SchemaObject;
  additionalProperties?: boolean | SchemaObject;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  description?: string;
}
export interface ParameterObject {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: SchemaObject;
}
interface MediaTypeObject {
  schema?: SchemaObject;
}
interface ResponseObject {
  description?: string;
  content?: Record<string, MediaTypeObject>;
}
export interface OperationObject {
  summary?: string;
  description?: string;
  parameters?: ParameterObject[];
  requestBody?: { required?: boolean; content?: Record<string, MediaTypeObject> };
  responses?: Record<string, ResponseObject>;
}
interface SecuritySchemeObject {
  type: string;
  scheme?: string;
  bearerFormat?: string;
  in?: string;
  name?: string;
}
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, OperationObject>>;
  components?: { securitySchemes?: Record<string, SecuritySchemeObject> };
  security?: Array<Record<string, string[]>>;
}

// ---- what the OpenAPI document does not say (the routes carry no summaries yet) ----

interface RouteNotes {
  summary: string;
  /** Markdown paragraphs after the summary. */
  details?: string;
  /** Codes this route raises itself, on top of the ones every route of its kind can answer. */
  errors: ErrorCode[];
  /** Dev login is the one /api/v1 call without a bearer token. */
  noBearer?: true;
}

/** Keyed `METHOD /path` as in the OpenAPI document. Every operation needs an entry, and every entry an operation. */
export const ROUTE_NOTES: Record<string, RouteNotes> = {
  'POST /api/v1/dev/login': {
    summary: 'A token for any user and tenant, for the dev harness.',
    details:
      'Exists only when the adapter runs with its embedded issuer, and answers `404 DEV_LOGIN_DISABLED` unless `DEV_MODE=1`. Never enable it in production. Needs the handshake header but no bearer token.',
    errors: ['DEV_LOGIN_DISABLED'],
    noBearer: true,
  },
  'GET /api/v1/handshake': {
    summary:
      'The 55-45-17 report: every 55 / 45 / 17 check with whether it applies, whether it passes and its evidence.',
    details: '`ok` is true when every applicable check passes.',
    errors: [],
  },
  'GET /api/v1/tiers': {
    summary: 'The resource tier catalogue, with `allowed` filled in for the caller’s subscription.',
    details:
      '`allowed` also reflects the deployment phase (GPU tiers from phase 3.5), early access (tiers marked `earlyAccess` are for tenants with that right, the founding tenants) and the tenant’s configuration; when it is false, `notAllowedReason` says why. `microNexCoinPerHour` is billed while Active, `storageMicroNexCoinPerHour` while Paused (see [billing.md](billing.md)). These are list prices; when the caller’s tenant has a discount (a founding tenant’s, or its own agreement), `yourPrice` carries the caller’s own hourly rates (`microNexCoinPerHour`, `storageMicroNexCoinPerHour`, rounded up to the micro-NexCoin), the `discountBasisPoints` and the `reason` (`founding` or `tenant`); without one `yourPrice` is absent.',
    errors: [],
  },
  'POST /api/v1/sessions': {
    summary: 'Launch a session (Genesis): requested → provisioning → active.',
    details:
      'Answers when the desktop is up (`201`, state `active`) or failed (`500 RUNTIME_FAILED`; the session is then `failed` with its `failureReason`). Before anything is written or started: the tier must be allowed (subscription, deployment phase, early access, the tenant’s configuration; `403 TIER_NOT_ALLOWED`), the NexCoin balance less what is owed must cover the reserve of billing periods of this and the user’s other running sessions (`402 BALANCE_TOO_LOW`, with `details.balanceMicroNexCoin`, `requiredMicroNexCoin`, `outstandingMicroNexCoin`, `periodSeconds`; `503 NOT_READY` when the wallet does not answer), and the quotas — the tenant’s custom limits and the phase’s concurrent-session ceiling, whose last slots are kept for priority tenants — are checked atomically (`403 QUOTA_EXCEEDED`). Not idempotent: every call launches a new session.',
    errors: [
      'UNKNOWN_TIER',
      'TIER_NOT_ALLOWED',
      'BALANCE_TOO_LOW',
      'QUOTA_EXCEEDED',
      'NOT_READY',
      'RUNTIME_FAILED',
    ],
  },
  'GET /api/v1/sessions': {
    summary: 'The caller’s sessions, including terminated and failed ones.',
    details:
      'Each session carries `costSoFarMicroNexCoin`: every billing period started so far at its rates (its final cost once ended).',
    errors: [],
  },
  'GET /api/v1/sessions/{id}': {
    summary: 'One of the caller’s sessions.',
    details:
      'Another user’s session answers `404 SESSION_NOT_FOUND`, never 403: its existence is not disclosed.',
    errors: ['SESSION_NOT_FOUND'],
  },
  'DELETE /api/v1/sessions/{id}': {
    summary: 'Terminate a session: the desktop is stopped and the usage record written.',
    details:
      'Allowed from `active`, `paused` and `failed` (terminating a failed session closes its record). A `terminated` session answers `409 ILLEGAL_TRANSITION`; while another change to it is in flight (including its launch) `409 TRANSITION_IN_PROGRESS`.',
    errors: ['SESSION_NOT_FOUND', 'ILLEGAL_TRANSITION', 'TRANSITION_IN_PROGRESS', 'RUNTIME_FAILED'],
  },
  'POST /api/v1/sessions/{id}/pause': {
    summary: 'Pause an active session: every process of the desktop is frozen, its memory kept.',
    details:
      'Only from `active`; a second pause gets `409 ILLEGAL_TRANSITION` (already paused) or `409 TRANSITION_IN_PROGRESS` (still pausing), never a double pause.',
    errors: ['SESSION_NOT_FOUND', 'ILLEGAL_TRANSITION', 'TRANSITION_IN_PROGRESS', 'RUNTIME_FAILED'],
  },
  'POST /api/v1/sessions/{id}/resume': {
    summary: 'Resume a paused session.',
    details:
      'Only from `paused` (or `hibernated`); starts a fresh idle period. The NexCoin balance less what is owed must cover the reserve of billing periods (`402 BALANCE_TOO_LOW`): a session paused by `system:billing` resumes once the wallet is topped up.',
    errors: [
      'SESSION_NOT_FOUND',
      'ILLEGAL_TRANSITION',
      'TRANSITION_IN_PROGRESS',
      'BALANCE_TOO_LOW',
      'NOT_READY',
      'RUNTIME_FAILED',
    ],
  },
  'POST /api/v1/sessions/{id}/tier': {
    summary: 'Change an active or paused session’s resource tier (`{"tier": "pro"}`).',
    details:
      'The subscription, deployment phase, early access and the tenant’s configuration must allow the new tier (`403 TIER_NOT_ALLOWED`), the NexCoin balance less what is owed must cover the reserve of billing periods at the new tier (`402 BALANCE_TOO_LOW`), and the new resources must fit the quotas, checked atomically with the change (`403 QUOTA_EXCEEDED`). Recorded in Canon Memory (`tier.changed`) before the runtime applies it; from then on every billing period is priced at the tier in force in it (a period that straddles the change at the dearer of the two, see [billing.md](billing.md)). The Kubernetes runtime recreates the pod with the new requests and limits on the kept home volume (memory is lost; a paused session is paused again); the local runtime changes only what is billed and recorded. Same tier: answered unchanged. While another change is in flight `409 TRANSITION_IN_PROGRESS`; from any other state `409 ILLEGAL_TRANSITION`.',
    errors: [
      'SESSION_NOT_FOUND',
      'UNKNOWN_TIER',
      'TIER_NOT_ALLOWED',
      'BALANCE_TOO_LOW',
      'QUOTA_EXCEEDED',
      'ILLEGAL_TRANSITION',
      'TRANSITION_IN_PROGRESS',
      'NOT_READY',
      'RUNTIME_FAILED',
    ],
  },
  'GET /api/v1/events': {
    summary: 'Live events: the caller’s session changes and resource samples as server-sent events.',
    details:
      'Answers `text/event-stream`: `event: session.changed` with `{session, previousState}` (the session with its `costSoFarMicroNexCoin` when billing runs), `event: metrics.sample` with one resource sample, and `event: session.cost` with `{sessionId, costSoFarMicroNexCoin, at}` whenever a live or paused session’s cost so far changes (checked twice per billing period, at most every 10 s; see `protocol/live-events.ts`), `event: workspace.changed` with `{workspace}` whenever a collaborative workspace the caller is in or invited to changes (members, invitations, control, closing; a person removed gets it once more, without themself), a `: keep-alive` comment every 15 s, and `retry: 3000`. Read it with `fetch` (an `EventSource` cannot send the `Authorization` header); the SDK does this in `ApiClient.openEventStream()`.',
    errors: [],
  },
  'GET /api/v1/preferences': {
    summary: 'The caller’s settings; `updatedAt` is null while they are the defaults.',
    errors: [],
  },
  'PUT /api/v1/preferences': {
    summary: 'Store the caller’s settings (the whole object).',
    details:
      'Every write is a Canon Memory record; the server’s `updatedAt` orders writers. A value outside a field’s range or set answers `400 BAD_REQUEST`. `streamTransport` came later: a body without it (a dashboard from before) keeps the stored choice (`auto` when there is none), and a row stored before it existed reads as `auto`.',
    errors: [],
  },
  'GET /api/v1/sessions/{id}/thumbnail': {
    summary: 'A small PNG of one of the caller’s desktops (at most 192 × 120), for the sessions list.',
    details:
      'An active desktop’s picture is taken over a short RFB connection of the adapter’s own (Raw pixels only, one update) at most once per 5 s per session however many ask, a few at a time per replica, and cached; `X-Thumbnail-Taken-At` says when. A paused (or hibernated, pausing, resuming) desktop answers its last picture from before with `X-Thumbnail-State: paused` (`live` otherwise), or `404 NOT_FOUND` when none was taken; a session not yet active answers `404 NOT_FOUND`; an ended one `409 SESSION_NOT_STREAMABLE`. Another user’s session answers `404 SESSION_NOT_FOUND`. Limited to 900 requests per user per minute (`429 RATE_LIMITED`).',
    errors: [
      'SESSION_NOT_FOUND',
      'NOT_FOUND',
      'SESSION_NOT_STREAMABLE',
      'RATE_LIMITED',
      'UPSTREAM_UNREACHABLE',
      'UPSTREAM_TIMEOUT',
    ],
  },
  'GET /api/v1/sessions/{id}/metrics': {
    summary: 'Recent resource samples of a session, oldest first.',
    details:
      '`windowSeconds` is 10–3600 (default 300). Answers `{"samples": [...]}` with the fields of the `metrics.sample` event.',
    errors: ['SESSION_NOT_FOUND'],
  },
  'GET /api/v1/quota': {
    summary: 'The caller’s limits and what counts against them now.',
    errors: [],
  },
  'POST /api/v1/vitals': {
    summary: 'Report one Core Web Vitals measurement of the module.',
    details: 'Answers `202 Accepted` with an empty body.',
    errors: [],
  },
  'GET /api/v1/sessions/{id}/recommendations': {
    summary: 'N.E.X.U.S AI on one session: tier recommendation, anomalies and the remediation it would take.',
    details:
      '`workload` comes from sustained-utilisation rules with hysteresis (a bigger tier when CPU or memory stayed at ≥ 85 % of the allocation for 80 % of 10 minutes; a smaller one when both stayed ≤ 25 % for 90 % of 30 minutes; a recommendation holds until utilisation really leaves its band). `anomalies` are robust z-score (median/MAD) episodes of CPU, memory, frame rate and latency, plus memory trends. `remediation` is what the health monitor would do: `planned` actions (pausing a runaway session, reconnecting a stream, lowering quality) are not applied by this read; `recommended` ones are advice only. `source` says whether the embedded models or the external service (`AI_URL`) answered. Tenant admins may read their tenant’s sessions.',
    errors: ['SESSION_NOT_FOUND'],
  },
  'GET /api/v1/predictions': {
    summary:
      'The caller’s launch forecast: per coming hour, the probability of a launch and the likely tier.',
    details:
      '`hours` is 1–168 (default 24), starting with the next full hour (UTC). Learned from the caller’s session history in Canon Memory: an hour-of-day × day-of-week model with recent weeks weighted more. This is what a warm pool would be sized from.',
    errors: [],
  },
  'POST /api/v1/sessions/{id}/files': {
    summary:
      'Upload a file into a session: it lands in the desktop’s home directory and is kept privately in v-content.',
    details:
      'The body is the raw file (`Content-Type: application/octet-stream`; multipart is not accepted) and the name is the `X-File-Name` header, percent-encoded UTF-8. Names with a path, `..`, control or invisible characters, a leading dot, `-` or `~`, Windows-reserved characters or device names are refused (`400 FILE_NAME_INVALID`); a file larger than `CONTENT_MAX_FILE_BYTES` answers `413 PAYLOAD_TOO_LARGE`. Nothing is written when a request is refused. Only the session’s owner may upload (`404 SESSION_NOT_FOUND` for anyone else, tenant admins included), and only while the session is `active` or `paused` (`409 SESSION_NOT_STREAMABLE`). An existing file of the same name is replaced. Answers `201` with the stored file’s metadata.',
    errors: [
      'SESSION_NOT_FOUND',
      'FILE_NAME_INVALID',
      'SESSION_NOT_STREAMABLE',
      'PAYLOAD_TOO_LARGE',
      'UNSUPPORTED_MEDIA_TYPE',
    ],
  },
  'GET /api/v1/sessions/{id}/files': {
    summary: 'The files uploaded to one of the caller’s sessions (also after it ended).',
    errors: ['SESSION_NOT_FOUND'],
  },
  'GET /api/v1/sessions/{id}/files/{name}': {
    summary: 'Download an uploaded file again, for its owner only.',
    details:
      'Answers the bytes as `application/octet-stream` with `Content-Disposition: attachment`, `X-Content-SHA256` and `Cache-Control: private, no-store`. `{name}` is the stored name, URL-encoded.',
    errors: ['SESSION_NOT_FOUND', 'FILE_NOT_FOUND'],
  },
  'GET /api/v1/privacy/export': {
    summary: 'GDPR/CCPA access: everything v-SuperCore holds about the caller, as one JSON document.',
    details:
      'Sessions, their Canon Memory records (state changes, usage), usage records, preferences and their records, resource allocations, uploaded files (metadata), analytics events, and what other holders (e.g. the wallet) contribute. Another person’s id in a record is shown as `another-user`. A tenant admin may pass `userId` for a user of the tenant (`403 ADMIN_REQUIRED` otherwise). Every export is recorded as a `privacy.exported` Canon record.',
    errors: ['ADMIN_REQUIRED'],
  },
  'POST /api/v1/privacy/erase': {
    summary: 'GDPR/CCPA erasure of the caller (or, for a tenant admin, of `userId` in the tenant).',
    details:
      'Needs `{"confirm": true}`. The user’s sessions are ended, their files deleted, their preferences deleted and their analytics events pseudonymised; in Canon Memory their id is replaced by a pseudonym whose link to them is destroyed, so usage and money stay complete (as accounting law requires) without naming them. The answer gives the pseudonym and the `privacy.erased` audit record. `409 ERASURE_BLOCKED` when a session could not be ended or a step failed: the erasure is then incomplete and safe to repeat.',
    errors: ['ADMIN_REQUIRED', 'ERASURE_BLOCKED'],
  },
  'GET /api/v1/usage': {
    summary:
      'Usage per session (SuperCoreUsage) with what was charged: the caller’s, or a tenant admin’s whole tenant.',
    details:
      'One record per session, launched in `month` (YYYY-MM, UTC) when given: the SuperCoreUsage record once the session has ended (`final: true`, `costMicroNexCoin` is its billed cost), the cost of every period started so far before. `chargedMicroNexCoin` is what the wallet confirmed, `outstandingMicroNexCoin` what is charged but not (yet) confirmed. `balanceMicroNexCoin` is the caller’s NexCoin balance (user scope, when the wallet answers). All amounts are integer micro-NexCoin.',
    errors: [],
  },
  'GET /api/v1/invoices': {
    summary:
      'The invoice for `month` (YYYY-MM, UTC): one line per session, totals, discount and the 80/20 distribution.',
    details:
      'Built from billing’s charge rows of periods that began in the month: per session the Active and Paused periods, the list price, the founding-tenant discount and the total; `distribution` is where the month’s charges went (e.g. 80 % to the tenant’s creator pool, 20 % to the platform treasury). A tenant admin gets the whole tenant’s invoice. See [billing.md](billing.md).',
    errors: [],
  },
  'POST /api/v1/workspaces': {
    summary:
      'Share sessions: create a collaborative workspace owned by the caller, optionally inviting people.',
    details:
      'Every session must be one the caller may manage (their own, or any of the tenant for a tenant admin); another’s answers `404 SESSION_NOT_FOUND`. `invite` sends invitations as `POST …/invitations` does; invitees are user ids of the caller’s tenant. The owner streams as before; invitees may stream only after accepting. See [workspaces.md](workspaces.md).',
    errors: ['SESSION_NOT_FOUND', 'WORKSPACE_CONFLICT'],
  },
  'GET /api/v1/workspaces': {
    summary: 'The workspaces the caller owns, has joined or is invited to (open and closed), newest first.',
    errors: [],
  },
  'GET /api/v1/workspaces/{id}': {
    summary: 'One workspace: its sessions, members with roles and status, and who holds control.',
    details:
      'Visible to its owner, members and invitees only; to anyone else (another tenant included) it answers `404 WORKSPACE_NOT_FOUND`.',
    errors: ['WORKSPACE_NOT_FOUND'],
  },
  'DELETE /api/v1/workspaces/{id}': {
    summary: 'Close a workspace (owner only): every stream opened through it is closed at once with 4403.',
    details:
      'A closed workspace refuses every further change (`409 WORKSPACE_CONFLICT`) and stays listed, with its Canon records.',
    errors: ['WORKSPACE_NOT_FOUND', 'WORKSPACE_OWNER_REQUIRED', 'WORKSPACE_CONFLICT'],
  },
  'POST /api/v1/workspaces/{id}/invitations': {
    summary: 'Invite a user of the tenant as `participant` or `observer` (owner only).',
    details:
      'The invitee sees the workspace in their list and may accept or decline. Someone already in the workspace or invited answers `409 WORKSPACE_CONFLICT`.',
    errors: ['WORKSPACE_NOT_FOUND', 'WORKSPACE_OWNER_REQUIRED', 'WORKSPACE_CONFLICT'],
  },
  'POST /api/v1/workspaces/{id}/accept': {
    summary: 'Accept the caller’s pending invitation: from now on they may stream the workspace’s sessions.',
    errors: ['WORKSPACE_NOT_FOUND', 'INVITATION_NOT_FOUND', 'WORKSPACE_CONFLICT'],
  },
  'POST /api/v1/workspaces/{id}/decline': {
    summary: 'Decline the caller’s pending invitation; the workspace disappears from their list.',
    errors: ['WORKSPACE_NOT_FOUND', 'INVITATION_NOT_FOUND', 'WORKSPACE_CONFLICT'],
  },
  'POST /api/v1/workspaces/{id}/leave': {
    summary: 'Leave a workspace: the caller’s streams through it are closed at once with 4403.',
    details: 'The owner cannot leave (`409 WORKSPACE_CONFLICT`); they close the workspace instead.',
    errors: ['WORKSPACE_NOT_FOUND', 'WORKSPACE_CONFLICT'],
  },
  'DELETE /api/v1/workspaces/{id}/members/{userId}': {
    summary: 'Remove a member or withdraw an invitation (owner only); their streams close at once with 4403.',
    errors: ['WORKSPACE_NOT_FOUND', 'WORKSPACE_OWNER_REQUIRED', 'WORKSPACE_CONFLICT'],
  },
  'PUT /api/v1/workspaces/{id}/members/{userId}/role': {
    summary: 'Change a member’s role between `participant` and `observer` (owner only).',
    details:
      'Making the member who holds control an observer takes control back. Open streams are re-gated at once.',
    errors: ['WORKSPACE_NOT_FOUND', 'WORKSPACE_OWNER_REQUIRED', 'WORKSPACE_CONFLICT'],
  },
  'PUT /api/v1/workspaces/{id}/control': {
    summary:
      'Hand control to a joined participant (owner only): their input reaches the desktop from the next message.',
    details:
      'At most one participant holds control; granting it to another takes it from the previous one. Observers cannot be given control (`409 WORKSPACE_CONFLICT`). Granting it to the owner is taking it back.',
    errors: ['WORKSPACE_NOT_FOUND', 'WORKSPACE_OWNER_REQUIRED', 'WORKSPACE_CONFLICT'],
  },
  'DELETE /api/v1/workspaces/{id}/control': {
    summary: 'Take control back (owner only): only the owner’s input reaches the desktop again.',
    errors: ['WORKSPACE_NOT_FOUND', 'WORKSPACE_OWNER_REQUIRED', 'WORKSPACE_CONFLICT'],
  },
};

// ---- fetching ----

/** Starts the real adapter on a free port in a throwaway data directory, reads its OpenAPI document, stops it. */
export async function fetchOpenApiDocument(): Promise<{
  document: OpenApiDocument;
  rateLimitPerMinute: number;
}> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vsc-openapi-'));
  try {
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' });
    const adapter = await startAdapter(config);
    try {
      const response = await fetch(`${adapter.url}${API_PREFIX}/openapi.json`);
      if (!response.ok) throw new Error(`GET ${API_PREFIX}/openapi.json answered ${response.status}`);
      return {
        document: (await response.json()) as OpenApiDocument,
        rateLimitPerMinute: config.rateLimitPerMinute,
      };
    } finally {
      await adapter.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- rendering ----

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** What the stream route answers instead of upgrading (backend-adapter/api/stream-route.ts). */
const STREAM_REFUSALS: ErrorCode[] = [
  'BAD_REQUEST',
  'HANDSHAKE_REQUIRED',
  'AUTH_REQUIRED',
  'AUTH_INVALID',
  'SESSION_NOT_FOUND',
  'SESSION_NOT_STREAMABLE',
];
const METHOD_ORDER = ['get', 'post', 'put', 'patch', 'delete'];

/** A table cell: no line breaks, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

function code(value: unknown): string {
  return `\`${typeof value === 'string' ? JSON.stringify(value) : String(value)}\``;
}

/** The literal values of an enum-like schema (`anyOf` of single-value enums or consts), if it is one. */
function literals(schema: SchemaObject): unknown[] | undefined {
  if (schema.enum) return schema.enum;
  if (schema.const !== undefined) return [schema.const];
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (!alternatives) return undefined;
  const values: unknown[] = [];
  for (const alternative of alternatives) {
    const own = literals(alternative);
    if (!own) return undefined;
    values.push(...own);
  }
  return values;
}

export function typeLabel(schema: SchemaObject): string {
  const values = literals(schema);
  if (values) return values.length === 1 ? code(values[0]) : `one of ${values.map(code).join(', ')}`;
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return alternatives.map(typeLabel).join(' or ');
  const type = Array.isArray(schema.type) ? schema.type.join(' or ') : schema.type;
  if (type === 'array') return `array of ${schema.items ? typeLabel(schema.items) : 'any'}`;
  if (type === undefined) return 'any';
  return schema.format ? `${type} (${schema.format})` : type;
}

function range(min: number | undefined, max: number | undefined, unit = ''): string | undefined {
  if (min !== undefined && max !== undefined) return `${min}–${max}${unit}`;
  if (min !== undefined) return `≥ ${min}${unit}`;
  if (max !== undefined) return `≤ ${max}${unit}`;
  return undefined;
}

export function constraints(schema: SchemaObject): string {
  const parts: string[] = [];
  const length = range(schema.minLength, schema.maxLength, ' characters');
  if (length) parts.push(length);
  const value = range(schema.minimum, schema.maximum);
  if (value) parts.push(value);
  const items = range(schema.minItems, schema.maxItems, ' items');
  if (items) parts.push(items);
  if (schema.pattern) parts.push(`matches \`${schema.pattern}\``);
  if (schema.type === 'object' && schema.additionalProperties === false) parts.push('no other fields');
  if (schema.description) parts.push(schema.description);
  return parts.join('; ');
}

interface Row {
  field: string;
  type: string;
  required: boolean;
  notes: string;
}

/** Schemas already shown in full, by canonical JSON → where (so a repeated one is referenced, not repeated). */
type Seen = Map<string, { label: string; anchor: string }>;

function fieldRows(schema: SchemaObject, prefix: string, seen: Seen, out: Row[], refs: string[]): Row[] {
  const required = new Set(schema.required ?? []);
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const field = prefix ? `${prefix}.${name}` : name;
    out.push({
      field,
      type: typeLabel(property),
      required: required.has(name),
      notes: constraints(property),
    });
    const object = property.type === 'array' ? property.items : property;
    if (object?.properties) {
      const path = property.type === 'array' ? `${field}[]` : field;
      const earlier = seen.get(JSON.stringify(object));
      if (earlier) refs.push(`\`${path}\`: the fields of ${earlier.label} ([above](#${earlier.anchor})).`);
      else fieldRows(object, path, seen, out, refs);
    }
  }
  return out;
}

function fieldsTable(schema: SchemaObject, seen: Seen, where: { label: string; anchor: string }): string {
  const key = JSON.stringify(schema);
  const earlier = seen.get(key);
  if (earlier) return `Same fields as ${earlier.label} ([above](#${earlier.anchor})).`;
  if (!schema.properties)
    return `${typeLabel(schema)}${constraints(schema) ? ` (${constraints(schema)})` : ''}.`;
  const refs: string[] = [];
  const rows = fieldRows(schema, '', seen, [], refs);
  seen.set(key, where);
  const lines = [
    '| field | type | required | notes |',
    '| --- | --- | --- | --- |',
    ...rows.map(
      (r) => `| \`${r.field}\` | ${cell(r.type)} | ${r.required ? 'yes' : 'no'} | ${cell(r.notes)} |`,
    ),
  ];
  if (schema.additionalProperties === false) lines.unshift('No other fields are accepted.\n');
  return [...lines, ...(refs.length ? ['', ...refs] : [])].join('\n');
}

function isErrorBody(schema: SchemaObject | undefined): boolean {
  return schema?.properties?.['error']?.properties?.['code'] !== undefined;
}

function anchorOf(method: string, path: string): string {
  return `${method}-${path}`
    .toLowerCase()
    .replace(/[{}]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** The error codes one operation can answer: its own and those every route of its kind can. */
export function errorsOf(method: string, operation: OperationObject, notes: RouteNotes): ErrorCode[] {
  const codes = new Set<ErrorCode>(notes.errors);
  codes.add('HANDSHAKE_REQUIRED');
  if (!notes.noBearer) {
    codes.add('AUTH_REQUIRED');
    codes.add('AUTH_INVALID');
  }
  if (operation.parameters?.length || operation.requestBody) codes.add('BAD_REQUEST');
  if (operation.requestBody) {
    codes.add('PAYLOAD_TOO_LARGE');
    codes.add('UNSUPPORTED_MEDIA_TYPE');
  }
  if (MUTATING.has(method)) codes.add('RATE_LIMITED');
  codes.add('INTERNAL');
  return [...codes].sort((a, b) => ERRORS[a].status - ERRORS[b].status || a.localeCompare(b));
}

function renderOperation(
  method: string,
  path: string,
  operation: OperationObject,
  notes: RouteNotes,
  seen: Seen,
): string {
  const anchor = anchorOf(method, path);
  const out = [`<a id="${anchor}"></a>`, '', `### \`${method} ${path}\``, '', notes.summary];
  if (operation.summary) out.push('', operation.summary);
  if (operation.description) out.push('', operation.description);
  if (notes.details) out.push('', notes.details);
  const auth = notes.noBearer
    ? `Headers: \`X-N3XUS-Handshake: ${HANDSHAKE}\` (no bearer token).`
    : `Headers: \`Authorization: Bearer <token>\` and \`X-N3XUS-Handshake: ${HANDSHAKE}\`.`;
  const limited = notes.noBearer ? ' Rate limited per client address.' : ' Rate limited per user.';
  out.push('', MUTATING.has(method) ? auth + limited : auth);

  const parameters = operation.parameters ?? [];
  if (parameters.length) {
    out.push(
      '',
      '**Parameters**',
      '',
      '| name | in | type | required | notes |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const p of [...parameters].sort((a, b) => (a.in === b.in ? 0 : a.in === 'path' ? -1 : 1))) {
      const schema = p.schema ?? {};
      const notesText = [constraints(schema), p.description ?? ''].filter(Boolean).join('; ');
      out.push(
        `| \`${p.name}\` | ${p.in} | ${cell(typeLabel(schema))} | ${p.required ? 'yes' : 'no'} | ${cell(notesText)} |`,
      );
    }
  }

  const body = operation.requestBody;
  if (body) {
    for (const [mediaType, media] of Object.entries(body.content ?? {})) {
      out.push('', `**Request body** (\`${mediaType}\`${body.required ? ', required' : ''})`, '');
      out.push(
        media.schema
          ? fieldsTable(media.schema, seen, { label: `the request body of \`${method} ${path}\``, anchor })
          : 'Any.',
      );
    }
  }

  out.push('', '**Responses**', '');
  for (const [status, response] of Object.entries(operation.responses ?? {})) {
    const entries = Object.entries(response.content ?? {});
    if (Number(status) >= 400) continue; // listed with every error below
    if (entries.length === 0) {
      out.push(
        `- \`${status}\`: the OpenAPI document declares no body${notes.details ? ' (see above)' : ''}.`,
      );
      continue;
    }
    for (const [mediaType, media] of entries) {
      out.push(`- \`${status}\` (\`${mediaType}\`):`, '');
      out.push(
        media.schema && !isErrorBody(media.schema)
          ? fieldsTable(media.schema, seen, {
              label: `the \`${status}\` response of \`${method} ${path}\``,
              anchor,
            })
          : 'An error body.',
        '',
      );
    }
  }
  const codes = errorsOf(method, operation, notes);
  out.push(
    '',
    '**Errors** (`{"error": {"code", "message", "details?"}}`)',
    '',
    '| status | code | meaning |',
    '| --- | --- | --- |',
    ...codes.map((c) => `| ${ERRORS[c].status} | \`${c}\` | ${cell(ERRORS[c].message)} |`),
  );
  return out.join('\n');
}

/** The Markdown of docs/api-reference.md (before formatting). */
export function renderApiReferenceMarkdown(
  document: OpenApiDocument,
  options: { rateLimitPerMinute: number },
): string {
  const operations: Array<{ method: string; path: string; operation: OperationObject; notes: RouteNotes }> =
    [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [lower, operation] of Object.entries(methods).sort(
      ([a], [b]) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b),
    )) {
      const method = lower.toUpperCase();
      const notes = ROUTE_NOTES[`${method} ${path}`];
      if (!notes)
        throw new Error(`${method} ${path} has no entry in ROUTE_NOTES (scripts/generate-api-reference.ts)`);
      operations.push({ method, path, operation, notes });
    }
  }
  const documented = new Set(operations.map((o) => `${o.method} ${o.path}`));
  const stale = Object.keys(ROUTE_NOTES).filter((k) => !documented.has(k));
  if (stale.length)
    throw new Error(`ROUTE_NOTES describes operations the API no longer has: ${stale.join(', ')}`);

  const schemes = Object.entries(document.components?.securitySchemes ?? {}).map(([name, s]) =>
    s.type === 'http'
      ? `| \`${name}\` | \`Authorization: ${s.scheme === 'bearer' ? 'Bearer' : s.scheme} <${s.bearerFormat ?? 'token'}>\` |`
      : `| \`${name}\` | \`${s.name}\` ${s.in} |`,
  );
  const seen: Seen = new Map();
  const lines = [
    '# API reference',
    '',
    '<!-- Generated by scripts/generate-api-reference.ts from the adapter’s OpenAPI document. Do not edit: run `node --import tsx scripts/generate-api-reference.ts`. test/node/docs/api-reference.test.ts fails when this file is stale. -->',
    '',
    `${document.info.title}, API version ${document.info.version} (OpenAPI ${document.openapi}, served at \`GET ${API_PREFIX}/openapi.json\`).`,
    '',
    document.info.description ?? '',
    '',
    'For how to call it from another N3XUS module see [integration-guide.md](integration-guide.md); for examples, [code-examples.md](code-examples.md).',
    '',
    '## Authentication and limits',
    '',
    '| scheme | sent as |',
    '| --- | --- |',
    ...schemes,
    '',
    `Both are required on every \`${API_PREFIX}\` operation below except dev login (handshake only). A missing or wrong handshake answers \`412 HANDSHAKE_REQUIRED\` before the token is looked at; a missing token \`401 AUTH_REQUIRED\`, a bad one \`401 AUTH_INVALID\`. Every read and write is scoped to the token’s user and tenant.`,
    '',
    `Mutating calls (POST, PUT, DELETE) are rate limited per user: ${options.rateLimitPerMinute} per minute by default (\`RATE_LIMIT_PER_MINUTE\`), then \`429 RATE_LIMITED\`. Request bodies are JSON only (\`415 UNSUPPORTED_MEDIA_TYPE\`), size-limited (\`413 PAYLOAD_TOO_LARGE\`) and validated strictly: unknown fields and wrong types are refused with \`400 BAD_REQUEST\`, whose \`details.issues\` lists \`{path, message}\`.`,
    '',
    '## Operations',
    '',
    '| method | path | what it does |',
    '| --- | --- | --- |',
    ...operations.map(
      (o) => `| ${o.method} | [\`${o.path}\`](#${anchorOf(o.method, o.path)}) | ${cell(o.notes.summary)} |`,
    ),
    '',
    ...operations.flatMap((o) => [renderOperation(o.method, o.path, o.operation, o.notes, seen), '']),
    '## Not in the OpenAPI document',
    '',
    '### Desktop stream (WebSocket)',
    '',
    `\`GET ${API_PREFIX}/sessions/{id}/stream\` with \`Upgrade: websocket\`: the session’s desktop as msgpack messages (\`protocol/stream.ts\`; the module’s decoder worker in \`worker/\` speaks it). Browsers cannot set headers on a WebSocket, so the credentials travel as subprotocols, all three offered at once: \`${STREAM_SUBPROTOCOL}\`, \`bearer.<token>\` and \`${HANDSHAKE_SUBPROTOCOL}\`; the server selects \`${STREAM_SUBPROTOCOL}\`. Everything is checked before the upgrade, which is refused with an error body: ${STREAM_REFUSALS.map((c) => `\`${ERRORS[c].status} ${c}\``).join(', ')}. The session must be \`active\`, \`paused\`, \`pausing\` or \`resuming\`.`,
    '',
    'Once open, the server closes it with one of these codes:',
    '',
    '| close code | name |',
    '| --- | --- |',
    ...Object.entries(StreamCloseCode).map(([name, value]) => `| ${value} | ${name} |`),
    '',
    '### Service endpoints',
    '',
    '| route | what it is |',
    '| --- | --- |',
    `| \`GET ${API_PREFIX}/openapi.json\` | the OpenAPI ${document.openapi} document this reference is generated from; no authentication |`,
    '| `GET /healthz` | liveness: `{"status": "ok", "handshake": "55-45-17"}` |',
    '| `GET /readyz` | readiness: 200 `{"status": "ready", "checks": {...}}` when Canon Memory (and Redis, when configured) answer, 503 `not-ready` otherwise |',
    '| `GET /metrics` | Prometheus metrics; see [monitoring-guide.md](monitoring-guide.md) |',
    '',
    '## Error codes',
    '',
    'Every error is `{"error": {"code", "message", "details?"}}` with the HTTP status of its code. Switch on `code`: it never changes; the `message` may be reworded. All codes, from `protocol/errors.ts`:',
    '',
    '| code | status | message |',
    '| --- | --- | --- |',
    ...(Object.keys(ERRORS) as ErrorCode[]).map(
      (c) => `| \`${c}\` | ${ERRORS[c].status} | ${cell(ERRORS[c].message)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

/** docs/api-reference.md as it should be: rendered and formatted with the repository's Prettier settings. */
export async function renderApiReference(
  document: OpenApiDocument,
  options: { rateLimitPerMinute: number },
): Promise<string> {
  const prettier = (await resolveConfig(API_REFERENCE_PATH)) ?? {};
  return format(renderApiReferenceMarkdown(document, options), { ...prettier, filepath: API_REFERENCE_PATH });
}

export async function generateApiReference(): Promise<string> {
  const { document, rateLimitPerMinute } = await fetchOpenApiDocument();
  return renderApiReference(document, { rateLimitPerMinute });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const markdown = await generateApiReference();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(API_REFERENCE_PATH, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== markdown) {
      console.error(
        'docs/api-reference.md is stale: run node --import tsx scripts/generate-api-reference.ts',
      );
      process.exit(1);
    }
    console.log('docs/api-reference.md is up to date');
  } else {
    writeFileSync(API_REFERENCE_PATH, markdown);
    console.log(`wrote ${API_REFERENCE_PATH}`);
  }
}
