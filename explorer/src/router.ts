/**
 * Hash routes (`/explorer/#/item/<id>`), so the gateway serves one index.html for every page and
 * the Digital Link resolver can redirect browsers straight to an item.
 */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "search" }
  | { page: "item"; id: string }
  | { page: "certificate"; id?: string }
  | { page: "readings"; eventId: string }
  | { page: "consortium" }
  | { page: "access-log" }
  | { page: "signin" }
  | { page: "workbench"; tab: WorkbenchTab };

/** The workbench's tabs (pages/Workbench.tsx), the first one the default. */
export const WORKBENCH_TABS = ["register", "stock", "receive", "lots", "share", "devices"] as const;
export type WorkbenchTab = (typeof WORKBENCH_TABS)[number];

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/");
  const arg = (i: number): string | undefined => {
    const raw = parts.slice(i).join("/");
    if (raw === "") return undefined;
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  };
  switch (parts[0]) {
    case "item": {
      const id = arg(1);
      return id === undefined ? { page: "search" } : { page: "item", id };
    }
    case "certificate": {
      const id = arg(1);
      return id === undefined ? { page: "certificate" } : { page: "certificate", id };
    }
    case "readings": {
      const eventId = arg(1);
      return eventId === undefined ? { page: "search" } : { page: "readings", eventId };
    }
    case "consortium":
      return { page: "consortium" };
    case "access-log":
      return { page: "access-log" };
    case "signin":
      return { page: "signin" };
    case "workbench": {
      const tab = WORKBENCH_TABS.find((x) => x === parts[1]) ?? "register";
      return { page: "workbench", tab };
    }
    default:
      return { page: "search" };
  }
}

export function href(route: Route): string {
  switch (route.page) {
    case "search":
      return "#/";
    case "item":
      return `#/item/${encodeURIComponent(route.id)}`;
    case "certificate":
      return route.id === undefined ? "#/certificate" : `#/certificate/${encodeURIComponent(route.id)}`;
    case "readings":
      return `#/readings/${encodeURIComponent(route.eventId)}`;
    case "consortium":
      return "#/consortium";
    case "access-log":
      return "#/access-log";
    case "signin":
      return "#/signin";
    case "workbench":
      return `#/workbench/${route.tab}`;
  }
}

export function navigate(route: Route): void {
  location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** The page URL of an item or certificate, for QR codes and sharing. */
export function absoluteHref(route: Route): string {
  return `${location.origin}${location.pathname}${href(route)}`;
}
