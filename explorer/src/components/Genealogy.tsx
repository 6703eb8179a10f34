/**
 * The genealogy graph (cytoscape): inputs on the left (where it came from), outputs on the right
 * (where it went), the recall scope in red. A list of the same parts sits beside the graph, so the
 * graph's content is reachable by keyboard and screen readers too.
 *
 * Usable at 1,000+ parts: the parts fall into tiers (inputs or outputs, by steps from this item).
 * In a graph of more than EXPAND_ALL parts, tiers beyond the first step start collapsed: a
 * collapsed tier is one node on the graph with its count ("312 parts"), which a click expands
 * (and the tier's button in the list). The list shows the same tiers, each paged.
 */
import type { Core } from "cytoscape";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { GenealogyAnswer } from "../../../lib/api/trace.ts";
import { identifierLabel } from "../describe-event.ts";
import { useI18n } from "../i18n.ts";
import { href, navigate } from "../router.ts";

type Part = GenealogyAnswer["nodes"][number];

/** Graphs up to this many parts start with every tier expanded. */
const EXPAND_ALL = 60;
/** Parts listed per page of a tier. */
const PAGE = 50;
/** Node label size (px at zoom 1) and the least zoom the graph opens at: labels at least 12 px. */
const FONT_PX = 16;
const MIN_OPEN_ZOOM = 0.75;

const nodeId = (n: { key: string; digitalLink?: string }) => n.digitalLink ?? n.key;
const short = (key: string) => `${key.slice(0, 10)}…`;

/** Parts of one side (inputs or outputs) at one number of steps from the item. */
export interface Tier {
  id: string;
  side: "in" | "out";
  depth: number;
  parts: Part[];
}

/**
 * The tiers of a graph: a part is an input when the item can be reached from it along the edges
 * (it went into the item, however many steps back), else an output; its tier is its side and depth.
 */
export function tiersOf(graph: GenealogyAnswer): Tier[] {
  const root = graph.root.toLowerCase();
  const into = new Map<string, string[]>(); // product -> its inputs
  for (const e of graph.edges) {
    const to = e.to.toLowerCase();
    into.set(to, [...(into.get(to) ?? []), e.from.toLowerCase()]);
  }
  const inputs = new Set<string>();
  let frontier = [root];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const k of frontier)
      for (const from of into.get(k) ?? [])
        if (!inputs.has(from) && from !== root) {
          inputs.add(from);
          next.push(from);
        }
    frontier = next;
  }
  const tiers = new Map<string, Tier>();
  for (const n of graph.nodes) {
    const key = n.key.toLowerCase();
    if (key === root) continue;
    const side = inputs.has(key) ? "in" : "out";
    const id = `${side}${n.depth}`;
    if (!tiers.has(id)) tiers.set(id, { id, side, depth: n.depth, parts: [] });
    tiers.get(id)!.parts.push(n);
  }
  // Inputs from the farthest back, then outputs outward: the order of time.
  return [...tiers.values()].sort((a, b) => (a.side !== b.side ? (a.side === "in" ? -1 : 1) : a.side === "in" ? b.depth - a.depth : a.depth - b.depth));
}

