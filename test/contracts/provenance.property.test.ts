/**
 * Property-based tests of Provenance: random operation sequences run against the contract and
 * against a TypeScript reference model of its rules. After every step the model predicts success
 * or the exact custom error, and the contract's state must equal the model's. Independently of
 * the model, the invariants are checked from events and views: no item is consumed twice, the
 * genealogy graph (transformation and assembly edges) has no cycle, and every item is held by
 * exactly one organisation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import fc from "fast-check";
import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import { ZeroHash, id, keccak256, toUtf8Bytes } from "ethers";
import type { Provenance } from "../../lib/contracts/types/index.js";
import { Role, roleMask } from "../../lib/consortium.ts";
import {
  type ConsortiumFixture,
  type Conn,
  type OrgKey,
  deployProvenance,
  deployConsortium,
  expectRevert,
} from "../helpers/fixture.ts";
import { ItemStatus as Status, RecordKind as Kind } from "../../lib/registry.ts";


const NUM_RUNS = 25;
const MAX_STEPS = 30;
const N_KEYS = 10;
const N_BATCHES = 2;
const UNKNOWN_ORG = 999;
const hash = (s: string) => keccak256(toUtf8Bytes(s));
const DISPOSITIONS = [
  ZeroHash,
  hash("https://ref.gs1.org/cbv/Disp-active"),
  hash("https://ref.gs1.org/cbv/Disp-in_progress"),
  hash("https://ref.gs1.org/cbv/Disp-damaged"),
];
const AUDITOR_BIT = roleMask(Role.Auditor);

// ---------------------------------------------------------------- operations

type Actor = OrgKey | "outsider";
/** null: the natural actor for the operation (custodian, consignee, owner, author), resolved against the model. */
type Hint = Actor | null;
type EvRef = { t: "fresh" } | { t: "zero" } | { t: "reuse"; i: number };
/**
 * An item of this run's key pool: one that exists now, one that does not yet, or any. Resolved
 * against the model when the step runs, so most steps name sensible items and shrinking stays
 * deterministic.
 */
type KeyRef = { t: "existing" | "new" | "any"; i: number };

type Op =
  | { t: "commission"; by: Actor; key: KeyRef; disp: number; ev: EvRef }
  | { t: "commissionBatch"; by: Hint; batch: number; keys: KeyRef[]; disp: number; ev: EvRef }
  | { t: "ship"; by: Hint; keys: KeyRef[]; to: Actor | "none" | "unknown"; transfer: boolean; ev: EvRef }
  | { t: "cancelShipment"; by: Hint; keys: KeyRef[]; ev: EvRef }
  | { t: "receiveShipment"; by: Hint; keys: KeyRef[]; ev: EvRef }
  | { t: "transform"; by: Hint; inputs: KeyRef[]; outputs: KeyRef[]; batch: number; disp: number; ev: EvRef }
  | { t: "assemble"; by: Hint; parent: KeyRef; children: KeyRef[]; ev: EvRef }
  | { t: "disassemble"; by: Hint; parent: KeyRef; children: KeyRef[]; ev: EvRef }
  | { t: "inspect"; by: Hint; keys: KeyRef[]; passed: boolean; ev: EvRef }
  | { t: "setDisposition"; by: Hint; keys: KeyRef[]; disp: number; ev: EvRef }
  | { t: "recall"; by: Hint; keys: KeyRef[]; ev: EvRef }
  | { t: "recallBatch"; by: Hint; batch: number; ev: EvRef }
  | { t: "correct"; by: Hint; record: "zero" | "beyond" | number; ev: EvRef };

const makers: Actor[] = ["steel", "foundry", "oem"];
const anyone: Actor[] = ["steel", "foundry", "oem", "carrier", "lab", "regulator", "auditor", "outsider"];
const actorArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...makers) },
  { weight: 1, arbitrary: fc.constantFrom(...anyone) },
);
const hintArb: fc.Arbitrary<Hint> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom(...anyone) },
);
const refArb = (preferred: "existing" | "new"): fc.Arbitrary<KeyRef> =>
  fc.record({
    t: fc.oneof(
      { weight: 6, arbitrary: fc.constant(preferred) },
      { weight: 1, arbitrary: fc.constant("any" as const) },
    ),
    i: fc.nat({ max: 63 }),
  });
const keyArb = refArb("existing");
const newKeyArb = refArb("new");
const listArb = (ref: fc.Arbitrary<KeyRef>) =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant<KeyRef[]>([]) },
    { weight: 20, arbitrary: fc.array(ref, { minLength: 1, maxLength: 3 }) },
  );
