/**
 * Key material is registered as a secret the moment it is known, before the command line is
 * even checked, so that no message (an argument echoed back, an error from a library) can print
 * it. Loading the key into a wallet happens later, in the session.
 */
import { readFileSync } from "node:fs";
import { addSecret } from "./output.ts";

export function registerKeySecrets(keyFile: string | undefined, envKey: string | undefined, password: string | undefined): void {
  if (envKey) addSecret(envKey);
  if (password) addSecret(password);
  if (keyFile) {
    try {
      const content = readFileSync(keyFile, "utf8").trim();
      if (!content.startsWith("{")) addSecret(content);
    } catch {
      // reported when the key is loaded
    }
  }
}
