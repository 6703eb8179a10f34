/**
 * Revocation and suspension statements this organisation made as an issuer of certificates. The
 * chain holds only a statement's keccak-256 (Certificates.revoke's reasonHash); the text, which
 * may name people, tests and customers, stays off chain with its issuer, one file per
 * certificate. The store keeps what it is given; whoever reads it checks the text against the
 * hash on chain (a file changed on disk is not the statement).
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";

const ID = /^0x[0-9a-f]{64}$/;

export class StatementStore {
  private constructor(private readonly dir: string) {}

  static async open(dir: string): Promise<StatementStore> {
    await mkdir(dir, { recursive: true });
    return new StatementStore(dir);
  }

  private file(certificateId: string): string {
    const id = certificateId.toLowerCase();
    if (!ID.test(id)) throw new Error(`certificate id "${certificateId}" must be 0x and 64 hex digits`);
    return path.join(this.dir, `${id}.txt`);
  }

  /** Keeps `text` as the statement of `certificateId` (atomically: a reader never sees half of it). */
  async put(certificateId: string, text: string): Promise<void> {
    const file = this.file(certificateId);
    await writeFile(`${file}.tmp`, text, "utf8");
    await rename(`${file}.tmp`, file);
  }

  /** The statement kept for `certificateId`, or undefined. */
  async get(certificateId: string): Promise<string | undefined> {
    try {
      return await readFile(this.file(certificateId), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }
}
