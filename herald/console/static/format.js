// How numbers and times read in the console.

const pad = (n) => String(n).padStart(2, "0");

/** `2026-12-01 10:00:03`, in the browser's time zone; "—" for none. */
export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** `10:00:03`. */
export function clock(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** `3 min ago`, `in 20 s`. */
export function relative(iso) {
  if (!iso) return "—";
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const size = Math.abs(seconds);
  const [value, unit] =
    size < 60 ? [size, "s"]
    : size < 3600 ? [Math.round(size / 60), "min"]
    : size < 86400 ? [Math.round(size / 3600), "h"]
    : [Math.round(size / 86400), "d"];
  if (size < 5) return "just now";
  return seconds < 0 ? `${value} ${unit} ago` : `in ${value} ${unit}`;
}

export function percent(share) {
  if (share === null || share === undefined) return "—";
  const value = share * 100;
  return `${value >= 10 || value === 0 ? value.toFixed(0) : value.toFixed(1)} %`;
}

export function number(value, digits = 0) {
  if (value === null || value === undefined) return "—";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** `812 ms`, `3.4 s`, `2.1 min`. */
export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10000) return `${Number((ms / 1000).toFixed(2))} s`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

/** The first block of a UUID, enough to tell messages apart in a table. */
export function shortId(id) {
  return String(id).split("-")[0];
}

/** Words for an identifier: `dead_lettered` → `dead lettered`. */
export function words(name) {
  return String(name).replaceAll("_", " ");
}

/** A short number for an axis: `0`, `0.25`, `1.5`, `40`. */
export function compact(value) {
  if (value === 0) return "0";
  return value < 10 ? String(Number(value.toFixed(2))) : number(value);
}
