/**
 * `npm run tm -- <command>`: the Tracemesh member tool. Propose and vote on membership changes,
 * grant and revoke access, accredit certifiers and manage certificates, and show the
 * consortium's state. `npm run tm -- --help` lists the commands.
 */
import { run } from "./cli.ts";

process.exitCode = await run(process.argv.slice(2));
