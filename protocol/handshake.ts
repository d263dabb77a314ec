/** The N3XUS 55-45-17 handshake every v-SuperCore component verifies. */
export const HANDSHAKE = '55-45-17' as const;
export type Handshake = typeof HANDSHAKE;

/** HTTP header that carries the handshake on every `/api/v1` request. */
export const HANDSHAKE_HEADER = 'x-n3xus-handshake';

export const MODULE_ID = 18;
export const MODULE_NAME = 'v-supercore';

/** Every REST route and stream of the backend adapter lives under this prefix. */
export const API_PREFIX = '/api/v1';
