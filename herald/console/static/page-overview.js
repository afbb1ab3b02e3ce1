// Overview: the system's numbers as they are now, and charts of the last minutes.

import { h, fill } from "./dom.js";
import { lineChart } from "./charts.js";
import { clock, compact, duration, number, percent } from "./format.js";
import { HISTORY_MS, REFRESH_MS } from "./metrics.js";
import { alertBox, badge, card, facts, pageHeader } from "./ui.js";

const PRIORITIES = ["high", "normal", "low"];

function tile(name, label, value, detail) {
  return h(
    "div",
    { class: "tile", dataset: { metric: name } },
    h("dt", {}, label),
    h("dd", { class: "tile-value" }, value),
    detail ? h("dd", { class: "tile-detail" }, detail) : null,
  );
}

function tiles(m) {
  const depth = PRIORITIES.reduce((sum, p) => sum + (m.queue_depth[p] ?? 0), 0);
  const settled = m.delivered + m.dead_lettered;
  return h(
    "dl",
    { class: "tiles" },
    tile("messages_per_second", "Throughput", `${number(m.messages_per_second, 2)}/s`, `${number(m.delivered)} delivered`),
    tile("average_processing_time_ms", "Processing time", duration(m.average_processing_time_ms), "submit to acknowledgment"),
    tile("queue_depth", "Queue depth", number(depth), PRIORITIES.map((p) => `${p} ${number(m.queue_depth[p] ?? 0)}`).join(" · ")),
    tile("retry_rate", "Retry rate", percent(m.retry_rate), `of attempts, ${number(settled)} settled`),
    tile("failure_rate", "Failure rate", percent(m.failure_rate), `${number(m.dead_lettered)} dead-lettered`),
  );
}

function windowCard(m) {
  return card(
    "In the window",
    facts([
      ["Window", `last ${number(m.window_seconds / 60, m.window_seconds % 60 ? 1 : 0)} min`],
      ["Delivered", number(m.delivered)],
      ["Dead-lettered", number(m.dead_lettered)],
    ]),
  );
}

function breakers(m) {
  const entries = Object.entries(m.circuit_breaker_state);
  return card(
    "Circuit breakers",
    entries.length
      ? h(
          "ul",
          { class: "breaker-list" },
          entries.map(([provider, state]) => h("li", {}, h("span", { class: "mono" }, provider), badge(state))),
        )
      : h("p", { class: "empty" }, "No provider has been used yet."),
  );
}

function charts(samples, now) {
  const series = (label, pick) => ({ label, values: samples.map(({ at, metrics }) => [at, pick(metrics)]) });
  // The charts span the history kept so far (at least a minute), up to its full length.
  const spanMs = Math.min(HISTORY_MS, Math.max(60000, now - (samples[0]?.at ?? now)));
  const specs = [
    ["Throughput (delivered per second)", [series("messages/s", (m) => m.messages_per_second)], compact],
    ["Processing time", [series("mean", (m) => m.average_processing_time_ms)], duration],
    ["Queue depth by priority", PRIORITIES.map((p) => series(p, (m) => m.queue_depth[p] ?? 0)), compact],
    ["Retry and failure rates", [series("retries", (m) => m.retry_rate), series("failures", (m) => m.failure_rate)], percent],
  ];
  return h(
    "div",
    { class: "charts" },
    specs.map(([title, lines, format]) => card(null, lineChart({ title, series: lines, spanMs, now, format }))),
  );
}

export async function render(ctx) {
  const updated = h("span", {});
  const body = h("div", { class: "overview" }, h("p", { class: "empty" }, "Loading the metrics…"));
  const header = pageHeader(
    "Overview",
    h("span", {}, `Refreshes every ${REFRESH_MS / 1000} s · `, updated),
  );

  const draw = (feed) => {
    const latest = feed.samples[feed.samples.length - 1];
    if (!latest) {
      if (feed.error) fill(body, alertBox(feed.error));
      return;
    }
    const m = latest.metrics;
    const scope = ctx.admin ? (ctx.tenant ? `tenant ${ctx.tenant}` : "all tenants") : `tenant ${ctx.caller.tenant_id}`;
    fill(updated, `updated ${clock(new Date(latest.at))} · ${scope}`);
    fill(
      body,
      feed.error ? alertBox(feed.error) : null,
      tiles(m),
      h("div", { class: "overview-grid" }, charts(feed.samples, Date.now()), h("div", { class: "column-side" }, breakers(m), windowCard(m))),
    );
  };
  ctx.onMetrics(draw);
  draw(ctx.metrics);
  return h("div", {}, header, body);
}
