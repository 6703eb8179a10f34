/**
 * Small icons drawn as inline SVG in the text colour: an emoji renders as an empty box where no
 * emoji font is installed, a path renders everywhere. Decorative: the words beside them carry the
 * meaning, so they are hidden from screen readers.
 */
const PATHS = {
  check: "M3 8.5l3 3 7-7",
  cross: "M4 4l8 8M12 4l-8 8",
  lock: "M4.5 7V5a3.5 3.5 0 0 1 7 0v2M3.5 7h9v7h-9z",
  dots: "M3 8h.01M8 8h.01M13 8h.01",
  alert: "M8 3v6M8 12h.01",
} as const;

export type IconName = keyof typeof PATHS;

export function Icon({ name }: { name: IconName }) {
  return (
    <svg class="icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
      <path d={PATHS[name]} />
    </svg>
  );
}
