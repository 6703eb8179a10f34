/**
 * The demo's supply chain, written as the EPCIS 2.0 documents its members capture.
 *
 * One production cycle: the steel mill melts a heat and casts it into billets (commissioned with
 * the heat number as their lot), ships them to the foundry, which casts pump housings from them
 * (a transformation), ships those to the machining shop, which machines them (a transformation),
 * ships the machined housings to the OEM, which assembles them into pumps (an aggregation).
 *
 * Identifiers use GS1's prefix 952, reserved for demonstrations and examples, so no real
 * company's numbers appear. Every document is a pure function of the cycle and its times, so a
 * step interrupted by a restart is captured again with the same bytes (and so the same event
 * hashes): the gateway answers the earlier result instead of recording it twice.
 */
import * as build from "../../lib/epcis/builders.ts";
import { type EpcisEventJson, type Site, gln, gtin, lgtin, sgtin } from "../../lib/epcis/builders.ts";

export { type EpcisEventJson, type Site, epcisDocument, gln, gtin, lgtin, sgtin } from "../../lib/epcis/builders.ts";

export const partyOf = (site: Site) => build.party(gln(site));
export const placeOf = (site: Site) => build.place(gln(site));

/** Item references of the demo's products. */
export const PRODUCTS = {
  billet: "00011",
  casting: "00021",
  housing: "00031",
  pump: "00041",
} as const;

/** What each producer's product is called, in its master data. */
const PRODUCT_OF: Record<keyof StorySites, { ref: string; description: string }> = {
  steel: { ref: PRODUCTS.billet, description: "Steel billet, 42CrMo4" },
  foundry: { ref: PRODUCTS.casting, description: "Pump housing casting" },
  machining: { ref: PRODUCTS.housing, description: "Machined pump housing" },
  oem: { ref: PRODUCTS.pump, description: "Centrifugal pump" },
};

/**
 * The EPCIS header with a member's master data: the name of its site and the description of its
 * product, which the explorer shows instead of bare identifiers. Only the holder of the prefix may
 * define them (gateway/routes/master-data.ts), so each member names its own.
 */
export function masterDataHeader(key: keyof StorySites, site: Site, organisation: string): Record<string, unknown> {
  const name = "urn:epcglobal:cbv:mda:name";
  return {
    epcisMasterData: {
      vocabularyList: [
        { type: "urn:epcglobal:epcis:vtype:BusinessLocation", vocabularyElementList: [{ id: placeOf(site), attributes: [{ id: name, attribute: `${organisation}, main site` }] }] },
        { type: "urn:epcglobal:epcis:vtype:EPCClass", vocabularyElementList: [{ id: `https://id.gs1.org/01/${gtin(site, PRODUCT_OF[key].ref)}`, attributes: [{ id: name, attribute: PRODUCT_OF[key].description }] }] },
      ],
    },
  };
}

export interface StorySites {
  steel: Site;
  foundry: Site;
  machining: Site;
  oem: Site;
}

/** The items one cycle makes. */
export interface CycleItems {
  heat: string;
  heatLot: string;
  billets: string[];
  castings: string[];
  housings: string[];
  pump: string;
}

/** Items per cycle: 2 billets -> 2 castings -> 2 housings -> 1 pump. */
export function cycleItems(sites: StorySites, cycle: number): CycleItems {
  const n = String(cycle).padStart(4, "0");
  const heat = `H${n}`;
  const two = (p: string) => [`${p}${n}-1`, `${p}${n}-2`];
  return {
    heat,
    heatLot: lgtin(gtin(sites.steel, PRODUCTS.billet), heat),
    billets: two("B").map((s) => sgtin(gtin(sites.steel, PRODUCTS.billet), s)),
    castings: two("C").map((s) => sgtin(gtin(sites.foundry, PRODUCTS.casting), s)),
    housings: two("M").map((s) => sgtin(gtin(sites.machining, PRODUCTS.housing), s)),
    pump: sgtin(gtin(sites.oem, PRODUCTS.pump), `P${n}`),
  };
}

// The story's steps in its own terms (sites), built by lib/epcis/builders.ts.
const when = (time: string, site: Site) => ({ time, at: gln(site) });

/** Items come into existence; with `lot`, as one batch (LGTIN) of that lot number. */
export const commission = (time: string, site: Site, epcs: string[], lot?: string): EpcisEventJson =>
  build.commission({ ...when(time, site), items: epcs, ...(lot !== undefined ? { lot } : {}) });

export const ship = (time: string, from: Site, to: Site, epcs: string[]): EpcisEventJson => build.ship({ ...when(time, from), to: gln(to), items: epcs });

export const receive = (time: string, at: Site, from: Site, epcs: string[]): EpcisEventJson => build.receive({ ...when(time, at), from: gln(from), items: epcs });

export const transform = (time: string, site: Site, bizStep: string, inputs: string[], outputs: string[]): EpcisEventJson =>
  build.transform({ ...when(time, site), bizStep, inputs, outputs });

export const assemble = (time: string, site: Site, parent: string, children: string[]): EpcisEventJson => build.assemble({ ...when(time, site), parent, children });

export const inspect = (time: string, site: Site, epcs: string[], passed: boolean): EpcisEventJson => build.inspect({ ...when(time, site), items: epcs, passed });

/** A recall of a whole heat: every item of the lot, and everything made from it, is in scope. */
export const recallLot = (time: string, site: Site, lot: string): EpcisEventJson => build.recall({ ...when(time, site), lot });