export function GenealogyGraph({ graph }: { graph: GenealogyAnswer }) {
  const { t } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  const recall = new Set(graph.recallScope.map((k) => k.toLowerCase()));
  const root = graph.root.toLowerCase();
  const tiers = useMemo(() => tiersOf(graph), [graph]);
  const openAtFirst = () => new Set(tiers.filter((x) => graph.nodes.length <= EXPAND_ALL || x.depth <= 1).map((x) => x.id));
  const [expanded, setExpanded] = useState<Set<string>>(openAtFirst);
  // Another item's graph opens as it would at first.
  useEffect(() => setExpanded(openAtFirst()), [graph]);
  const toggle = (id: string) =>
    setExpanded((now) => {
      const next = new Set(now);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  // "lot H0001": the batch's lot alone (its GTIN is the part's).
  const lot = (n: Part) => (n.batchDigitalLink === undefined ? "" : identifierLabel(n.batchDigitalLink, t).split(" · ").at(-1)!);
  const label = (n: Part) => (n.digitalLink === undefined ? short(n.key) : identifierLabel(n.digitalLink, t));
  // On the graph: who holds it, and which part it is, by its serial or lot alone (the list gives
  // the whole identifier): short labels stay legible and apart at the default zoom.
  const graphLabel = (n: Part) => `${n.owner?.name ?? ""}\n${label(n).split(" · ").at(-1) ?? ""}`.trim();
  const tierTitle = (x: Tier) => t(x.side === "in" ? "genealogy.tierIn" : "genealogy.tierOut", { steps: x.depth });

  useEffect(() => {
    if (box.current === null || graph.nodes.length <= 1) return;
    // cytoscape loads with the first graph, not with the page.
    let cy: Core | undefined;
    let gone = false;
    void import("cytoscape").then(({ default: cytoscape }) => {
      if (gone || box.current === null) return;
      // A part of a collapsed tier is drawn as its tier's node.
      const tierOf = new Map<string, Tier>();
      for (const x of tiers) for (const p of x.parts) tierOf.set(p.key.toLowerCase(), x);
      const drawnAs = (key: string) => {
        const k = key.toLowerCase();
        const x = tierOf.get(k);
        return x && !expanded.has(x.id) ? `tier:${x.id}` : k;
      };
      const shown = graph.nodes.filter((n) => drawnAs(n.key) === n.key.toLowerCase());
      const collapsed = tiers.filter((x) => !expanded.has(x.id));
      const edges = new Map<string, { source: string; target: string; kind: string }>();
      for (const e of graph.edges) {
        const source = drawnAs(e.from);
        const target = drawnAs(e.to);
        if (source !== target) edges.set(`${source}>${target}`, { source, target, kind: e.kind });
      }
      cy = cytoscape({
        container: box.current,
        elements: [
          ...shown.map((n) => ({
            data: { id: n.key.toLowerCase(), label: graphLabel(n), target: nodeId(n) },
            classes: [n.key.toLowerCase() === root ? "root" : "", recall.has(n.key.toLowerCase()) || n.recalled ? "recall" : ""].join(" ").trim(),
          })),
          ...collapsed.map((x) => ({
            data: { id: `tier:${x.id}`, label: `${tierTitle(x)}\n${t("genealogy.parts", { count: x.parts.length })}`, tier: x.id },
            classes: ["tier", x.parts.some((p) => recall.has(p.key.toLowerCase()) || p.recalled) ? "recall" : ""].join(" ").trim(),
          })),
          ...[...edges.values()].map((e, i) => ({ data: { id: `e${i}`, ...e } })),
        ],
        style: [
          {
            selector: "node",
            style: {
              label: "data(label)",
              "font-size": FONT_PX,
              "text-wrap": "wrap",
              "text-max-width": "130px",
              "text-valign": "bottom",
              "text-margin-y": 4,
              "background-color": "#1d4ed8",
              color: "#111827",
              width: 22,
              height: 22,
            },
          },
          { selector: "node.root", style: { "background-color": "#111827", "border-width": 4, "border-color": "#f59e0b", width: 30, height: 30 } },
          { selector: "node.tier", style: { shape: "round-rectangle", width: 40, height: 28, "background-color": "#e0e7ff", "border-width": 2, "border-color": "#1d4ed8", "font-weight": "bold" } },
          { selector: "node.recall", style: { "background-color": "#b91c1c", "border-color": "#7f1d1d", "border-width": 2 } },
          { selector: "node.root.recall", style: { "background-color": "#b91c1c", "border-color": "#f59e0b", "border-width": 4 } },
          {
            selector: "edge",
            style: { width: 2, "line-color": "#6b7280", "target-arrow-color": "#6b7280", "target-arrow-shape": "triangle", "curve-style": "bezier" },
          },
          { selector: "edge[kind = 'assembly']", style: { "line-style": "dashed" } },
        ],
        layout: { name: "breadthfirst", directed: true, spacingFactor: 1.8, padding: 16 },
        minZoom: 0.2,
        maxZoom: 3,
      });
      // Left to right reads as time: rotate the top-down breadth-first layout (not on a phone,
      // where the graph is taller than wide).
      if (box.current.clientWidth >= 520) cy.nodes().positions((n) => ({ x: n.position("y"), y: n.position("x") }));
      cy.fit(undefined, 30);
      if (cy.zoom() > 1.3) {
        cy.zoom(1.3);
        cy.center();
      }
      // Labels stay legible at the default zoom: a graph too big to fit is shown around this item
      // at a readable scale, the rest reached by panning (or the list beside it).
      if (cy.zoom() < MIN_OPEN_ZOOM) {
        cy.zoom(MIN_OPEN_ZOOM);
        cy.center(cy.getElementById(root));
      }
      // The labels' size as drawn, for whoever checks legibility (a canvas has no text to measure).
      box.current.dataset.labelPx = String(FONT_PX * cy.zoom());
      box.current.dataset.drawn = String(cy.nodes().length);
      cy.on("tap", "node", (ev) => {
        const tier = ev.target.data("tier") as string | undefined;
        if (tier !== undefined) return toggle(tier);
        if (ev.target.hasClass("root")) return;
        navigate({ page: "item", id: ev.target.data("target") as string });
      });
    }, () => undefined); // without the graph, the list beside it still shows the same parts
    return () => {
      gone = true;
      cy?.destroy();
    };
  }, [graph, expanded]);

  if (graph.nodes.length <= 1) return <p>{t("item.genealogyEmpty")}</p>;
  const rootPart = graph.nodes.find((n) => n.key.toLowerCase() === root);
  const item = (n: Part, isRoot = false) => {
    const inRecall = recall.has(n.key.toLowerCase()) || n.recalled === true;
    return (
      <li key={n.key} class={inRecall ? "recall" : ""} data-key={n.key}>
        {isRoot ? <strong>{label(n)} ({t("item.rootNode")})</strong> : <a href={href({ page: "item", id: nodeId(n) })}>{label(n)}</a>}
        {n.batchDigitalLink !== undefined && <span class="muted"> · {lot(n)}</span>}
        {inRecall && <span class="tag tag-red">{t("item.recalled")}</span>}
        {n.owner !== null && <span class="muted"> · {n.owner.name}</span>}
      </li>
    );
  };
  return (
    <div>
      <p class="help">{t("item.genealogyHelp")}</p>
      <div class="genealogy-view">
        <div ref={box} class="graph" role="img" aria-label={t("item.genealogy")} data-testid="genealogy-graph" />
        <div class="genealogy-list graph-list" data-testid="genealogy-list">
          {recall.size > 0 && <p class="recall-note">{t("item.recallScope", { count: recall.size })}</p>}
          {rootPart && <ul class="tier-parts">{item(rootPart, true)}</ul>}
          {tiers.map((x) => (
            <TierList key={x.id} tier={x} title={tierTitle(x)} open={expanded.has(x.id)} onToggle={() => toggle(x.id)} item={item} />
          ))}
        </div>
      </div>
    </div>
  );
}

/** One tier in the list: a button that collapses and expands it, and its parts a page at a time. */
function TierList({ tier, title, open, onToggle, item }: { tier: Tier; title: string; open: boolean; onToggle: () => void; item: (n: Part) => preact.JSX.Element }) {
  const { t } = useI18n();
  const [page, setPage] = useState(0);
  const pages = Math.ceil(tier.parts.length / PAGE);
  const shown = tier.parts.slice(page * PAGE, (page + 1) * PAGE);
  const listId = `tier-${tier.id}`;
  return (
    <section class="tier" data-tier={tier.id} data-testid="genealogy-tier">
      <h4 class="tier-title">
        <button type="button" class="link" aria-expanded={open} aria-controls={listId} onClick={onToggle}>
          {title} <span class="count-badge">{t("genealogy.parts", { count: tier.parts.length })}</span>
        </button>
      </h4>
      {open && (
        <>
          <ul class="tier-parts" id={listId}>
            {shown.map((n) => item(n))}
          </ul>
          {pages > 1 && (
            <p class="pager">
              <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
                {t("genealogy.previous")}
              </button>{" "}
              <span>{t("genealogy.range", { from: page * PAGE + 1, to: page * PAGE + shown.length, count: tier.parts.length })}</span>{" "}
              <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>
                {t("genealogy.next")}
              </button>
            </p>
          )}
        </>
      )}
    </section>
  );
}
