/**
 * From an access decision (lib/access.ts) to an access-log entry: the one place that turns "why
 * this partner may read" into what the owner's log keeps, for the gateway and the peer network.
 */
import { type AccessDecision, REGULATOR_SCOPE_NAMES, SCOPE_KIND_NAMES, describeDecision, grantIdOf } from "../../lib/access.ts";
import type { AccessGrants } from "../../lib/contracts/types/index.js";
import type { AccessLog, AccessRead, AccessSubject } from "./store.ts";

/** The purpose logged for reads the consortium's regulator rule allowed. */
export const REGULATOR_PURPOSE = "regulatory-oversight";
/** The purpose logged for a consignee reading the shipping document of a shipment sent to it. */
export const CONSIGNEE_PURPOSE = "shipment-consignee";

export class AccessRecorder {
  constructor(
    readonly log: AccessLog,
    private readonly grants: Pick<AccessGrants, "grant">,
  ) {}

  /** Grant purposes being read from the chain: reads logged at the same moment under one grant share the one call. */
  private readonly reading = new Map<string, Promise<string | null>>();

  /** The grant's purpose as the chain says now (null when it cannot say); only a call in flight is shared, nothing is kept. */
  private purposeOf(id: string): Promise<string | null> {
    let p = this.reading.get(id);
    if (p === undefined) {
      p = this.grants.grant(id).then(
        (g) => (g.owner === 0n ? null : g.purpose),
        () => null,
      );
      this.reading.set(id, p);
      void p.finally(() => this.reading.delete(id));
    }
    return p;
  }

  /**
   * Logs a read that `decision` allowed, unless it was the owner's own. The grant's purpose comes
   * from the chain; when the chain cannot say, the entry still goes in with purpose null.
   */
  async record(read: { reader: number; owner: number; channel: AccessRead["channel"]; subject: AccessSubject }, decision: AccessDecision): Promise<void> {
    const entry = await this.entryOf(read, decision);
    if (entry) await this.log.append(entry);
  }

  /**
   * What `record` appends for this read (undefined: nothing, it was not allowed or was the
   * owner's own), for a caller that serves the same read again while nothing it depends on has
   * moved (the gateway's kept answers, whose stamp covers grant events) and appends it each time.
   */
  async entryOf(read: { reader: number; owner: number; channel: AccessRead["channel"]; subject: AccessSubject }, decision: AccessDecision): Promise<AccessRead | undefined> {
    if (!decision.allowed || decision.via === "owner") return undefined;
    if (decision.via === "rule") return { ...read, allowedBy: describeDecision(decision), purpose: `${REGULATOR_PURPOSE} (${REGULATOR_SCOPE_NAMES[decision.rule]})` };
    if (decision.via === "consignee") return { ...read, allowedBy: describeDecision(decision), purpose: CONSIGNEE_PURPOSE };
    const id = grantIdOf(read.owner, read.reader, decision.scopeKey);
    return {
      ...read,
      allowedBy: describeDecision(decision),
      grant: { id, scopeKey: decision.scopeKey, kind: SCOPE_KIND_NAMES[decision.kind], ...(decision.path ? { path: decision.path } : {}) },
      purpose: await this.purposeOf(id),
    };
  }
}
