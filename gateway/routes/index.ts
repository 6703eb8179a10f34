/** Every route module of the gateway, in registration order (see context.ts for the pattern). */
import type { RouteModule } from "../context.ts";
import * as accessLog from "./access-log.ts";
import * as accessRequests from "./access-requests.ts";
import * as auth from "./auth.ts";
import * as certificates from "./certificates.ts";
import * as docs from "./docs.ts";
import * as epcis from "./epcis.ts";
import * as grants from "./grants.ts";
import * as health from "./health.ts";
import * as identifiers from "./identifiers.ts";
import * as masterData from "./master-data.ts";
import * as passport from "./passport.ts";
import * as queries from "./queries.ts";
import * as publicViews from "./public.ts";
import * as recall from "./recall.ts";
import * as resolver from "./resolver.ts";
import * as rpc from "./rpc.ts";
import * as trace from "./trace.ts";
import * as workbench from "./workbench.ts";

export const routeModules: Record<string, RouteModule> = {
  health,
  docs,
  auth,
  certificates,
  epcis,
  identifiers,
  queries,
  masterData,
  rpc,
  resolver,
  trace,
  recall,
  publicViews,
  passport,
  accessLog,
  grants,
  accessRequests,
  workbench,
};
