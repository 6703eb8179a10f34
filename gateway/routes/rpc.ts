import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";

export function register(_router: GatewayRouter, _context: RouteContext): void {}

export const paths: OpenApiPaths = {};
