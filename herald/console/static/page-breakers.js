// Circuit breakers: each provider's breaker as it stands, refreshed while shown.

import { h, fill } from "./dom.js";
import { percent, time } from "./format.js";
import { alertBox, badge, card, mono, pageHeader, table, when } from "./ui.js";

const REFRESH_MS = 5000;

export async function render(ctx) {
  const list = h("div", {});
  const load = async () => {
    try {
      const { items } = await ctx.api.get("/v1/circuit-breakers");
      if (!ctx.alive()) return;
      fill(
        list,
        table(
          [
            { label: "Provider", cell: (b) => mono(b.provider) },
            { label: "State", cell: (b) => badge(b.state) },
            { label: "Failure rate", cell: (b) => percent(b.failure_rate), class: "num" },
            { label: "Samples", cell: (b) => `${b.samples} of ${b.sample_size}`, class: "num" },
            { label: "Opened", cell: (b) => (b.opened_at ? h("span", { title: time(b.opened_at) }, when(b.opened_at)) : "—") },
            { label: "Probe from", cell: (b) => (b.half_open_at ? when(b.half_open_at) : "—") },
          ],
          items,
          { empty: "No provider has been used yet.", caption: "Circuit breakers" },
        ),
      );
    } catch (error) {
      fill(list, alertBox(error));
    }
  };
  await load();
  ctx.every(REFRESH_MS, load);
  return h(
    "div",
    {},
    pageHeader(
      "Circuit breakers",
      "A breaker opens when too many recent attempts to its provider failed transiently; deliveries then wait, spending no retries, until a probe succeeds.",
    ),
    card(null, list),
  );
}
