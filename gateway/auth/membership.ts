/**
 * Who an account signs for now, asked of Consortium (`activeOrgOf`) and cached briefly, so that
 * a suspended or removed organisation loses access within `ttlMs` without a chain call per
 * request. Only active memberships are cached (lib/positive-cache.ts): an account that signs for
 * no active organisation is asked about again, so one just admitted or reinstated works at once.
 */
import { rolesOf, type Role } from "../../lib/consortium.ts";
import { PositiveCache } from "../../lib/positive-cache.ts";
import type { GatewayServices } from "../services.ts";

export interface Membership {
  /** 0 when the account signs for no active organisation. */
  orgId: number;
  roles: Role[];
}

export class MembershipCache {
  private readonly entries: PositiveCache<Membership>;
  private readonly names = new Map<number, string>();

  constructor(
    private readonly services: GatewayServices,
    ttlMs: number,
    clock: () => number,
  ) {
    this.entries = new PositiveCache({ ttlMs, maxEntries: 10_000, isPositive: (m) => m.orgId !== 0, now: clock });
  }

  /** The active organisation of `account` and its roles, at most `ttlMs` old. */
  activeOrgOf(account: string): Promise<Membership> {
    return this.entries.get(account.toLowerCase(), () =>
      this.services.contracts.consortium.activeOrgOf(account).then(([orgId, mask]) => ({ orgId: Number(orgId), roles: rolesOf(mask) })),
    );
  }

  /** An organisation's name (names change only by upgrade, so they are cached for good). */
  async orgName(orgId: number): Promise<string> {
    const known = this.names.get(orgId);
    if (known !== undefined) return known;
    const [name] = await this.services.contracts.consortium.org(orgId);
    this.names.set(orgId, name);
    return name;
  }
}

/** Lower-case role names used in tokens and API answers ("certifier", "regulator", ...). */
export function roleName(role: Role): string {
  return ["supplier", "manufacturer", "logistics", "certifier", "regulator", "auditor"][role] ?? `role-${role}`;
}
