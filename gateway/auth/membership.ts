/**
 * Who an account signs for now, asked of Consortium (`activeOrgOf`) and cached briefly, so that
 * a suspended or removed organisation loses access within `ttlMs` without a chain call per
 * request.
 */
import { rolesOf, type Role } from "../../lib/consortium.ts";
import type { GatewayServices } from "../services.ts";

export interface Membership {
  /** 0 when the account signs for no active organisation. */
  orgId: number;
  roles: Role[];
}

export class MembershipCache {
  private readonly entries = new Map<string, { at: number; value: Promise<Membership> }>();
  private readonly names = new Map<number, string>();

  constructor(
    private readonly services: GatewayServices,
    private readonly ttlMs: number,
    private readonly clock: () => number,
  ) {}

  /** The active organisation of `account` and its roles, at most `ttlMs` old. */
  activeOrgOf(account: string): Promise<Membership> {
    const key = account.toLowerCase();
    const now = this.clock();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const value = this.services.contracts.consortium.activeOrgOf(account).then(([orgId, mask]) => ({
      orgId: Number(orgId),
      roles: rolesOf(mask),
    }));
    const entry = { at: now, value };
    // A failed chain call is not cached: the next request asks again.
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    this.entries.set(key, entry);
    if (this.entries.size > 10_000) this.entries.delete(this.entries.keys().next().value!);
    return value;
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
