/**
 * Search: type an identifier, build one from a GTIN with lot or serial, or scan a QR code with the
 * camera (getUserMedia) or from an uploaded image (jsqr). The gateway's /resolve says what it is.
 */
import type { TargetedEvent } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { NumberSearchAnswer, ResolveAnswer } from "../../../lib/api/resolver.ts";
import { CSET82 } from "../../../lib/identifiers/gs1-keys.ts";
import { ApiError, api, enc } from "../api.ts";
import { ErrorView } from "../components/async.tsx";
import { useI18n } from "../i18n.ts";
import { type Route, href, navigate, parseRoute } from "../router.ts";

type QrDecoder = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;

/** jsqr loads when a scan starts, not with the page. It is CommonJS with a default export in its
 * types; bundlers hand over either shape. */
let qrDecoder: Promise<QrDecoder> | undefined;
function loadQrDecoder(): Promise<QrDecoder> {
  qrDecoder ??= import("jsqr").then(
    (m) => ((m as unknown as { default?: { default?: unknown } }).default?.default ?? m.default) as unknown as QrDecoder,
    (e: unknown) => {
      qrDecoder = undefined;
      throw e;
    },
  );
  return qrDecoder;
}

/** Where a resolved identifier leads. */
export function routeOf(r: ResolveAnswer): Route {
  if ("certificateId" in r) return { page: "certificate", id: r.certificateId };
  return { page: "item", id: "digitalLink" in r ? r.digitalLink : r.itemKey };
}

/** Text that may be a plain serial (AI 21) or lot (AI 10) number: 1 to 20 GS1 characters. */
const isPlainNumber = (v: string) => v.length >= 1 && v.length <= 20 && CSET82.test(v);

/**
 * Text that cannot be an identifier /resolve reads (no URI, path, element string, 0x or GTIN: only
 * letters, digits and - . _), so it goes straight to /search: asking /resolve would only draw a
 * 400 that the browser logs as an error.
 */
const isSerialOrLotOnly = (v: string) => /^[A-Za-z0-9._-]{1,20}$/.test(v) && !/^(\d{8}|\d{12,14})$/.test(v);

async function searchNumber(v: string): Promise<NumberSearchAnswer | undefined> {
  const found = await api<NumberSearchAnswer>(`/search?q=${enc(v)}`);
  if (found.matches.length !== 1) return found;
  navigate({ page: "item", id: found.matches[0]!.digitalLink });
  return undefined;
}

/**
 * A typed or scanned text: an explorer link opens directly, an identifier goes through /resolve,
 * and a plain serial or lot number /resolve does not recognise goes through /search (GET /search):
 * one match opens it, otherwise the answer (none or several) is returned for the page to show.
 */
async function open(text: string): Promise<NumberSearchAnswer | undefined> {
  const v = text.trim();
  const hashAt = v.indexOf("/explorer/#/");
  if (hashAt >= 0) {
    navigate(parseRoute(v.slice(hashAt + "/explorer/".length)));
    return undefined;
  }
  if (isSerialOrLotOnly(v)) return searchNumber(v);
  let resolved: ResolveAnswer;
  try {
    resolved = await api<ResolveAnswer>(`/resolve?id=${enc(v)}`);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 400 && isPlainNumber(v))) throw e;
    return searchNumber(v);
  }
  navigate(routeOf(resolved));
  return undefined;
}

/** The answer of a number search that did not lead to a single item: none, or the matches to pick from. */
function NumberMatches({ found }: { found: NumberSearchAnswer }) {
  const { t } = useI18n();
  if (found.matches.length === 0)
    return (
      <p class="notice" role="status">
        {t("search.number.none", { q: found.query })}
      </p>
    );
  return (
    <section class="number-matches" aria-live="polite">
      <p>{t("search.number.several", { n: found.matches.length, q: found.query })}</p>
      <ul>
        {found.matches.map((m) => (
          <li key={m.epc}>
            <a href={href({ page: "item", id: m.digitalLink })}>{m.digitalLink}</a> ({t(m.numberedBy === "serial" ? "search.number.serial" : "search.number.lot")})
          </li>
        ))}
      </ul>
    </section>
  );
}

function decodeImage(jsQR: QrDecoder, source: CanvasImageSource, width: number, height: number, canvas: HTMLCanvasElement): string | undefined {
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  if (g === null) return undefined;
  g.drawImage(source, 0, 0, width, height);
  const img = g.getImageData(0, 0, width, height);
  return jsQR(img.data, width, height)?.data;
}

