/**
 * CBV 2.0 standard vocabularies as the EPCIS 2.0 JSON-LD context defines their bare terms, and
 * conversion between the three spellings of a standard value:
 *   bare term (JSON/JSON-LD)      "shipping"
 *   CBV Web URI (canonical)       "https://ref.gs1.org/cbv/BizStep-shipping"
 *   EPCIS 1.x URN                 "urn:epcglobal:cbv:bizstep:shipping"
 * plus the compact form "cbv:BizStep-shipping". Non-standard values (any other URI) pass through.
 */

export type CbvVocabulary =
  | "bizStep"
  | "disposition"
  | "bizTransactionType"
  | "sourceDestType"
  | "errorReason"
  | "component"
  | "measurementType"
  | "sensorAlertType";

export const CBV_BASE = "https://ref.gs1.org/cbv/";
/** Namespace of the "gs1" prefix in the EPCIS 2.0 context (measurement and sensor alert types). */
export const GS1_VOC_BASE = "https://gs1.org/voc/";

const words = (s: string): readonly string[] => s.trim().split(/\s+/);

interface VocabularySpec {
  /** Namespace + term prefix of the canonical URI. */
  readonly uriPrefix: string;
  /** EPCIS 1.x URN prefix, when the vocabulary had one. */
  readonly urnPrefix?: string;
  /** Bare terms defined by the EPCIS 2.0 JSON-LD context. */
  readonly terms: ReadonlySet<string>;
}

export const VOCABULARIES: Readonly<Record<CbvVocabulary, VocabularySpec>> = {
  bizStep: {
    uriPrefix: CBV_BASE + "BizStep-",
    urnPrefix: "urn:epcglobal:cbv:bizstep:",
    terms: new Set(
      words(`accepting arriving assembling collecting commissioning consigning creating_class_instance
        cycle_counting decommissioning departing destroying disassembling dispensing encoding
        entering_exiting holding inspecting installing killing loading other packing picking receiving
        removing repackaging repairing replacing reserving retail_selling sampling sensor_reporting
        shipping staging_outbound stock_taking stocking storing transporting unloading unpacking
        void_shipping`),
    ),
  },
  disposition: {
    uriPrefix: CBV_BASE + "Disp-",
    urnPrefix: "urn:epcglobal:cbv:disp:",
    terms: new Set(
      words(`active available completeness_inferred completeness_verified conformant container_closed
        container_open damaged destroyed dispensed disposed encoded expired in_progress in_transit
        inactive mismatch_class mismatch_instance mismatch_quantity needs_replacement no_pedigree_match
        non_conformant non_sellable_other partially_dispensed recalled reserved retail_sold returned
        sellable_accessible sellable_not_accessible stolen unavailable unknown`),
    ),
  },
  bizTransactionType: {
    uriPrefix: CBV_BASE + "BTT-",
    urnPrefix: "urn:epcglobal:cbv:btt:",
    terms: new Set(words("bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt")),
  },
  sourceDestType: {
    uriPrefix: CBV_BASE + "SDT-",
    urnPrefix: "urn:epcglobal:cbv:sdt:",
    terms: new Set(words("location owning_party possessing_party")),
  },
  errorReason: {
    uriPrefix: CBV_BASE + "ER-",
    urnPrefix: "urn:epcglobal:cbv:er:",
    terms: new Set(words("did_not_occur incorrect_data")),
  },
  component: {
    uriPrefix: CBV_BASE + "Comp-",
    terms: new Set(
      words(`x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle easting
        northing latitude longitude altitude`),
    ),
  },
  measurementType: {
    uriPrefix: GS1_VOC_BASE,
    terms: new Set(
      words(`AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Altitude AmountOfSubstance
        AmountOfSubstancePerUnitVolume Angle AngularAcceleration AngularMomentum AngularVelocity Area
        Capacitance Conductance Conductivity Count Density Dimensionless DoseEquivalent
        DoseEquivalentRate DynamicViscosity ElectricCharge ElectricCurrent ElectricCurrentDensity
        ElectricFieldStrength Energy Exposure Force Frequency Illuminance Inductance Irradiance
        KinematicViscosity Length LinearMomentum Luminance LuminousFlux LuminousIntensity MagneticFlux
        MagneticFluxDensity MagneticVectorPotential Mass MassConcentration MassFlowRate
        MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy MolarMass MolarVolume Power
        Pressure RadiantFlux RadiantIntensity Radioactivity RelativeHumidity Resistance Resistivity
        SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension Temperature Time Torque Voltage
        Volume VolumeFlowRate VolumeFraction VolumetricFlux Wavenumber`),
    ),
  },
  sensorAlertType: {
    uriPrefix: GS1_VOC_BASE,
    terms: new Set(words("ALARM_CONDITION ERROR_CONDITION")),
  },
};

/** EPCIS 1.x URN prefixes and their CBV 2.0 Web URI replacements (CBV 2.0 event hash rule 14). */
export const URN_TO_WEB_URI: readonly (readonly [string, string])[] = (
  ["bizStep", "disposition", "bizTransactionType", "sourceDestType", "errorReason"] as const
).map((v) => [VOCABULARIES[v].urnPrefix!, VOCABULARIES[v].uriPrefix] as const);

/**
 * The bare term's full URI, as JSON-LD expansion with the EPCIS 2.0 context gives it; undefined
 * when `value` is not a bare term of that vocabulary.
 */
export function expandBareTerm(vocabulary: CbvVocabulary, value: string): string | undefined {
  const spec = VOCABULARIES[vocabulary];
  return spec.terms.has(value) ? spec.uriPrefix + value : undefined;
}

/**
 * The canonical URI of a vocabulary value in any spelling: bare term, CBV Web URI, EPCIS 1.x URN
 * or "cbv:" compact form. Any other value (a private vocabulary URI) is returned unchanged.
 */
export function cbvUri(vocabulary: CbvVocabulary, value: string): string {
  const spec = VOCABULARIES[vocabulary];
  const v = value.trim();
  if (spec.terms.has(v)) return spec.uriPrefix + v;
  if (spec.urnPrefix && v.startsWith(spec.urnPrefix)) return spec.uriPrefix + v.slice(spec.urnPrefix.length);
  if (spec.uriPrefix.startsWith(CBV_BASE) && v.startsWith("cbv:")) return CBV_BASE + v.slice(4);
  if (spec.uriPrefix === GS1_VOC_BASE && v.startsWith("gs1:")) return GS1_VOC_BASE + v.slice(4);
  return v;
}

/** The standard term of a value (e.g. "shipping"), or undefined for a non-standard value. */
export function cbvTerm(vocabulary: CbvVocabulary, value: string): string | undefined {
  const uri = cbvUri(vocabulary, value);
  const spec = VOCABULARIES[vocabulary];
  if (!uri.startsWith(spec.uriPrefix)) return undefined;
  const term = uri.slice(spec.uriPrefix.length);
  return term === "" ? undefined : term;
}

/** True when two spellings denote the same vocabulary value. */
export function sameCbvValue(vocabulary: CbvVocabulary, a: string, b: string): boolean {
  return cbvUri(vocabulary, a) === cbvUri(vocabulary, b);
}