const keysArb = listArb(keyArb);
// -1 stands for "no batch" (key 0).
const batchArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(-1) },
  { weight: 3, arbitrary: fc.nat({ max: N_BATCHES - 1 }) },
);
const dispArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 20, arbitrary: fc.integer({ min: 1, max: 3 }) },
);
const evArb: fc.Arbitrary<EvRef> = fc.oneof(
  { weight: 40, arbitrary: fc.constant({ t: "fresh" as const }) },
  { weight: 1, arbitrary: fc.constant({ t: "zero" as const }) },
  { weight: 1, arbitrary: fc.nat().map((i) => ({ t: "reuse" as const, i })) },
);
const toArb = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.constantFrom<Actor>("steel", "foundry", "oem", "carrier", "lab", "regulator", "auditor"),
  },
  { weight: 1, arbitrary: fc.constantFrom("none" as const, "unknown" as const) },
);

type OpOf<T extends Op["t"]> = Extract<Op, { t: T }>;
/** The arbitraries of an operation's own fields; `by` only where it is not a hint. */
type OpFields<T extends Op["t"]> = { [K in Exclude<keyof OpOf<T>, "t" | "by" | "ev">]: fc.Arbitrary<OpOf<T>[K]> } & {
  by?: fc.Arbitrary<OpOf<T>["by"]>;
};
/**
 * One kind of operation, drawn in proportion to `weight`: its own fields, a caller (a hint unless
 * `fields` names one) and an event hash.
 */