function Camera({ onCode, onError }: { onCode(text: string): void; onError(e: unknown): void }) {
  const { t } = useI18n();
  const video = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    let stream: MediaStream | undefined;
    let timer: ReturnType<typeof setInterval> | undefined;
    const canvas = document.createElement("canvas");
    Promise.all([navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }), loadQrDecoder()])
      .then(async ([s, jsQR]) => {
        stream = s;
        const v = video.current;
        if (v === null) return;
        v.srcObject = s;
        await v.play();
        timer = setInterval(() => {
          if (v.videoWidth === 0) return;
          const code = decodeImage(jsQR, v, v.videoWidth, v.videoHeight, canvas);
          if (code !== undefined) onCode(code);
        }, 250);
      })
      .catch(onError);
    return () => {
      if (timer !== undefined) clearInterval(timer);
      stream?.getTracks().forEach((tr) => tr.stop());
    };
  }, []);
  return (
    <div class="camera">
      <video ref={video} muted playsInline aria-label={t("search.cameraHelp")} />
      <p class="help">{t("search.cameraHelp")}</p>
    </div>
  );
}

export function SearchPage() {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [gtin, setGtin] = useState("");
  const [lot, setLot] = useState("");
  const [serial, setSerial] = useState("");
  const [error, setError] = useState<unknown>();
  const [scanning, setScanning] = useState(false);
  const [note, setNote] = useState<string>();
  const [numbered, setNumbered] = useState<NumberSearchAnswer>();

  const go = (value: string) => {
    setError(undefined);
    setNote(undefined);
    setNumbered(undefined);
    open(value).then(setNumbered, setError);
  };
  const onSubmit = (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (text.trim() !== "") go(text);
  };
  const onGtin = (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const g = gtin.trim();
    if (g === "") return;
    go(`https://id.gs1.org/01/${enc(g)}${lot.trim() ? `/10/${enc(lot.trim())}` : ""}${serial.trim() ? `/21/${enc(serial.trim())}` : ""}`);
  };
  const onImage = async (e: TargetedEvent<HTMLInputElement>) => {
    const file = e.currentTarget.files?.[0];
    if (file === undefined) return;
    setError(undefined);
    const bitmap = await createImageBitmap(file).catch((err: unknown) => {
      setError(err);
      return undefined;
    });
    const jsQR = await loadQrDecoder().catch((err: unknown) => {
      setError(err);
      return undefined;
    });
    if (bitmap === undefined || jsQR === undefined) return;
    const code = decodeImage(jsQR, bitmap, bitmap.width, bitmap.height, document.createElement("canvas"));
    if (code === undefined) setNote(t("search.scanNone"));
    else go(code);
  };

  return (
    <article>
      <h1>{t("search.title")}</h1>
      <form class="search" onSubmit={onSubmit} role="search">
        <label for="q">{t("search.label")}</label>
        <p id="q-help" class="help">
          {t("search.help")}
        </p>
        <div class="row">
          <input id="q" name="q" value={text} onInput={(e) => setText(e.currentTarget.value)} aria-describedby="q-help" autoComplete="off" spellcheck={false} />
          <button type="submit">{t("search.submit")}</button>
        </div>
      </form>
      <form class="gtin-form" onSubmit={onGtin}>
        <fieldset>
          <legend>{t("search.byGtin")}</legend>
          <label for="gtin">{t("search.gtin")}</label>
          <input id="gtin" inputMode="numeric" value={gtin} onInput={(e) => setGtin(e.currentTarget.value)} />
          <label for="lot">{t("search.lot")}</label>
          <input id="lot" value={lot} onInput={(e) => setLot(e.currentTarget.value)} />
          <label for="serial">{t("search.serial")}</label>
          <input id="serial" value={serial} onInput={(e) => setSerial(e.currentTarget.value)} />
          <button type="submit">{t("search.submit")}</button>
        </fieldset>
      </form>
      <div class="scan">
        <button type="button" onClick={() => setScanning(!scanning)} aria-pressed={scanning}>
          {scanning ? t("search.scanStop") : t("search.scanCamera")}
        </button>
        <label class="file-label">
          {t("search.scanUpload")}
          <input type="file" accept="image/*" onChange={onImage} />
        </label>
      </div>
      {scanning && (
        <Camera
          onCode={(code) => {
            setScanning(false);
            go(code);
          }}
          onError={(e) => {
            setScanning(false);
            setNote(t("search.cameraError", { message: e instanceof Error ? e.message : String(e) }));
          }}
        />
      )}
      {note !== undefined && (
        <p class="notice" role="status">
          {note}
        </p>
      )}
      {numbered !== undefined && <NumberMatches found={numbered} />}
      {error !== undefined && <ErrorView error={error} />}
    </article>
  );
}
