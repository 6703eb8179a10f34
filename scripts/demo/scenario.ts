/**
 * The demo's running scenario: production cycles through the supply chain in story.ts, each step
 * taken by the organisation that would take it, through the paths a real member uses: EPCIS
 * documents captured at the member's own gateway (signed in with its account), certificates and
 * grants sent to the contracts from the organisation's account. No back door.
 *
 * Nothing lost, nothing doubled across restarts: the position (cycle, step) is saved after each
 * step, and every step's document is journalled before it is sent. A step interrupted by a stop is
 * taken again with the same bytes, which the gateway answers with the earlier capture; contract
 * steps look at the chain first and skip what is already there.
 *
 * Every `recallEvery`-th cycle has a quality escape: the OEM's end-of-line inspection fails the
 * pump and the steel mill recalls the whole heat, whose recall scope reaches every part and pump
 * made from it. Every `revokeEvery`-th cycle the test lab re-tests the heat's retained samples and
 * revokes its mill certificate, with a statement (kept in the scenario directory, its hash on
 * chain). After each cycle the scenario prints where to look: the pump's page and the heat's
 * certificate, with its state.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type JsonRpcProvider, SigningKey, Wallet, id as keccakText } from "ethers";
import { CertificateState, RevocationReason, ScopeKind } from "../../lib/registry.ts";
import { streamScopeKey } from "../../lib/access.ts";
import { TRACEMESH_CREDENTIALS_CONTEXT, VC_V2_CONTEXT, credentialHash, issueCredential } from "../../lib/credentials.ts";
import { type TracemeshContracts, connectContracts, type Deployment } from "../../lib/deployment.ts";
import { batchKey, itemKey } from "../../lib/identifiers/canonical.ts";
import { sleep } from "../../lib/retry.ts";
import { demoWallet } from "./accounts.ts";
import { type DemoOrg, SHARED_WITH_OEM, STEP_STREAMS, demoOrg } from "./consortium.ts";
import { GatewayClient, GatewayError } from "../../lib/gateway-client.ts";
import * as story from "./story.ts";
import { subscribeRecallAlerts } from "./recall-alerts.ts";

/** The certificate type the lab is accredited for. */
export const MILL_CERTIFICATE_SCOPE = keccakText("EN10204-3.1");
const PURPOSE = keccakText("QUALITY_TRACEABILITY");
const YEAR = 365 * 24 * 3600;


export interface ScenarioOptions {
  demoDir: string;
  provider: JsonRpcProvider;
  deployment: Deployment;
  /** The gateway URL of each organisation's member. */
  gatewayOf: (key: DemoOrg["key"]) => string;
  /** Pause between steps, ms (default 3000). */
  paceMs?: number;
  /** A quality escape and recall every n-th cycle (default 3). */
  recallEvery?: number;
  /** The lab revokes the heat's certificate every n-th cycle (default 4). */
  revokeEvery?: number;
  log?: (m: string) => void;
}

interface Position {
  cycle: number;
  step: number;
}

type Step = { name: string; run: () => Promise<void> };

/** File-name prefix of a cycle's journal entries: c0001, c0002, ... */
const cycleId = (cycle: number) => `c${String(cycle).padStart(4, "0")}`;

const sites = () => ({
  steel: demoOrg("steel").site,
  foundry: demoOrg("foundry").site,
  machining: demoOrg("machining").site,
  oem: demoOrg("oem").site,
});

export class Scenario {
  private readonly dir: string;
  private readonly stateFile: string;
  private readonly clients = new Map<DemoOrg["key"], GatewayClient>();
  private readonly contracts = new Map<DemoOrg["key"], TracemeshContracts>();
  private running = false;
  /** Stops the OEM's recall alert receiver (recall-alerts.ts). */
  private stopAlerts: (() => Promise<void>) | undefined;
  private loop: Promise<void> | undefined;
  /** Aborted by stop(): cuts a pause short. */
  private stopping = new AbortController();
  private readonly log: (m: string) => void;

