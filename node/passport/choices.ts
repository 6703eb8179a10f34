/**
 * What the maker of an item or batch chose to show on its public passport (GET /passport/{id}),
 * kept by the maker's own member node, one small JSON file per item key. The chain holds nothing
 * of it: the choice is the maker's, and the values it names are computed from the maker's own
 * data when a visitor asks (gateway/routes/passport-fields.ts). A field not chosen is never served.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { PASSPORT_FIELDS, type PassportField } from "../../lib/passport-fields.ts";

const KEY = /^0x[0-9a-f]{64}$/;

export interface PassportChoice {
  fields: PassportField[];
  /** ISO 8601, when the maker last chose. */
  updatedAt: string;
}

export class PassportChoiceStore {
  private constructor(private readonly dir: string) {}

  static async open(dir: string): Promise<PassportChoiceStore> {
    await mkdir(dir, { recursive: true });
    return new PassportChoiceStore(dir);
  }

  private file(key: string): string {
    const k = key.toLowerCase();
    if (!KEY.test(k)) throw new Error(`item key "${key}" must be 0x and 64 hex digits`);
    return path.join(this.dir, `${k}.json`);
  }

  /** Keeps the choice for `key` (atomically: a reader never sees half of it). */
  async put(key: string, choice: PassportChoice): Promise<void> {
    const file = this.file(key);
    await writeFile(`${file}.tmp`, JSON.stringify(choice), "utf8");
    await rename(`${file}.tmp`, file);
  }

  /** The choice kept for `key`; none kept: no field chosen. Unknown field names (a file edited by hand) are dropped. */
  async get(key: string): Promise<PassportChoice | undefined> {
    let raw: string;
    try {
      raw = await readFile(this.file(key), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    const parsed = JSON.parse(raw) as Partial<PassportChoice>;
    const known = new Set<string>(PASSPORT_FIELDS);
    return { fields: (Array.isArray(parsed.fields) ? parsed.fields : []).filter((f): f is PassportField => typeof f === "string" && known.has(f)), updatedAt: String(parsed.updatedAt ?? "") };
  }
}
