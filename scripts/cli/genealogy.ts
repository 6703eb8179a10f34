/**
 * The genealogy lib/access.ts walks, read straight from the chain's logs for the member tool
 * (which runs without the chain index): Provenance's transformation and assembly links (less
 * those taken apart again), each with its block and the organisation that recorded it, and the
 * block of a grant's latest issue from AccessGrants' events. One scan of the logs per command.
 */
import type { GenealogyLink, GenealogySource } from "../../lib/access.ts";
import type { TracemeshContracts } from "../../lib/deployment.ts";

export class ChainLogGenealogy implements GenealogySource {
  private up?: Promise<Map<string, GenealogyLink[]>>;

  constructor(
    private readonly contracts: Pick<TracemeshContracts, "provenance" | "accessGrants">,
    private readonly fromBlock: number,
  ) {}

  async linksUp(keys: readonly string[]): Promise<GenealogyLink[][]> {
    const up = await (this.up ??= this.load());
    return keys.map((k) => up.get(k.toLowerCase()) ?? []);
  }

  async grantIssuedBlock(owner: number, grantee: number, scopeKey: string): Promise<number | undefined> {
    const { accessGrants } = this.contracts;
    const issues = await accessGrants.queryFilter(accessGrants.filters.AccessGranted(grantee, owner, scopeKey), this.fromBlock);
    return issues.at(-1)?.blockNumber;
  }

  private async load(): Promise<Map<string, GenealogyLink[]>> {
    const p = this.contracts.provenance;
    const [transformed, assembled, disassembled] = await Promise.all([
      p.queryFilter(p.filters.Transformed(), this.fromBlock),
      p.queryFilter(p.filters.Assembled(), this.fromBlock),
      p.queryFilter(p.filters.Disassembled(), this.fromBlock),
    ]);
    const up = new Map<string, GenealogyLink[]>();
    const add = (l: GenealogyLink) => up.set(l.from, [...(up.get(l.from) ?? []), l]);
    for (const e of transformed)
      for (const input of e.args.inputs)
        for (const output of e.args.outputs) add({ from: input.toLowerCase(), to: output.toLowerCase(), block: e.blockNumber, recordedBy: Number(e.args.orgId) });
    // An assembly counts while it stands: a later disassembly of the same child and parent ends it.
    const position = (e: { blockNumber: number; index: number }) => e.blockNumber * 1e6 + e.index;
    const taken = new Map<string, number>();
    for (const e of disassembled) {
      const k = `${e.args.child}:${e.args.parent}`.toLowerCase();
      taken.set(k, Math.max(taken.get(k) ?? 0, position(e)));
    }
    for (const e of assembled) {
      if ((taken.get(`${e.args.child}:${e.args.parent}`.toLowerCase()) ?? -1) > position(e)) continue;
      const record = await p.record(e.args.recordId);
      add({ from: e.args.child.toLowerCase(), to: e.args.parent.toLowerCase(), block: e.blockNumber, recordedBy: Number(record.orgId) });
    }
    return up;
  }
}
