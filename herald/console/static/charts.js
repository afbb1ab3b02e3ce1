// Line charts drawn as SVG from the samples the overview keeps in memory: no library.

import { h, s } from "./dom.js";

const WIDTH = 440;
const HEIGHT = 170;
const PAD = { top: 10, right: 8, bottom: 22, left: 46 };

/** A round upper bound for the y axis at or above `value`. */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

/**
 * A chart of several series over the last `spanMs`: `series` is `[{label, values: [[t, v]]}]`
 * (t in ms since the epoch; v null for a gap), drawn in colours `series-0`, `series-1`, ...
 */
export function lineChart({ title, series, spanMs, now, format }) {
  const x0 = PAD.left;
  const x1 = WIDTH - PAD.right;
  const y0 = HEIGHT - PAD.bottom;
  const y1 = PAD.top;
  const all = series.flatMap((one) => one.values.map(([, v]) => v)).filter((v) => v !== null);
  const top = niceMax(Math.max(0, ...all) * 1.1);
  const xOf = (t) => x0 + ((t - (now - spanMs)) / spanMs) * (x1 - x0);
  const yOf = (v) => y0 - (v / top) * (y0 - y1);

  const grid = [0, 0.5, 1].map((share) => {
    const y = yOf(top * share);
    return s(
      "g",
      { class: "grid" },
      s("line", { x1: x0, x2: x1, y1: y, y2: y }),
      s("text", { x: x0 - 8, y: y + 4, "text-anchor": "end" }, format(top * share)),
    );
  });
  const minutes = Math.round(spanMs / 60000);
  const since = spanMs < 60000 ? `${Math.round(spanMs / 1000)} s ago` : `${minutes} min ago`;
  const axis = s(
    "g",
    { class: "axis" },
    s("text", { x: x0, y: HEIGHT - 4, "text-anchor": "start" }, since),
    s("text", { x: x1, y: HEIGHT - 4, "text-anchor": "end" }, "now"),
  );
  const lines = series.map((one, index) => {
    const points = one.values.filter(([t, v]) => v !== null && t >= now - spanMs);
    if (!points.length) return null;
    const path = points.map(([t, v], i) => `${i ? "L" : "M"}${xOf(t).toFixed(1)},${yOf(v).toFixed(1)}`).join(" ");
    const [lastT, lastV] = points[points.length - 1];
    const area = `${path} L${xOf(lastT).toFixed(1)},${y0} L${xOf(points[0][0]).toFixed(1)},${y0} Z`;
    return s(
      "g",
      { class: `series series-${index}` },
      series.length === 1 ? s("path", { class: "area", d: area }) : null,
      s("path", { class: "line", d: path }),
      s("circle", { class: "dot", cx: xOf(lastT).toFixed(1), cy: yOf(lastV).toFixed(1), r: 3 }),
    );
  });
  const samples = series[0]?.values.length ?? 0;
  return h(
    "figure",
    { class: "chart", dataset: { samples: String(samples) } },
    h(
      "figcaption",
      {},
      h("span", { class: "chart-title" }, title),
      series.length > 1
        ? h(
            "span",
            { class: "legend" },
            series.map((one, index) => h("span", { class: `key series-${index}` }, one.label)),
          )
        : null,
    ),
    s(
      "svg",
      { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": `${title}, since ${since}` },
      grid,
      axis,
      lines,
    ),
  );
}