const opOf = <T extends Op["t"]>(weight: number, t: T, fields: OpFields<T>) => ({
  weight,
  // fc.record cannot follow the spread's key types; OpFields has already checked them against Op.
  arbitrary: fc.record({ t: fc.constant(t), by: hintArb, ...fields, ev: evArb }) as unknown as fc.Arbitrary<Op>,
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  opOf(3, "commission", { by: actorArb, key: newKeyArb, disp: dispArb }),
  opOf(3, "commissionBatch", { batch: batchArb, keys: listArb(newKeyArb), disp: dispArb }),
  opOf(5, "ship", { keys: keysArb, to: toArb, transfer: fc.boolean() }),
  opOf(1, "cancelShipment", { keys: keysArb }),
  opOf(3, "receiveShipment", { keys: keysArb }),
  opOf(3, "transform", { inputs: keysArb, outputs: listArb(newKeyArb), batch: batchArb, disp: dispArb }),
  opOf(3, "assemble", { parent: keyArb, children: keysArb }),
  opOf(1, "disassemble", { parent: keyArb, children: keysArb }),
  opOf(1, "inspect", { keys: keysArb, passed: fc.boolean() }),
  opOf(1, "setDisposition", { keys: keysArb, disp: dispArb }),
  opOf(1, "recall", { keys: keysArb }),
  opOf(1, "recallBatch", { batch: fc.nat({ max: N_BATCHES - 1 }) }),
  opOf(1, "correct", {
    record: fc.oneof(
      { weight: 1, arbitrary: fc.constantFrom("zero" as const, "beyond" as const) },
      { weight: 6, arbitrary: fc.nat() },
    ),
  }),
);

// ---------------------------------------------------------------- reference model

interface MItem {
  owner: number;
  custodian: number;
  consignee: number;
  status: Status;
  recalled: boolean;
  transfers: boolean;
  parent: string;
  batch: string;
  disposition: string; // set on the item itself; ZeroHash = inherit the batch's
  lastRecord: bigint;
}
interface MBatch {
  owner: number;
  recalled: boolean;
  itemCount: bigint;
  disposition: string;
}
interface MRecord {
  kind: Kind;
  org: number;
  eventHash: string;
  corrects: bigint;
}
interface Caller {
  org: number;
  roles: bigint;
  address: string;
}

/** A refusal the contract must answer with exactly this custom error and arguments. */
class Refusal {
  constructor(
    readonly name: string,
    readonly args: unknown[] = [],
  ) {}
}
const refuse = (name: string, ...args: unknown[]): never => {
  throw new Refusal(name, args);
};
const has = (roles: bigint, role: Role) => (roles & roleMask(role)) !== 0n;

class Model {
  items = new Map<string, MItem>();
  batches = new Map<string, MBatch>();
  records: MRecord[] = [];
  /** Record ids by `${eventHash}:${org}`: a hash is taken once per organisation. */
  recordOf = new Map<string, bigint>();

  constructor(
    readonly base: bigint,
    private readonly isActiveOrg: (org: number) => boolean,
  ) {}

  clone(): Model {
    const m = new Model(this.base, this.isActiveOrg);
    m.items = structuredClone(this.items);
    m.batches = structuredClone(this.batches);
    m.records = structuredClone(this.records);
    m.recordOf = new Map(this.recordOf);
    return m;
  }

  get recordCount(): bigint {
    return this.base + BigInt(this.records.length);
  }

  resolved(key: string): MItem | undefined {
    let it = this.items.get(key);
    while (it && it.status === Status.Assembled) it = this.items.get(it.parent);
    return it;
  }

  view(key: string) {
    const it = this.items.get(key);
    if (!it) return undefined;
    const top = this.resolved(key)!;
    const batch = it.batch === ZeroHash ? undefined : this.batches.get(it.batch);
    return {
      status: it.status,
      owner: top.owner,
      custodian: top.custodian,
      consignee: it.consignee,
      transfers: it.transfers,
      recalled: it.recalled || (batch?.recalled ?? false),
      parent: it.parent,
      batch: it.batch,
      disposition: it.disposition !== ZeroHash ? it.disposition : (batch?.disposition ?? ZeroHash),
      lastRecord: it.lastRecord,
    };
  }

  // The same checks in the same order as the contract.

  private member(c: Caller): Caller {
    if (c.org === 0) refuse("NotActiveMember", c.address);
    return c;
  }
  private maker(c: Caller): number {
    this.member(c);
    if (!has(c.roles, Role.Supplier) && !has(c.roles, Role.Manufacturer)) refuse("MissingRole", c.org, Role.Supplier);
    return c.org;
  }
  private writer(c: Caller): number {
    this.member(c);
    if ((c.roles & ~AUDITOR_BIT) === 0n) refuse("NoWriteRights", c.org);
    return c.org;
  }
  private record(kind: Kind, org: number, eventHash: string, corrects = 0n): bigint {
    if (eventHash === ZeroHash) refuse("ZeroEventHash");
    const existing = this.recordOf.get(`${eventHash}:${org}`);
    if (existing !== undefined) refuse("DuplicateEventHash", eventHash, existing);
    this.records.push({ kind, org, eventHash, corrects });
    this.recordOf.set(`${eventHash}:${org}`, this.recordCount);
    return this.recordCount;
  }
  private existing(key: string): MItem {
    return this.items.get(key) ?? refuse("UnknownItem", key);
  }
  private nonEmpty(list: unknown[]) {
    if (list.length === 0) refuse("EmptyKeyList");
  }
  private useBatch(batchKey: string, org: number, disposition: string, count: number): boolean {
    if (batchKey === ZeroHash) return false;
    let b = this.batches.get(batchKey);
    if (!b) {
      b = { owner: org, recalled: false, itemCount: 0n, disposition };
      this.batches.set(batchKey, b);
    } else {
      if (b.owner !== org) refuse("NotBatchOwner", batchKey, org, b.owner);
      if (b.recalled) refuse("BatchIsRecalled", batchKey);
    }
    b.itemCount += BigInt(count);
    return b.disposition === disposition;
  }
  private create(key: string, org: number, rid: bigint, batch: string, disposition: string, store: boolean) {
    if (this.items.has(key)) refuse("ItemExists", key);
    this.items.set(key, {
      owner: org,
      custodian: org,
      consignee: 0,
      status: Status.Active,
      recalled: false,
      transfers: false,
      parent: ZeroHash,
      batch,
      disposition: store ? disposition : ZeroHash,
      lastRecord: rid,
    });
  }

  commission(c: Caller, key: string, disp: string, eh: string) {
    const org = this.maker(c);
    if (disp === ZeroHash) refuse("ZeroDisposition");
    const rid = this.record(Kind.Commission, org, eh);
    this.create(key, org, rid, ZeroHash, disp, true);
  }

  commissionBatch(c: Caller, batch: string, keys: string[], disp: string, eh: string) {
    const org = this.maker(c);
    this.nonEmpty(keys);
    if (disp === ZeroHash) refuse("ZeroDisposition");
    const rid = this.record(Kind.Commission, org, eh);
    const inherit = this.useBatch(batch, org, disp, keys.length);
    for (const k of keys) this.create(k, org, rid, batch, disp, !inherit);
  }

  ship(c: Caller, keys: string[], to: number, transfer: boolean, eh: string) {
    const org = this.writer(c);
    this.nonEmpty(keys);
    if (to === org || !this.isActiveOrg(to)) refuse("InvalidConsignee", to);
    const rid = this.record(Kind.Ship, org, eh);
    for (const k of keys) {
      const it = this.existing(k);
      if (it.status !== Status.Active) refuse("InvalidStatus", k, it.status);
      if (it.custodian !== org) refuse("NotCustodian", k, org, it.custodian);
      if (transfer && it.owner !== org) refuse("NotOwner", k, org, it.owner);
      Object.assign(it, { status: Status.InTransit, consignee: to, transfers: transfer, lastRecord: rid });
    }
  }

  cancelShipment(c: Caller, keys: string[], eh: string) {
    const org = this.writer(c);
    this.nonEmpty(keys);
    const rid = this.record(Kind.CancelShipment, org, eh);
    for (const k of keys) {
      const it = this.existing(k);
      if (it.status !== Status.InTransit) refuse("InvalidStatus", k, it.status);
      if (it.custodian !== org) refuse("NotCustodian", k, org, it.custodian);
      Object.assign(it, { status: Status.Active, consignee: 0, transfers: false, lastRecord: rid });
    }
  }

  receiveShipment(c: Caller, keys: string[], eh: string) {
    const org = this.writer(c);
    this.nonEmpty(keys);
    const rid = this.record(Kind.Receive, org, eh);
    for (const k of keys) {
      const it = this.existing(k);
      if (it.status !== Status.InTransit) refuse("InvalidStatus", k, it.status);
      if (it.consignee !== org) refuse("NotConsignee", k, org, it.consignee);
      if (it.transfers) it.owner = org;
      Object.assign(it, { custodian: org, status: Status.Active, consignee: 0, transfers: false, lastRecord: rid });
    }
  }

  transform(c: Caller, inputs: string[], outputs: string[], batch: string, disp: string, eh: string) {
    const org = this.maker(c);
    if (inputs.length === 0 || outputs.length === 0) refuse("EmptyKeyList");
    if (disp === ZeroHash) refuse("ZeroDisposition");
    const rid = this.record(Kind.Transform, org, eh);
    for (const k of inputs) {
      const it = this.existing(k);
      if (it.status !== Status.Active) refuse("InvalidStatus", k, it.status);
      if (it.custodian !== org) refuse("NotCustodian", k, org, it.custodian);
      if (it.owner !== org) refuse("NotOwner", k, org, it.owner);
      Object.assign(it, { status: Status.Consumed, lastRecord: rid });
    }
    const inherit = this.useBatch(batch, org, disp, outputs.length);
    for (const k of outputs) this.create(k, org, rid, batch, disp, !inherit);
  }

  private parentAtHand(org: number, parent: string): MItem {
    const p = this.existing(parent);
    if (p.status !== Status.Active) refuse("InvalidStatus", parent, p.status);
    if (p.custodian !== org) refuse("NotCustodian", parent, org, p.custodian);
    return p;
  }

  assemble(c: Caller, parent: string, children: string[], eh: string) {
    const org = this.maker(c);
    this.nonEmpty(children);
    const p = this.parentAtHand(org, parent);
    const rid = this.record(Kind.Assemble, org, eh);
    p.lastRecord = rid;
    for (const k of children) {
      if (k === parent) refuse("AssemblyCycle", k);
      const it = this.existing(k);
      if (it.status !== Status.Active) refuse("InvalidStatus", k, it.status);
      if (it.custodian !== org) refuse("NotCustodian", k, org, it.custodian);
      if (it.owner !== p.owner) refuse("OwnerMismatch", k, it.owner, p.owner);
      Object.assign(it, { status: Status.Assembled, parent, lastRecord: rid });
    }
  }

  disassemble(c: Caller, parent: string, children: string[], eh: string) {
    const org = this.maker(c);
    this.nonEmpty(children);
    const p = this.parentAtHand(org, parent);
    const rid = this.record(Kind.Disassemble, org, eh);
    p.lastRecord = rid;
    for (const k of children) {
      const it = this.items.get(k);
      const actual = it?.parent ?? ZeroHash;
      if (actual !== parent) refuse("NotChildOf", k, parent, actual);
      Object.assign(it!, { status: Status.Active, owner: p.owner, custodian: org, parent: ZeroHash, lastRecord: rid });
    }
  }

  inspect(c: Caller, keys: string[], eh: string) {
    const org = this.writer(c);
    this.nonEmpty(keys);
    const certifier = has(c.roles, Role.Certifier);
    const rid = this.record(Kind.Inspect, org, eh);
    for (const k of keys) {
      const it = this.existing(k);
      if (!certifier && this.resolved(k)!.custodian !== org) refuse("NotCustodianOrCertifier", k, org);
      it.lastRecord = rid;
    }
  }

  setDisposition(c: Caller, keys: string[], disp: string, eh: string) {
    const org = this.writer(c);
    this.nonEmpty(keys);
    if (disp === ZeroHash) refuse("ZeroDisposition");
    const rid = this.record(Kind.Disposition, org, eh);
    for (const k of keys) {
      const it = this.existing(k);
      if (it.status === Status.Consumed) refuse("InvalidStatus", k, it.status);
      const custodian = this.resolved(k)!.custodian;
      if (custodian !== org) refuse("NotCustodian", k, org, custodian);
      Object.assign(it, { disposition: disp, lastRecord: rid });
    }
  }

  recall(c: Caller, keys: string[], eh: string) {
    const org = this.writer(c);
    this.nonEmpty(keys);
    const regulator = has(c.roles, Role.Regulator);
    const rid = this.record(Kind.Recall, org, eh);
    for (const k of keys) {
      const it = this.existing(k);
      if (!regulator && this.resolved(k)!.owner !== org) refuse("NotOwnerOrRegulator", k, org);
      if (this.view(k)!.recalled) refuse("AlreadyRecalled", k);
      Object.assign(it, { recalled: true, lastRecord: rid });
    }
  }

  recallBatch(c: Caller, batch: string, eh: string) {
    const org = this.writer(c);
    const b = this.batches.get(batch) ?? refuse("UnknownBatch", batch);
    if (b.owner !== org && !has(c.roles, Role.Regulator)) refuse("NotOwnerOrRegulator", batch, org);
    if (b.recalled) refuse("BatchIsRecalled", batch);
    this.record(Kind.RecallBatch, org, eh);
    b.recalled = true;
  }

  correct(c: Caller, recordId: bigint, eh: string) {
    const org = this.writer(c);
    if (recordId === 0n || recordId > this.recordCount) refuse("UnknownRecord", recordId);
    const author = this.records[Number(recordId - this.base - 1n)]!.org;
    if (author !== org) refuse("NotRecordAuthor", recordId, org, author);
    this.record(Kind.Correction, org, eh, recordId);
  }
}

// ---------------------------------------------------------------- the property

describe("Provenance properties (random operation sequences against a reference model)", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let prov: Provenance;
  let execution = 0;
  let eventCounter = 0;

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    ({ prov } = await deployProvenance(conn, await fx.consortium.getAddress()));
  });
  afterAll(async () => conn.close());

  it(`holds its invariants and matches the model (${NUM_RUNS} runs of up to ${MAX_STEPS} steps)`, async () => {
    const orgIds = new Set(Object.values(fx.orgs).map((o) => o.id));
    const nameOf = new Map<number, Actor>(Object.entries(fx.orgs).map(([k, o]) => [o.id, k as OrgKey]));
    const callerOf = (a: Actor): Caller =>
      a === "outsider"
        ? { org: 0, roles: 0n, address: fx.outsider.address }
        : { org: fx.orgs[a].id, roles: roleMask(...fx.orgs[a].roles), address: fx.orgs[a].signer.address };
    const signerOf = (a: Actor) => (a === "outsider" ? fx.outsider : fx.orgs[a].signer);
    // Outcomes per operation ("ship:ok", "ship:NotCustodian", ...), to show what the runs covered.
    const tally = new Map<string, number>();
    const count = (k: string) => tally.set(k, (tally.get(k) ?? 0) + 1);
    let steps = 0;
    let successes = 0;
    const started = performance.now();

    // Each sequence opens with a few commissionings so that later steps find items to act on.
    const opening = fc.array(
      fc.oneof(
        fc.record({
          t: fc.constant("commission" as const),
          by: fc.constantFrom(...makers),
          key: newKeyArb,
          disp: fc.constant(1),
          ev: fc.constant({ t: "fresh" as const }),
        }),
        fc.record({
          t: fc.constant("commissionBatch" as const),
          by: fc.constantFrom(...makers),
          batch: batchArb,
          keys: fc.array(newKeyArb, { minLength: 1, maxLength: 3 }),
          disp: fc.integer({ min: 1, max: 3 }),
          ev: fc.constant({ t: "fresh" as const }),
        }),
      ),
      { minLength: 2, maxLength: 4 },
    );
    const opsArb = fc
      .tuple(opening, fc.array(opArb, { minLength: 6, maxLength: MAX_STEPS - 4, size: "max" }))
      .map(([a, b]): Op[] => [...a, ...b]);
    const property = fc.asyncProperty(opsArb, async (ops) => {
      // Fresh keys and batches per execution (shrinking re-runs on the same chain).
      const run = ++execution;
      const keys = Array.from({ length: N_KEYS }, (_, i) =>
        hash(`https://id.gs1.org/01/04012345000018/21/R${run}-${i}`),
      );
      const batchKeys = Array.from({ length: N_BATCHES }, (_, i) =>
        hash(`https://id.gs1.org/01/04012345000025/10/R${run}-${i}`),
      );
      const batchKey = (b: number) => (b < 0 ? ZeroHash : batchKeys[b]!);
      let model = new Model(await prov.recordCount(), (org) => orgIds.has(org));
      const consumed = new Map<string, number>();
      const transformEdges: [string, string][] = [];
      const assemblyEdges = new Map<string, string>(); // child -> parent, from events
      const createdAt = new Map<string, bigint>();

      const eventHash = (ref: EvRef): string => {
        if (ref.t === "zero") return ZeroHash;
        const used = [...new Set(model.records.map((r) => r.eventHash))];
        if (ref.t === "reuse" && used.length > 0) return used[ref.i % used.length]!;
        return id(`property-event:${++eventCounter}`);
      };
      let step = 0;
      // Without a natural actor (an unknown item, a new batch), one of the makers in turn.
      const actorFor = (hint: Hint, natural: () => number | undefined): Actor =>
        hint ?? nameOf.get(natural() ?? 0) ?? makers[step % makers.length]!;
      const itemOrg = (k: string | undefined, field: "custodian" | "owner") => () =>
        k === undefined ? undefined : model.resolved(k)?.[field];

      for (const op of ops) {
        step++;
        steps++;
        const next = model.clone();
        let actor: Actor;
        let send: (c: Provenance) => Promise<ContractTransactionResponse>;
        let predict: (c: Caller) => void;
        const eh = eventHash(op.ev);
        // "existing" prefers items the operation can act on (in transit for receipt, held by the
        // same organisation as the others of the list, a child of the parent for disassembly, ...),
        // then any existing item, then any key of the pool. A list stops growing when no fitting
        // item is left, so keys repeat within one call only through "any" references.
        type Fits = (it: MItem, k: string, chosen: string[]) => boolean;
        const fitting = (ref: KeyRef, fits: Fits, chosen: string[]) =>
          ref.t === "new"
            ? keys.filter((k) => !chosen.includes(k) && !model.items.has(k))
            : keys.filter((k) => !chosen.includes(k) && model.items.has(k) && fits(model.items.get(k)!, k, chosen));
        const key = (ref: KeyRef, fits: Fits = () => true, chosen: string[] = []): string => {
          const pools =
            ref.t === "any"
              ? [keys]
              : ref.t === "new"
                ? [fitting(ref, fits, chosen), keys]
                : [fitting(ref, fits, chosen), keys.filter((k) => model.items.has(k)), keys];
          const pool = pools.find((p) => p.length > 0)!;
          return pool[ref.i % pool.length]!;
        };
        const ks = (list: KeyRef[], fits: Fits = () => true) => {
          const chosen: string[] = [];
          for (const r of list) {
            if (chosen.length > 0 && r.t !== "any" && fitting(r, fits, chosen).length === 0) break;
            chosen.push(key(r, fits, chosen));
          }
          return chosen;
        };
        const same = (field: "custodian" | "consignee", it: MItem, chosen: string[]) => {
          const first = chosen.length === 0 ? undefined : model.items.get(chosen[0]!);
          return first === undefined || first[field] === it[field];
        };
        const active: Fits = (it, _k, chosen) => it.status === Status.Active && same("custodian", it, chosen);
        const inTransitTo: Fits = (it, _k, chosen) => it.status === Status.InTransit && same("consignee", it, chosen);
        const inTransitFrom: Fits = (it, _k, chosen) => it.status === Status.InTransit && same("custodian", it, chosen);
        const notConsumed: Fits = (it) => it.status !== Status.Consumed;
        switch (op.t) {
          case "commission": {
            const k = key(op.key);
            const d = DISPOSITIONS[op.disp]!;
            actor = op.by;
            send = (c) => c.commission(k, d, eh);
            predict = (c) => next.commission(c, k, d, eh);
            break;
          }
          case "commissionBatch": {
            const [b, list, d] = [batchKey(op.batch), ks(op.keys), DISPOSITIONS[op.disp]!];
            actor = actorFor(op.by, () => model.batches.get(b)?.owner);
            send = (c) => c.commissionBatch(b, list, d, eh);
            predict = (c) => next.commissionBatch(c, b, list, d, eh);
            break;
          }
          case "ship": {
            const list = ks(op.keys, active);
            const to = op.to === "none" ? 0 : op.to === "unknown" ? UNKNOWN_ORG : callerOf(op.to).org;
            actor = actorFor(op.by, itemOrg(list[0], "custodian"));
            send = (c) => c.ship(list, to, op.transfer, eh);
            predict = (c) => next.ship(c, list, to, op.transfer, eh);
            break;
          }
          case "cancelShipment": {
            const list = ks(op.keys, inTransitFrom);
            actor = actorFor(op.by, itemOrg(list[0], "custodian"));
            send = (c) => c.cancelShipment(list, eh);
            predict = (c) => next.cancelShipment(c, list, eh);
            break;
          }
          case "receiveShipment": {
            const list = ks(op.keys, inTransitTo);
            actor = actorFor(op.by, () => (list[0] === undefined ? undefined : model.items.get(list[0])?.consignee));
            send = (c) => c.receiveShipment(list, eh);
            predict = (c) => next.receiveShipment(c, list, eh);
            break;
          }
          case "transform": {
            const [ins, outs, b, d] = [
              ks(op.inputs, active),
              ks(op.outputs),
              batchKey(op.batch),
              DISPOSITIONS[op.disp]!,
            ];
            actor = actorFor(op.by, itemOrg(ins[0], "custodian"));
            send = (c) => c.transform(ins, outs, b, d, eh);
            predict = (c) => next.transform(c, ins, outs, b, d, eh);
            break;
          }
          case "assemble": {
            const parent = key(op.parent, active);
            const holder = model.items.get(parent)?.custodian;
            const children = ks(
              op.children,
              (it, k) => k !== parent && it.status === Status.Active && it.custodian === holder,
            );
            actor = actorFor(op.by, itemOrg(parent, "custodian"));
            send = (c) => c.assemble(parent, children, eh);
            predict = (c) => next.assemble(c, parent, children, eh);
            break;
          }
          case "disassemble": {
            const parent = key(
              op.parent,
              (it, k) => it.status === Status.Active && [...model.items.values()].some((c) => c.parent === k),
            );
            const children = ks(op.children, (it) => it.parent === parent);
            actor = actorFor(op.by, itemOrg(parent, "custodian"));
            send = (c) => c.disassemble(parent, children, eh);
            predict = (c) => next.disassemble(c, parent, children, eh);
            break;
          }
          case "inspect": {
            const list = ks(op.keys);
            actor = actorFor(op.by, itemOrg(list[0], "custodian"));
            send = (c) => c.inspect(list, op.passed, eh);
            predict = (c) => next.inspect(c, list, eh);
            break;
          }
          case "setDisposition": {
            const [list, d] = [ks(op.keys, notConsumed), DISPOSITIONS[op.disp]!];
            actor = actorFor(op.by, itemOrg(list[0], "custodian"));
            send = (c) => c.setDisposition(list, d, eh);
            predict = (c) => next.setDisposition(c, list, d, eh);
            break;
          }
          case "recall": {
            const list = ks(op.keys);
            actor = actorFor(op.by, itemOrg(list[0], "owner"));
            send = (c) => c.recall(list, eh);
            predict = (c) => next.recall(c, list, eh);
            break;
          }
          case "recallBatch": {
            const b = batchKeys[op.batch]!;
            actor = actorFor(op.by, () => model.batches.get(b)?.owner);
            send = (c) => c.recallBatch(b, eh);
            predict = (c) => next.recallBatch(c, b, eh);
            break;
          }
          case "correct": {
            const local = model.records.length;
            const rid =
              op.record === "zero"
                ? 0n
                : op.record === "beyond" || local === 0
                  ? model.recordCount + 1n
                  : model.base + 1n + BigInt(op.record % local);
            const author = () =>
              rid > model.base && rid <= model.recordCount
                ? model.records[Number(rid - model.base - 1n)]!.org
                : undefined;
            actor = actorFor(op.by, author);
            send = (c) => c.correct(rid, eh);
            predict = (c) => next.correct(c, rid, eh);
            break;
          }
        }

        let refusal: Refusal | undefined;
        try {
          predict(callerOf(actor));
        } catch (e) {
          if (!(e instanceof Refusal)) throw e;
          refusal = e;
        }
        const where = `run ${run} step ${step}: ${actor} ${JSON.stringify(op)}`;
        const contract = prov.connect(signerOf(actor));
        count(`${op.t}:${refusal?.name ?? "ok"}`);
        if (refusal) {
          try {
            await expectRevert(send(contract), prov, refusal.name, refusal.args);
          } catch (e) {
            throw new Error(`${where}: expected ${refusal.name}(${refusal.args.join(", ")}): ${String(e)}`);
          }
        } else {
          let rc: ContractTransactionReceipt | null;
          try {
            rc = await (await send(contract)).wait();
          } catch (e) {
            throw new Error(`${where}: the model expected success: ${String(e)}`);
          }
          successes++;
          model = next;
          const rid = model.recordCount;
          const block = await conn.ethers.provider.getBlock(rc!.blockNumber);
          const logs = rc!.logs.map((l) => prov.interface.parseLog(l)!);
          // The record comes first and says what the model says.
          const rec = model.records[model.records.length - 1]!;
          expect([...logs[0]!.args], where).toEqual([
            rid,
            BigInt(rec.org),
            rec.eventHash,
            BigInt(rec.kind),
            rec.corrects,
          ]);
          for (const log of logs) {
            switch (log.name) {
              case "ItemCreated":
                createdAt.set(log.args.key as string, BigInt(block!.timestamp));
                break;
              case "ItemConsumed":
                consumed.set(log.args.key as string, (consumed.get(log.args.key as string) ?? 0) + 1);
                break;
              case "Transformed":
                for (const i of log.args.inputs as string[])
                  for (const o of log.args.outputs as string[]) transformEdges.push([i, o]);
                break;
              case "Assembled":
                assemblyEdges.set(log.args.child as string, log.args.parent as string);
                break;
              case "Disassembled":
                assemblyEdges.delete(log.args.child as string);
                break;
            }
          }
          const r = await prov.record(rid);
          expect([Number(r.kind), Number(r.orgId), r.eventHash, r.corrects, r.timestamp], where).toEqual([
            rec.kind,
            rec.org,
            rec.eventHash,
            rec.corrects,
            BigInt(block!.timestamp),
          ]);
        }

        // The contract's state equals the model's.
        expect(await prov.recordCount(), where).toBe(model.recordCount);
        const states = await Promise.all(keys.map((k) => prov.itemState(k)));
        for (const [i, k] of keys.entries()) {
          const s = states[i]!;
          const m = model.view(k);
          if (!m) {
            expect(s.exists, `${where}: key ${i} must not exist`).toBe(false);
            continue;
          }
          expect(
            {
              exists: s.exists,
              status: Number(s.status),
              owner: Number(s.ownerOrg),
              custodian: Number(s.custodianOrg),
              consignee: Number(s.consigneeOrg),
              transfers: s.transfersOwnership,
              recalled: s.recalled,
              parent: s.parent,
              batch: s.batch,
              disposition: s.disposition,
              lastRecord: s.lastRecord,
              createdAt: s.createdAt,
            },
            `${where}: key ${i}`,
          ).toEqual({ exists: true, ...m, createdAt: createdAt.get(k) });
          // Custody is always with exactly one active organisation; a pending consignee only in transit.
          expect(orgIds.has(m.custodian) && orgIds.has(m.owner), where).toBe(true);
          if (m.status === Status.InTransit)
            expect(orgIds.has(m.consignee) && m.consignee !== m.custodian, where).toBe(true);
          else expect(m.consignee, where).toBe(0);
        }
        const batchStates = await Promise.all(batchKeys.map((b) => prov.batchState(b)));
        for (const [i, b] of batchKeys.entries()) {
          const s = batchStates[i]!;
          const m = model.batches.get(b);
          expect(
            {
              exists: s.exists,
              owner: Number(s.ownerOrg),
              recalled: s.recalled,
              itemCount: s.itemCount,
              disposition: s.disposition,
            },
            `${where}: batch ${i}`,
          ).toEqual(
            m
              ? {
                  exists: true,
                  owner: m.owner,
                  recalled: m.recalled,
                  itemCount: m.itemCount,
                  disposition: m.disposition,
                }
              : { exists: false, owner: 0, recalled: false, itemCount: 0n, disposition: ZeroHash },
          );
        }

        // No item consumed twice.
        for (const [k, n] of consumed) expect(n, `${where}: ${k} consumed ${n} times`).toBe(1);
        // No cycle in the genealogy graph rebuilt from events (transformations and current assemblies).
        expect(findCycle([...transformEdges, ...assemblyEdges.entries()]), where).toBeUndefined();
        // The parent links in the contract's own state end at a top-level item.
        for (const [i, s] of states.entries()) {
          let parent = s.parent;
          let hops = 0;
          while (parent !== ZeroHash) {
            expect(++hops, `${where}: parent chain of key ${i} loops`).toBeLessThanOrEqual(N_KEYS);
            parent = states[keys.indexOf(parent)]!.parent;
          }
        }
      }
    });

    await fc.assert(property, {
      numRuns: NUM_RUNS,
      seed: process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED),
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `provenance properties: ${NUM_RUNS} runs, ${steps} steps, ${successes} accepted, ${steps - successes} refused as predicted, ${seconds.toFixed(1)} s`,
    );
    const outcomes = [...tally].sort((a, b) => a[0].localeCompare(b[0])).map(([k, n]) => `${k} ${n}`);
    console.log(`outcomes: ${outcomes.join(", ")}`);
    // Random sequences that are nearly all refused would test little.
    expect(successes).toBeGreaterThan(steps / 4);
    // Failures take longer: shrinking replays sequences on the chain.
  }, 180_000);
});

/** A cycle in a directed graph given as edges, as a list of nodes; undefined when acyclic. */
function findCycle(edges: [string, string][]): string[] | undefined {
  const out = new Map<string, string[]>();
  for (const [a, b] of edges) out.set(a, [...(out.get(a) ?? []), b]);
  const state = new Map<string, 1 | 2>(); // 1 on the stack, 2 done
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 1);
    path.push(n);
    for (const m of out.get(n) ?? []) {
      if (state.get(m) === 1) return [...path.slice(path.indexOf(m)), m];
      if (state.get(m) === undefined) {
        const c = visit(m);
        if (c) return c;
      }
    }
    path.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of out.keys()) {
    if (state.get(n) === undefined) {
      const c = visit(n);
      if (c) return c;
    }
  }
  return undefined;
}
