/** Where the demo and the benchmarks find GS1's EPCIS schema and context when none is installed. */
import { existsSync } from "node:fs";
import path from "node:path";

/**
 * GS1's EPCIS JSON Schema and JSON-LD context are installed by the operator, not shipped (see
 * lib/epcis/schema/README.md). The demo and the benchmarks use the copies among the project's shared test fixtures
 * when they sit beside the repository and nothing else was configured.
 */
export function useFixtureEpcisFiles(root: string): void {
  const fixtures = path.resolve(root, "..", "shared", "fixtures", "epcis");
  const files = { TRACEMESH_EPCIS_SCHEMA: "EPCIS-JSON-Schema.json", TRACEMESH_EPCIS_CONTEXT: "epcis-context.jsonld" } as const;
  for (const [env, name] of Object.entries(files)) {
    const installed = path.join(root, "lib", "epcis", "schema", name);
    if (process.env[env] || existsSync(installed)) continue;
    const fixture = path.join(fixtures, name);
    if (!existsSync(fixture)) {
      throw new Error(`GS1's ${name} is not installed: place it at ${installed} or set ${env} (see lib/epcis/schema/README.md)`);
    }
    process.env[env] = fixture;
  }
}
