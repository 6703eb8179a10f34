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
import { TRACEMESH_EPCIS_NS } from "../../lib/epcis/readings.ts";
import { gs1CheckDigit } from "../../lib/identifiers/gs1-keys.ts";

export const EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld";

/** A GS1 company prefix (952 + 4 digits) and the GLN of the organisation's site. */
export interface Site {
  companyPrefix: string;
  /** Location reference within the prefix (5 digits). */
  location: string;
}

const withCheckDigit = (body: string) => body + String(gs1CheckDigit(body));

/** GTIN-14 for an item reference (5 digits) under the prefix. */
export const gtin = (site: Site, itemRef: string) => withCheckDigit(`0${site.companyPrefix}${itemRef}`);
/** GLN of the site (13 digits). */
export const gln = (site: Site) => withCheckDigit(`${site.companyPrefix}${site.location}`);

export const sgtin = (gtin14: string, serial: string) => `https://id.gs1.org/01/${gtin14}/21/${encodeURIComponent(serial)}`;
export const lgtin = (gtin14: string, lot: string) => `https://id.gs1.org/01/${gtin14}/10/${encodeURIComponent(lot)}`;
export const partyOf = (site: Site) => `https://id.gs1.org/417/${gln(site)}`;
export const placeOf = (site: Site) => `https://id.gs1.org/414/${gln(site)}`;

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

export type EpcisEventJson = Record<string, unknown>;

/** An EPCIS 2.0 document around the given events ("tm:" names Tracemesh's reading bindings), with an optional header (master data). */
export function epcisDocument(events: EpcisEventJson[], creationDate: string, epcisHeader?: Record<string, unknown>): Record<string, unknown> {
  return {
    "@context": [EPCIS_CONTEXT, { tm: TRACEMESH_EPCIS_NS }],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate,
    ...(epcisHeader !== undefined ? { epcisHeader } : {}),
    epcisBody: { eventList: events },
  };
}

const common = (time: string, site: Site, bizStep: string) => ({
  eventTime: time,
  eventTimeZoneOffset: "+00:00",
  bizStep,
  readPoint: { id: placeOf(site) },
  bizLocation: { id: placeOf(site) },
});

/** Items come into existence; with `lot`, as one batch (LGTIN) of that lot number. */
export const commission = (time: string, site: Site, epcs: string[], lot?: string): EpcisEventJson => ({
  type: "ObjectEvent",
  ...common(time, site, "commissioning"),
  action: "ADD",
  epcList: epcs,
  disposition: "active",
  ...(lot !== undefined ? { ilmd: { "cbvmda:lotNumber": lot } } : {}),
});

export const ship = (time: string, from: Site, to: Site, epcs: string[]): EpcisEventJson => ({
  type: "ObjectEvent",
  ...common(time, from, "shipping"),
  action: "OBSERVE",
  epcList: epcs,
  disposition: "in_transit",
  sourceList: [{ type: "owning_party", source: partyOf(from) }],
  destinationList: [
    { type: "owning_party", destination: partyOf(to) },
    { type: "location", destination: placeOf(to) },
  ],
});

export const receive = (time: string, at: Site, from: Site, epcs: string[]): EpcisEventJson => ({
  type: "ObjectEvent",
  ...common(time, at, "receiving"),
  action: "OBSERVE",
  epcList: epcs,
  disposition: "in_progress",
  sourceList: [{ type: "owning_party", source: partyOf(from) }],
  destinationList: [{ type: "owning_party", destination: partyOf(at) }],
});

export const transform = (time: string, site: Site, bizStep: string, inputs: string[], outputs: string[]): EpcisEventJson => ({
  type: "TransformationEvent",
  ...common(time, site, bizStep),
  inputEPCList: inputs,
  outputEPCList: outputs,
  disposition: "active",
});

export const assemble = (time: string, site: Site, parent: string, children: string[]): EpcisEventJson => ({
  type: "AggregationEvent",
  ...common(time, site, "assembling"),
  action: "ADD",
  parentID: parent,
  childEPCs: children,
  disposition: "active",
});

export const inspect = (time: string, site: Site, epcs: string[], passed: boolean): EpcisEventJson => ({
  type: "ObjectEvent",
  ...common(time, site, "inspecting"),
  action: "OBSERVE",
  epcList: epcs,
  disposition: passed ? "conformant" : "non_conformant",
});

/**
 * A recall of a whole heat: every item of the lot, and everything made from it, is in scope.
 * CBV 2.0 has no recalling step; the lot is put on hold with the disposition "recalled".
 */
export const recallLot = (time: string, site: Site, lot: string): EpcisEventJson => ({
  type: "ObjectEvent",
  ...common(time, site, "holding"),
  action: "OBSERVE",
  epcList: [],
  quantityList: [{ epcClass: lot }],
  disposition: "recalled",
});
