/**
 * What a command handler is: the contract between the command table (commands.ts), the front
 * door (cli.ts) and the handler modules (governance.ts, access.ts, certs.ts). Its own file, so
 * the handler modules, which the table loads lazily, need not import the table back.
 */
import type { Wallet } from "ethers";
import type { CommandResult, Output } from "./output.ts";
import type { Session } from "./session.ts";

/** A parsed invocation of one command. */
export interface Invocation {
  /** "cert issue" */
  command: string;
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

/** Runs a checked command against the chain. */
export type Run = (session: Session) => Promise<CommandResult>;

/**
 * Checks the command's arguments (throwing UsageError) before anything connects to the chain,
 * and returns what to run.
 */
export type Handler = (inv: Invocation) => Run;

/** What a command that talks only to a member gateway gets: the output and the signing key, no chain. */
export interface GatewaySession {
  out: Output;
  wallet: Wallet | undefined;
}

/** A handler of a gateway-only command (capture, import): no chain connection is opened. */
export type GatewayHandler = (inv: Invocation) => (session: GatewaySession) => Promise<CommandResult>;
