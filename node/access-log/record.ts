/**
 * From access decisions (lib/access.ts) to access-log entries: the one place that turns "why this
 * partner may read" into what the owner's log keeps, one entry per answer, for the gateway and
 * the peer network.
 */
import { type AccessDecision, REGULATOR_SCOPE_NAMES, SCOPE_KIND_NAMES, describeDecision, grantIdOf } from "../../lib/access.ts";
import type { AccessGrants } from "../../lib/contracts/types/index.js";
import { type AccessAnswerReads, type AccessLog, type AccessRead, type AccessSubject, type PreparedEntry, prepareEntry } from "./store.ts";

/** One thing an answer handed out: whose it was, what it was, and the decision that allowed it. */
export interface ServedRead {
  owner: number;
  subject: AccessSubject;
  decision: AccessDecision;
}

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
   * The read as the log names it, when `decision` allowed it and the reader is not the owner
   * (undefined otherwise). The grant's purpose comes from the chain; when the chain cannot say,
   * the read is still named, with purpose null.
   */
  async readOf(owner: number, reader: number, subject: AccessSubject, decision: AccessDecision): Promise<AccessRead | undefined> {
    if (!decision.allowed || decision.via === "owner") return undefined;
    if (decision.via === "rule") return { subject, allowedBy: describeDecision(decision), purpose: `${REGULATOR_PURPOSE} (${REGULATOR_SCOPE_NAMES[decision.rule]})` };
    if (decision.via === "consignee") return { subject, allowedBy: describeDecision(decision), purpose: CONSIGNEE_PURPOSE };
    const id = grantIdOf(owner, reader, decision.scopeKey);
    return {
      subject,
      allowedBy: describeDecision(decision),
      grant: { id, scopeKey: decision.scopeKey, kind: SCOPE_KIND_NAMES[decision.kind], ...(decision.path ? { path: decision.path } : {}) },
      purpose: await this.purposeOf(id),
    };
  }

  /**
   * The entries one answer to `reader` logs: one per owner whose data it handed out (in the order
   * first served), naming every read `served` lists that was allowed and not the owner's own,
   * prepared once. For a caller that serves the same answer again while nothing it depends on has
   * moved (the gateway's kept answers, whose stamp covers grant events) and appends them each time.
   */
  async entriesOf(reader: number, channel: AccessAnswerReads["channel"], served: readonly ServedRead[]): Promise<PreparedEntry[]> {
    const reads = await Promise.all(served.map((s) => this.readOf(s.owner, reader, s.subject, s.decision)));
    const byOwner = new Map<number, AccessRead[]>();
    served.forEach((s, i) => {
      const read = reads[i];
      if (read === undefined) return;
      const list = byOwner.get(s.owner);
      if (list) list.push(read);
      else byOwner.set(s.owner, [read]);
    });
    return [...byOwner].map(([owner, list]) => prepareEntry({ reader, owner, channel, reads: list }));
  }

  /** Logs one answer's reads (see `entriesOf`), durably, before the caller hands the answer out. */
  async recordAll(reader: number, channel: AccessAnswerReads["channel"], served: readonly ServedRead[]): Promise<void> {
    await Promise.all((await this.entriesOf(reader, channel, served)).map((e) => this.log.append(e)));
  }

  /** Logs an answer that handed out one thing. */
  record(read: { reader: number; owner: number; channel: AccessAnswerReads["channel"]; subject: AccessSubject }, decision: AccessDecision): Promise<void> {
    return this.recordAll(read.reader, read.channel, [{ owner: read.owner, subject: read.subject, decision }]);
  }
}
