/**
 * The genealogy graph (cytoscape): inputs on the left (where it came from), outputs on the right
 * (where it went), the recall scope in red. A list of the same parts follows the graph, so the
 * graph's content is reachable by keyboard and screen readers too.
 */
import type { Core } from "cytoscape";
import { useEffect, useRef } from "preact/hooks";
import type { GenealogyAnswer } from "../../../lib/api/trace.ts";
import { identifierLabel } from "../describe-event.ts";
import { useI18n } from "../i18n.ts";
import { href, navigate } from "../router.ts";

const nodeId = (n: { key: string; digitalLink?: string }) => n.digitalLink ?? n.key;
const short = (key: string) => `${key.slice(0, 10)}…`;

export function GenealogyGraph({ graph }: { graph: GenealogyAnswer }) {
  const { t } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  const recall = new Set(graph.recallScope.map((k) => k.toLowerCase()));
  const label = (n: GenealogyAnswer["nodes"][number]) => (n.digitalLink === undefined ? short(n.key) : identifierLabel(n.digitalLink, t));
  // On the graph: who holds it, and which part it is, by its serial or lot alone (the list below
  // gives the whole identifier): short labels stay legible and apart at the default zoom.
  const graphLabel = (n: GenealogyAnswer["nodes"][number]) => `${n.owner?.name ?? ""}\n${label(n).split(" · ").at(-1) ?? ""}`.trim();

  useEffect(() => {
    if (box.current === null || graph.nodes.length === 0) return;
    // cytoscape loads with the first graph, not with the page.
    let cy: Core | undefined;
    let gone = false;
    void import("cytoscape").then(({ default: cytoscape }) => {
      if (gone || box.current === null) return;
      cy = cytoscape({
        container: box.current,
        elements: [
          ...graph.nodes.map((n) => ({
            data: { id: n.key.toLowerCase(), label: graphLabel(n), target: nodeId(n) },
            classes: [n.key.toLowerCase() === graph.root.toLowerCase() ? "root" : "", recall.has(n.key.toLowerCase()) || n.recalled ? "recall" : ""].join(" ").trim(),
          })),
          ...graph.edges.map((e, i) => ({ data: { id: `e${i}`, source: e.from.toLowerCase(), target: e.to.toLowerCase(), kind: e.kind } })),
        ],
        style: [
          {
            selector: "node",
            style: {
              label: "data(label)",
              "font-size": 15,
              "text-wrap": "wrap",
              "text-max-width": "120px",
              "text-valign": "bottom",
              "text-margin-y": 4,
              "background-color": "#1d4ed8",
              color: "#111827",
              width: 22,
              height: 22,
            },
          },
          { selector: "node.root", style: { "background-color": "#111827", "border-width": 4, "border-color": "#f59e0b", width: 30, height: 30 } },
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
      // at a readable scale, the rest reached by panning (or the list below).
      if (cy.zoom() < 0.7) {
        cy.zoom(0.7);
        cy.center(cy.getElementById(graph.root.toLowerCase()));
      }
      cy.on("tap", "node", (ev) => {
        const target = ev.target.data("target") as string;
        if (ev.target.hasClass("root")) return;
        navigate({ page: "item", id: target });
      });
    }, () => undefined); // without the graph, the list below still shows the same parts
    return () => {
      gone = true;
      cy?.destroy();
    };
  }, [graph]);

  if (graph.nodes.length <= 1) return <p>{t("item.genealogyEmpty")}</p>;
  return (
    <div>
      <p class="help">{t("item.genealogyHelp")}</p>
      <div ref={box} class="graph" role="img" aria-label={t("item.genealogy")} data-testid="genealogy-graph" />
      {recall.size > 0 && <p class="recall-note">{t("item.recallScope", { count: recall.size })}</p>}
      <ul class="graph-list">
        {graph.nodes.map((n) => {
          const isRoot = n.key.toLowerCase() === graph.root.toLowerCase();
          const inRecall = recall.has(n.key.toLowerCase()) || n.recalled === true;
          return (
            <li key={n.key} class={inRecall ? "recall" : ""} data-key={n.key}>
              {isRoot ? <strong>{label(n)} ({t("item.rootNode")})</strong> : <a href={href({ page: "item", id: nodeId(n) })}>{label(n)}</a>}
              {inRecall && <span class="tag tag-red">{t("item.recalled")}</span>}
              {n.owner !== null && <span class="muted"> · {n.owner.name}</span>}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
