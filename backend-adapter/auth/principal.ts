/** Who is calling, as the verified token says. Every read and write is scoped to this user and tenant. */
export interface Principal {
  userId: string;
  tenantId: string;
  email?: string;
  /** The user's v-auth subscription: decides which tiers they may launch. */
  subscription?: string;
  /** `admin`: sees and manages every session of its own tenant (never another tenant's). */
  roles?: string[];
}

export function isTenantAdmin(principal: Principal): boolean {
  return principal.roles?.includes('admin') ?? false;
}

/** Port: turns a bearer token into a Principal, or throws ApiError AUTH_INVALID. */
export interface Authenticator {
  verify(token: string): Promise<Principal>;
}
