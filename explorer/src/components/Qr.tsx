/** A QR code of a GS1 Digital Link, drawn in the page (qrcode package, no network). */
import QRCode from "qrcode";
import { useEffect, useState } from "preact/hooks";
import { useI18n } from "../i18n.ts";

export function Qr({ link }: { link: string }) {
  const { t } = useI18n();
  const [src, setSrc] = useState<string>();
  useEffect(() => {
    let live = true;
    QRCode.toDataURL(link, { errorCorrectionLevel: "M", margin: 4, width: 220, color: { dark: "#000000", light: "#ffffff" } }).then(
      (url) => live && setSrc(url),
      () => live && setSrc(undefined),
    );
    return () => {
      live = false;
    };
  }, [link]);
  return (
    <figure class="qr">
      {src === undefined ? <div class="qr-placeholder" /> : <img src={src} width={220} height={220} alt={t("common.qrLabel", { link })} data-link={link} />}
      <figcaption>
        {t("common.qrCaption")}
        <br />
        <code class="break">{link}</code>
      </figcaption>
    </figure>
  );
}

/** The Digital Link of an identifier on this gateway's host: scanning it opens the item page. */
export function gatewayDigitalLink(canonical: string): string {
  return canonical.replace(/^https:\/\/id\.gs1\.org/, location.origin);
}
