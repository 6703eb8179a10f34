/**
 * An EPCIS event in plain words: who, what, where, when and why, from its CBV bizStep,
 * disposition, readPoint and bizLocation. Terms the dictionaries know are translated; others are
 * shown as their CBV term with dashes and underscores turned into spaces.
 */
import { cbvTerm } from "../../lib/epcis/cbv.ts";
import { parseIdentifier } from "../../lib/identifiers/canonical.ts";
import { identifierType } from "../../lib/identifiers/gs1-keys.ts";
import { type Lang, type Translate, hasMessage } from "./messages.ts";

const BIZ_STEPS: Record<string, { en: string; zh: string }> = {
  commissioning: { en: "commissioning", zh: "赋码启用" },
  shipping: { en: "shipping", zh: "发货" },
  receiving: { en: "receiving", zh: "收货" },
  accepting: { en: "accepting", zh: "验收" },
  inspecting: { en: "inspecting", zh: "检验" },
  assembling: { en: "assembling", zh: "装配" },
  disassembling: { en: "disassembling", zh: "拆解" },
  packing: { en: "packing", zh: "包装" },
  unpacking: { en: "unpacking", zh: "拆包" },
  transforming: { en: "transforming", zh: "加工" },
  creating_class_instance: { en: "production", zh: "生产" },
  repairing: { en: "repairing", zh: "维修" },
  storing: { en: "storing", zh: "入库存储" },
  loading: { en: "loading", zh: "装载" },
  departing: { en: "departing", zh: "出发" },
  arriving: { en: "arriving", zh: "到达" },
  decommissioning: { en: "decommissioning", zh: "注销" },
  destroying: { en: "destroying", zh: "销毁" },
  recalling: { en: "recall", zh: "召回" },
  holding: { en: "holding", zh: "扣留" },
  sensor_reporting: { en: "sensor reporting", zh: "传感器报告" },
  testing: { en: "testing", zh: "测试" },
};

const DISPOSITIONS: Record<string, { en: string; zh: string }> = {
  active: { en: "active", zh: "有效" },
  in_progress: { en: "in progress", zh: "进行中" },
  in_transit: { en: "in transit", zh: "运输中" },
  conformant: { en: "conformant", zh: "合格" },
  non_conformant: { en: "non-conformant", zh: "不合格" },
  recalled: { en: "recalled", zh: "已召回" },
  damaged: { en: "damaged", zh: "损坏" },
  destroyed: { en: "destroyed", zh: "已销毁" },
  inactive: { en: "inactive", zh: "停用" },
  needs_replacement: { en: "needs replacement", zh: "需要更换" },
  container_closed: { en: "container closed", zh: "容器已封闭" },
  sellable_accessible: { en: "sellable", zh: "可销售" },
  encoded: { en: "encoded", zh: "已编码" },
  unknown: { en: "unknown", zh: "未知" },
};

const humanise = (term: string): string => term.replace(/[_-]+/g, " ");

export function bizStepWords(value: string, lang: Lang): string {
  const term = cbvTerm("bizStep", value) ?? value.replace(/^.*[/:]/, "");
  return BIZ_STEPS[term]?.[lang] ?? humanise(term);
}

export function dispositionWords(value: string, lang: Lang): string {
  const term = cbvTerm("disposition", value) ?? value.replace(/^.*[/:]/, "");
  return DISPOSITIONS[term]?.[lang] ?? humanise(term);
}

/** A short human label for an identifier: "GTIN 0952… serial 42", a GLN, or the text itself. */
/** An identifier in short words; with `t`, the words "lot" and "S/N" in the page's language. */
export function identifierLabel(value: string, t?: Translate): string {
  const lotWord = t ? t("id.lot") : "lot";
  const serialWord = t ? t("id.serial") : "S/N";
  try {
    const id = parseIdentifier(value);
    const type = identifierType(id);
    const q = Object.fromEntries(id.qualifiers.map((e) => [e.ai, e.value]));
    switch (type) {
      case "sgtin":
        return `GTIN ${id.primary.value} · ${serialWord} ${q["21"] ?? ""}`;
      case "lgtin":
        return `GTIN ${id.primary.value} · ${lotWord} ${q["10"] ?? ""}`;
      case "gtin":
        return `GTIN ${id.primary.value}`;
      case "sscc":
        return `SSCC ${id.primary.value}`;
      case "gln":
      case "sgln":
        return `GLN ${id.primary.value}${q["254"] ? ` · ${q["254"]}` : ""}`;
      case "giai":
        return `GIAI ${id.primary.value}`;
      default:
        return value;
    }
  } catch {
    return value;
  }
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const idOf = (v: unknown): string | undefined => (v !== null && typeof v === "object" ? str((v as Record<string, unknown>).id) : str(v));

function listOf(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => str(x) ?? str((x as Record<string, unknown> | null)?.epcClass)).filter((x): x is string => x !== undefined);
}

function objects(list: string[], t: Translate): string {
  if (list.length === 0) return "—";
  if (list.length <= 2) return list.map((v) => identifierLabel(v, t)).join(", ");
  return t("what.items", { count: list.length });
}

export interface EventWords {
  what: string;
  where: string[];
  when: string;
  why: string[];
  /** Identifiers the event names, for links. */
  identifiers: string[];
}

/** `placeName`: a location's name from master data (api.ts `locationNames`), when known. */
export function describeEvent(event: Record<string, unknown>, t: Translate, lang: Lang, formatTime: (v: string) => string, placeName?: (id: string) => string | undefined): EventWords {
  const type = str(event.type) ?? "Event";
  const action = str(event.action);
  const epcs = [...listOf(event.epcList), ...listOf(event.quantityList)];
  const children = [...listOf(event.childEPCs), ...listOf(event.childQuantityList)];
  const parent = str(event.parentID);
  const inputs = [...listOf(event.inputEPCList), ...listOf(event.inputQuantityList)];
  const outputs = [...listOf(event.outputEPCList), ...listOf(event.outputQuantityList)];
  const params = {
    objects: objects(epcs, t),
    children: objects(children, t),
    parent: parent === undefined ? "—" : identifierLabel(parent, t),
    inputs: objects(inputs, t),
    outputs: objects(outputs, t),
    type,
  };
  const keyed = `what.${type}.${action ?? ""}`;
  const plain = `what.${type}`;
  const key = hasMessage(keyed) ? keyed : hasMessage(plain) ? plain : "what.unknown";
  const what = t(key, params);

  const where: string[] = [];
  const readPoint = idOf(event.readPoint);
  const bizLocation = idOf(event.bizLocation);
  const place = (id: string) => placeName?.(id) ?? identifierLabel(id, t);
  if (readPoint !== undefined) where.push(t("where.readPoint", { place: place(readPoint) }));
  if (bizLocation !== undefined && bizLocation !== readPoint) where.push(t("where.bizLocation", { place: place(bizLocation) }));

  const time = str(event.eventTime);
  const offset = str(event.eventTimeZoneOffset);
  const when = time === undefined ? "—" : offset === undefined ? formatTime(time) : t("when.local", { time: formatTime(time), offset });

  const why: string[] = [];
  const bizStep = str(event.bizStep);
  const disposition = str(event.disposition);
  if (bizStep !== undefined) why.push(t("why.bizStep", { step: bizStepWords(bizStep, lang) }));
  if (disposition !== undefined) why.push(t("why.disposition", { disposition: dispositionWords(disposition, lang) }));

  const identifiers = [...new Set([...epcs, ...children, ...inputs, ...outputs, ...(parent === undefined ? [] : [parent])])];
  return { what, where, when, why, identifiers };
}