  constructor(private readonly o: ScenarioOptions) {
    this.dir = path.join(o.demoDir, "scenario");
    this.stateFile = path.join(this.dir, "position.json");
    this.log = o.log ?? ((m) => console.log(`[scenario] ${m}`));
    mkdirSync(this.dir, { recursive: true });
  }

  /** Where the scenario stands: the next step to take. */
  position(): Position {
    if (!existsSync(this.stateFile)) return { cycle: 1, step: 0 };
    return JSON.parse(readFileSync(this.stateFile, "utf8")) as Position;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    this.loop = this.run();
  }

  /** Stops after the step in progress (which is safe to repeat anyway). */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.loop;
    await this.stopAlerts?.();
    this.stopAlerts = undefined;
  }

  private save(p: Position): void {
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(p) + "\n");
    renameSync(tmp, this.stateFile);
  }

  private async run(): Promise<void> {
    try {
      await this.setUp();
    } catch (e) {
      this.log(`set-up failed: ${(e as Error).message}`);
    }
    while (this.running) {
      const pos = this.position();
      const steps = this.cycleSteps(pos.cycle);
      if (pos.step >= steps.length) {
        this.log(this.whereToLook(pos.cycle));
        this.save({ cycle: pos.cycle + 1, step: 0 });
        continue;
      }
      const step = steps[pos.step]!;
      try {
        await step.run();
        this.log(`cycle ${pos.cycle}: ${step.name}`);
        this.save({ cycle: pos.cycle, step: pos.step + 1 });
      } catch (e) {
        // 401 is never final: the client signed in again already; a member restarting answers it for a moment.
        if (e instanceof GatewayError && e.status >= 400 && e.status < 500 && e.status !== 429 && e.status !== 401) {
          // The gateway refused the step for good: report it and carry on with the next cycle.
          this.log(`cycle ${pos.cycle}: ${step.name} REFUSED (${e.message}); continuing with cycle ${pos.cycle + 1}`);
          this.save({ cycle: pos.cycle + 1, step: 0 });
        } else {
          this.log(`cycle ${pos.cycle}: ${step.name} failed, retrying: ${(e as Error).message.split("\n")[0]}`);
          await sleep(5000, this.stopping.signal);
          continue;
        }
      }
      await sleep(this.o.paceMs ?? 3000, this.stopping.signal);
    }
  }

  private revokes(cycle: number): boolean {
    return cycle % (this.o.revokeEvery ?? 4) === 0;
  }

  /** Where a user sees what the cycle made: the pump in the OEM's explorer, the heat's certificate in the regulator's. */
  whereToLook(cycle: number): string {
    const items = story.cycleItems(sites(), cycle);
    const certificate = this.certificateIdOf(cycle);
    const pump = `${this.o.gatewayOf("oem")}/explorer/#/item/${encodeURIComponent(items.pump)}`;
    const recalled = cycle % (this.o.recallEvery ?? 3) === 0 ? ", recalled" : "";
    const state = this.revokes(cycle)
      ? `revoked, statement kept by the lab's node: ${this.o.gatewayOf("lab")}/explorer/#/certificate/${certificate ?? ""}`
      : "valid";
    return (
      `cycle ${cycle} done; look at pump ${items.pump.split("/").pop()}${recalled}: ${pump} ; ` +
      `heat ${items.heat}'s certificate ${certificate ?? "(not issued)"} (${state})${certificate ? `: ${this.o.gatewayOf("regulator")}/explorer/#/certificate/${certificate}` : ""}`
    );
  }

  /** The id of the cycle's mill certificate, once the lab has signed it. */
  private certificateIdOf(cycle: number): string | undefined {
    const file = path.join(this.dir, `${cycleId(cycle)}-certificate.jwt`);
    return existsSync(file) ? credentialHash(readFileSync(file, "utf8").trim()) : undefined;
  }

  // ------------------------------------------------------------------ paths a member uses

  private client(key: DemoOrg["key"]): GatewayClient {
    let c = this.clients.get(key);
    if (!c) this.clients.set(key, (c = new GatewayClient(this.o.gatewayOf(key), demoWallet(demoOrg(key).accountIndex).connect(this.o.provider))));
    return c;
  }

  private chain(key: DemoOrg["key"]): TracemeshContracts {
    let c = this.contracts.get(key);
    if (!c) this.contracts.set(key, (c = connectContracts(this.o.deployment.contracts, new Wallet(demoWallet(demoOrg(key).accountIndex).privateKey, this.o.provider))));
    return c;
  }

  private readonly orgIds = new Map<DemoOrg["key"], number>();

  /** The organisation's id in Consortium (asked once: ids never change). */
  private async orgId(key: DemoOrg["key"]): Promise<number> {
    let id = this.orgIds.get(key);
    if (id === undefined) this.orgIds.set(key, (id = Number(await this.chain(key).consortium.orgOf(demoWallet(demoOrg(key).accountIndex).address))));
    return id;
  }

  /**
   * Captures the document journalled for this step, or journals `make()`'s first. A failed
   * capture (the chain refused it) is an error for the caller.
   */
  private async capture(org: DemoOrg["key"], stepId: string, make: () => Record<string, unknown>[]): Promise<void> {
    const file = path.join(this.dir, `${stepId}.json`);
    let doc: unknown;
    if (existsSync(file)) doc = JSON.parse(readFileSync(file, "utf8"));
    else {
      const now = new Date().toISOString();
      // Each producer's documents carry its site's and product's names (EPCIS master data).
      const producer = org in sites() ? (org as keyof story.StorySites) : undefined;
      doc = { ...story.epcisDocument(make(), now), ...(producer ? { epcisHeader: story.masterDataHeader(producer, sites()[producer], demoOrg(org).name) } : {}) };
      writeFileSync(`${file}.tmp`, JSON.stringify(doc, null, 2) + "\n");
      renameSync(`${file}.tmp`, file);
    }
    const outcome = await this.client(org).capture(doc);
    if (!outcome.success) {
      const why = outcome.errors.map((e) => e.message).join("; ") || outcome.lastError || outcome.state;
      throw new GatewayError(422, { title: "capture failed", detail: why }, `capture ${stepId}`);
    }
  }

  /** Readings of `org`'s step stream over the last `seconds` before now, as a binding on the event. */
  private readings(org: DemoOrg["key"], seconds = 30): Record<string, unknown> {
    const stream = STEP_STREAMS[org];
    if (!stream) return {};
    const end = Date.now();
    return {
      "tm:readings": [{ "tm:stream": stream, "tm:startTime": new Date(end - seconds * 1000).toISOString(), "tm:endTime": new Date(end).toISOString() }],
    };
  }

  // ------------------------------------------------------------------ the story

  /** Once per consortium: the regulator accredits the lab; each supplier lets the OEM read the streams it shares (SHARED_WITH_OEM). */
  private async setUp(): Promise<void> {
    this.stopAlerts ??= await subscribeRecallAlerts(this.client("oem"), this.o.gatewayOf("oem"), this.log);
    const lab = await this.orgId("lab");
    const certs = this.chain("regulator").certificates;
    if (!(await certs.isAccredited(lab, MILL_CERTIFICATE_SCOPE))) {
      await (await certs.accredit(lab, MILL_CERTIFICATE_SCOPE, 0)).wait();
      this.log("the regulator accredited the test lab for EN 10204 3.1 mill test certificates");
    }
    for (const key of ["steel", "foundry", "machining"] as const) {
      for (const stream of SHARED_WITH_OEM[key]) {
        if (await this.grant(key, "oem", ScopeKind.DataStream, streamScopeKey(stream))) this.log(`${demoOrg(key).name} lets ${demoOrg("oem").name} read ${stream}`);
      }
    }
  }

  private cycleSteps(cycle: number): Step[] {
    const s = sites();
    const items = story.cycleItems(s, cycle);
    const id = (name: string) => `${cycleId(cycle)}-${name}`;
    const at = () => new Date().toISOString();
    const bound = (org: DemoOrg["key"], e: Record<string, unknown>) => ({ ...e, ...this.readings(org) });
    const steps: Step[] = [
      {
        name: `steel mill melts heat ${items.heat} and casts billets`,
        run: () => this.capture("steel", id("melt"), () => [bound("steel", story.commission(at(), s.steel, items.billets, items.heat))]),
      },
      { name: `test lab certifies heat ${items.heat} (EN 10204 3.1)`, run: () => this.certify(cycle, items) },
      { name: `steel mill shares heat ${items.heat}'s documents with the foundry`, run: async () => void (await this.grant("steel", "foundry", ScopeKind.Batch, batchKey(items.heatLot))) },
      { name: "steel mill ships the billets", run: () => this.capture("steel", id("ship-billets"), () => [story.ship(at(), s.steel, s.foundry, items.billets)]) },
      { name: "foundry receives the billets", run: () => this.capture("foundry", id("receive-billets"), () => [story.receive(at(), s.foundry, s.steel, items.billets)]) },
      {
        name: "foundry casts pump housings",
        run: () => this.capture("foundry", id("cast"), () => [bound("foundry", story.transform(at(), s.foundry, "creating_class_instance", items.billets, items.castings))]),
      },
      { name: "foundry ships the castings", run: () => this.capture("foundry", id("ship-castings"), () => [story.ship(at(), s.foundry, s.machining, items.castings)]) },
      { name: "machining shop receives the castings", run: () => this.capture("machining", id("receive-castings"), () => [story.receive(at(), s.machining, s.foundry, items.castings)]) },
      {
        name: "machining shop machines the housings",
        run: () => this.capture("machining", id("machine"), () => [bound("machining", story.transform(at(), s.machining, "repairing", items.castings, items.housings))]),
      },
      { name: "machining shop ships the housings", run: () => this.capture("machining", id("ship-housings"), () => [story.ship(at(), s.machining, s.oem, items.housings)]) },
      { name: "OEM receives the housings", run: () => this.capture("oem", id("receive-housings"), () => [story.receive(at(), s.oem, s.machining, items.housings)]) },
      { name: `OEM registers pump ${items.pump.split("/").pop()}`, run: () => this.capture("oem", id("commission-pump"), () => [story.commission(at(), s.oem, [items.pump])]) },
      { name: `OEM assembles pump ${items.pump.split("/").pop()}`, run: () => this.capture("oem", id("assemble"), () => [bound("oem", story.assemble(at(), s.oem, items.pump, items.housings))]) },
      { name: "suppliers grant the OEM the pump's genealogy, the steel mill its heat", run: () => this.grantGenealogy(items) },
    ];
    if (cycle % (this.o.recallEvery ?? 3) === 0) {
      steps.push(
        { name: "OEM end-of-line test fails the pump", run: () => this.capture("oem", id("inspect"), () => [story.inspect(at(), s.oem, [items.pump], false)]) },
        { name: `steel mill recalls heat ${items.heat}`, run: () => this.capture("steel", id("recall"), () => [story.recallLot(at(), s.steel, items.heatLot)]) },
      );
    }
    if (this.revokes(cycle)) steps.push({ name: `test lab revokes heat ${items.heat}'s certificate: its re-test failed`, run: () => this.revoke(cycle, items) });
    return steps;
  }

  /** The lab signs a mill test report credential for the heat and issues it on chain. */
  private async certify(cycle: number, items: story.CycleItems): Promise<void> {
    const file = path.join(this.dir, `${cycleId(cycle)}-certificate.jwt`);
    const lab = demoWallet(demoOrg("lab").accountIndex);
    let jws: string;
    if (existsSync(file)) jws = readFileSync(file, "utf8").trim();
    else {
      const issued = new Date();
      const credential = {
        "@context": [VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT],
        type: ["VerifiableCredential", "MillTestReportCredential"],
        issuer: { id: `did:pkh:eip155:${this.o.deployment.chainId}:${lab.address}`, name: demoOrg("lab").name },
        validFrom: issued.toISOString(),
        validUntil: new Date(issued.getTime() + YEAR * 1000).toISOString(),
        credentialSubject: {
          id: items.heatLot,
          type: "MillTestReport",
          standard: "EN 10204:2004 type 3.1",
          heatNumber: items.heat,
          product: "steel billet, grade 42CrMo4",
          chemicalComposition: { C: 0.41, Mn: 0.75, Cr: 1.05, Mo: 0.2 },
          mechanicalProperties: { tensileStrengthMPa: 1020, yieldStrengthMPa: 780, elongationPercent: 14 },
        },
      };
      jws = await issueCredential(credential, new SigningKey(lab.privateKey), this.o.deployment.chainId, { certificates: this.o.deployment.contracts.certificates });
      writeFileSync(file, jws + "\n");
    }
    const certificateId = credentialHash(jws);
    const certs = this.chain("lab").certificates;
    if ((await certs.certificate(certificateId)).issuer !== 0n) return;
    const now = Math.floor(Date.now() / 1000);
    await (await certs.issue(certificateId, batchKey(items.heatLot), MILL_CERTIFICATE_SCOPE, now - 60, now + YEAR)).wait();
  }

  /**
   * The lab re-tests the heat's retained samples, finds the elongation below the certificate's,
   * and revokes it for non-conformity. The statement is journalled in the scenario directory
   * (written once, so a repeated step sends the same hash); the chain holds its keccak-256.
   */
  private async revoke(cycle: number, items: story.CycleItems): Promise<void> {
    const certificateId = this.certificateIdOf(cycle);
    if (certificateId === undefined) throw new Error(`heat ${items.heat} has no certificate to revoke`);
    const certs = this.chain("lab").certificates;
    // A repeated step after the revocation still hands the statement to the lab's node.
    if (Number((await certs.certificate(certificateId)).state) === CertificateState.Revoked) {
      const file = path.join(this.dir, `${cycleId(cycle)}-revocation.txt`);
      if (existsSync(file)) await this.client("lab").keepStatement(certificateId, readFileSync(file, "utf8"));
      return;
    }
    const file = path.join(this.dir, `${cycleId(cycle)}-revocation.txt`);
    if (!existsSync(file)) {
      const statement = [
        `${demoOrg("lab").name}: revocation of mill test certificate ${certificateId}`,
        `Heat ${items.heat} (${items.heatLot}), EN 10204 type 3.1.`,
        `A re-test of the heat's retained samples on ${new Date().toISOString()} measured 9 % elongation`,
        "after fracture, below the 14 % the certificate states and the 12 % the grade requires.",
        "The certificate is revoked for non-conformity; the heat must not be used on its strength.",
      ].join("\n");
      writeFileSync(`${file}.tmp`, statement + "\n");
      renameSync(`${file}.tmp`, file);
    }
    const statement = readFileSync(file, "utf8");
    await (await certs.revoke(certificateId, RevocationReason.NonConformity, keccakText(statement))).wait();
    // The lab's node keeps the text, checked against the hash, and serves it with the certificate.
    await this.client("lab").keepStatement(certificateId, statement);
  }

  /** `owner` lets `grantee` read its data about `scopeKey` for a year, unless it may already. */
  private async grant(owner: DemoOrg["key"], grantee: DemoOrg["key"], kind: ScopeKind, scopeKey: string): Promise<boolean> {
    const grants = this.chain(owner).accessGrants;
    const granteeId = await this.orgId(grantee);
    if (await grants.isAllowed(granteeId, await this.orgId(owner), scopeKey)) return false;
    const expires = (await this.o.provider.getBlock("latest"))!.timestamp + YEAR;
    await (await grants.grantAccess(granteeId, kind, scopeKey, PURPOSE, 0, 0, expires)).wait();
    return true;
  }

  /**
   * Each supplier lets the OEM read its data about everything that went into the pump; the steel
   * mill also shares the heat the pump's billets came from, as it does with the foundry: a
   * genealogy grant covers items, and the heat's melt record and its recall name the lot itself.
   */
  private async grantGenealogy(items: story.CycleItems): Promise<void> {
    for (const supplier of ["steel", "foundry", "machining"] as const) await this.grant(supplier, "oem", ScopeKind.ItemWithGenealogy, itemKey(items.pump));
    await this.grant("steel", "oem", ScopeKind.Batch, batchKey(items.heatLot));
  }
}
