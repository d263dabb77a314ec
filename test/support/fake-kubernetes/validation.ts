// Validation of the FAKE API server: the rules of the real one that a session's objects can break, with its
// messages (422 Invalid, a cause per field).
import { parseQuantity } from './quantity.ts';
import { RESOURCES, statusError, type KubeObject, type Resource } from './kube-objects.ts';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

interface Cause {
  reason: string;
  message: string;
  field: string;
}

function invalid(field: string, value: unknown, detail: string): Cause {
  return {
    reason: 'FieldValueInvalid',
    field,
    message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
  };
}
function required(field: string): Cause {
  return { reason: 'FieldValueRequired', field, message: 'Required value' };
}

function checkMetadata(object: KubeObject, causes: Cause[], nameRule: 'subdomain' | 'label'): void {
  const name = object.metadata.name;
  if (!name) causes.push(required('metadata.name'));
  else if (
    name.length > (nameRule === 'label' ? 63 : 253) ||
    !(nameRule === 'label' ? DNS1123_LABEL : DNS1123_SUBDOMAIN).test(name)
  ) {
    causes.push(invalid('metadata.name', name, nameRule === 'label' ? LABEL_MESSAGE : SUBDOMAIN_MESSAGE));
  }
  for (const [key, value] of Object.entries(object.metadata.labels ?? {})) {
    if (!QUALIFIED_NAME.test(key) || (key.split('/').at(-1) ?? '').length > 63) {
      causes.push(
        invalid('metadata.labels', key, "name part must consist of alphanumeric characters, '-', '_' or '.'"),
      );
    }
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      causes.push(
        invalid(
          'metadata.labels',
          value,
          value.length > 63
            ? 'must be no more than 63 characters'
            : "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        ),
      );
    }
  }
}

interface Container {
  name?: string;
  image?: string;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  ports?: Array<{ containerPort?: number }>;
}

function checkPod(object: KubeObject, causes: Cause[]): void {
  const spec = object.spec as
    { containers?: Container[]; hostname?: string; subdomain?: string; restartPolicy?: string } | undefined;
  if (!spec?.containers?.length) {
    causes.push(required('spec.containers'));
    return;
  }
  for (const field of ['hostname', 'subdomain'] as const) {
    const value = spec[field];
    if (value !== undefined && (value.length > 63 || !DNS1123_LABEL.test(value))) {
      causes.push(invalid(`spec.${field}`, value, LABEL_MESSAGE));
    }
  }
  if (spec.restartPolicy && !['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy)) {
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'spec.restartPolicy',
      message: `Unsupported value: "${spec.restartPolicy}"`,
    });
  }
  spec.containers.forEach((c, i) => {
    const at = `spec.containers[${i}]`;
    if (!c.name) causes.push(required(`${at}.name`));
    else if (!DNS1123_LABEL.test(c.name)) causes.push(invalid(`${at}.name`, c.name, LABEL_MESSAGE));
    if (!c.image) causes.push(required(`${at}.image`));
    else if (c.image.trim() !== c.image)
      causes.push(invalid(`${at}.image`, c.image, 'must not have leading or trailing whitespace'));
    for (const kind of ['requests', 'limits'] as const) {
      for (const [name, value] of Object.entries(c.resources?.[kind] ?? {})) {
        const q = parseQuantity(value);
        if (q === undefined) {
          causes.push(
            invalid(
              `${at}.resources.${kind}[${name}]`,
              value,
              "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ),
          );
        } else if (q < 0) {
          causes.push(
            invalid(`${at}.resources.${kind}[${name}]`, value, 'must be greater than or equal to 0'),
          );
        }
      }
    }
    for (const [name, value] of Object.entries(c.resources?.requests ?? {})) {
      const limit = c.resources?.limits?.[name];
      const q = parseQuantity(value);
      const l = parseQuantity(limit);
      if (limit !== undefined && q !== undefined && l !== undefined && q > l) {
        causes.push(
          invalid(
            `${at}.resources.requests`,
            value,
            `must be less than or equal to ${name} limit of ${String(limit)}`,
          ),
        );
      }
    }
    for (const [j, p] of (c.ports ?? []).entries()) {
      if (!p.containerPort || p.containerPort < 1 || p.containerPort > 65535) {
        causes.push(
          invalid(
            `${at}.ports[${j}].containerPort`,
            p.containerPort,
            'must be between 1 and 65535, inclusive',
          ),
        );
      }
    }
  });
}

function checkPvc(object: KubeObject, causes: Cause[]): void {
  const spec = object.spec as
    | { accessModes?: string[]; storageClassName?: string; resources?: { requests?: { storage?: unknown } } }
    | undefined;
  if (!spec?.accessModes?.length) causes.push(required('spec.accessModes'));
  const storage = spec?.resources?.requests?.storage;
  if (storage === undefined) causes.push(required('spec.resources[storage]'));
  else if (!(parseQuantity(storage) ?? 0))
    causes.push(invalid('spec.resources[storage]', storage, 'must be greater than zero'));
  const sc = spec?.storageClassName;
  if (sc !== undefined && sc !== '' && !DNS1123_SUBDOMAIN.test(sc))
    causes.push(invalid('spec.storageClassName', sc, SUBDOMAIN_MESSAGE));
}

function checkSecret(object: KubeObject, causes: Cause[]): void {
  for (const [key, value] of Object.entries((object.data as Record<string, unknown> | undefined) ?? {})) {
    if (!/^[-._a-zA-Z0-9]+$/.test(key))
      causes.push(
        invalid(
          `data[${key}]`,
          key,
          "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        ),
      );
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
      causes.push(invalid(`data[${key}]`, '<value>', 'illegal base64 data'));
  }
}

/** Throws the API server's 422 when the object breaks a rule. */
export function validate(resource: Resource, object: KubeObject): void {
  const causes: Cause[] = [];
  checkMetadata(object, causes, 'subdomain');
  if (resource === 'pods') checkPod(object, causes);
  if (resource === 'persistentvolumeclaims') checkPvc(object, causes);
  if (resource === 'secrets') checkSecret(object, causes);
  if (causes.length === 0) return;
  const kind = RESOURCES[resource].kind;
  const name = object.metadata.name ?? '';
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  throw statusError(
    422,
    'Invalid',
    `${kind} "${name}" is invalid: ${list.length === 1 ? list[0] : `[${list.join(', ')}]`}`,
    { name, kind, causes },
  );
}
