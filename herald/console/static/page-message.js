// One message: its fields, its attempts as a timeline, its webhook events, a link to its
// workflow in the Temporal Web UI, and the actions its status and the key allow.

import { h, fill } from "./dom.js";
import { seg } from "./api.js";
import { duration, time, words } from "./format.js";
import {
  alertBox, badge, button, card, confirmDialog, facts, mono, pageHeader, perform, problemText,
  statusLine, table, when,
} from "./ui.js";

const CANCELABLE = ["scheduled", "pending", "queued", "retrying"];
const REFRESH_MS = 3000;

function temporalLink(caller, id) {
  const base = caller.temporal_ui_url;
  if (!base || !/^https?:\/\//.test(base)) return null;
  const url = `${base.replace(/\/+$/, "")}/namespaces/${seg(caller.temporal_namespace)}/workflows/${seg(`message-${id}`)}`;
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "button secondary" }, "Open in Temporal");
}

/** A time, or nothing at all (the row is left out) when it has none. */
const optional = (iso) => (iso ? time(iso) : undefined);

function details(m) {
  return facts([
    ["Tenant", m.tenant_id],
    ["Recipient", mono(m.recipient)],
    ["Priority", m.priority],
    ["Ordering", words(m.ordering) + (m.sequence_number ? ` · #${m.sequence_number}` : "")],
    ["Retries", String(m.retry_count)],
    ["Failure class", m.failure_class ?? undefined],
    ["Failure reason", m.failure_reason ?? undefined],
    ["Submitted", time(m.created_at)],
    ["Last change", time(m.updated_at)],
    ["Send at", optional(m.send_at)],
    ["Accepted", optional(m.accepted_at)],
    ["Delivered", optional(m.delivered_at)],
    ["Next retry", optional(m.next_retry_at)],
    ["Line released", optional(m.line_released_at)],
    ["Provider id", m.provider_message_id ? mono(m.provider_message_id) : undefined],
    ["Idempotency key", mono(m.idempotency_key)],
  ]);
}

function content(m) {
  const metadata = Object.entries(m.metadata ?? {});
  return card(
    "Content",
    h("p", { class: "message-content" }, m.content),
    metadata.length ? h("h3", { class: "subheading" }, "Metadata") : null,
    metadata.length ? facts(metadata) : null,
  );
}

function timeline(attempts) {
  if (!attempts.length) return h("p", { class: "empty" }, "No attempt yet.");
  return h(
    "ol",
    { class: "timeline" },
    attempts.map((a) =>
      h(
        "li",
        { class: `timeline-item outcome-${a.outcome}` },
        h(
          "div",
          { class: "timeline-head" },
          h("strong", {}, `Attempt ${a.attempt}`),
          badge(a.outcome),
          a.http_status ? h("span", { class: "chip" }, `HTTP ${a.http_status}`) : null,
          h("span", { class: "chip" }, duration(a.duration_ms)),
          h("time", { class: "muted", datetime: a.started_at }, time(a.started_at)),
        ),
        a.failure_reason
          ? h("p", { class: "timeline-reason" }, a.failure_class ? `${a.failure_class}: ` : "", a.failure_reason)
          : null,
        a.provider_message_id ? h("p", { class: "muted" }, "Provider id ", mono(a.provider_message_id)) : null,
      ),
    ),
  );
}

function webhookSends(sends) {
  return table(
    [
      { label: "Event", cell: (w) => w.event_type.replace("message.", "") },
      { label: "Endpoint", cell: (w) => h("span", { class: "url" }, w.endpoint_url, w.endpoint_deleted ? " (deleted)" : "") },
      { label: "State", cell: (w) => badge(w.state) },
      { label: "Tries", cell: (w) => String(w.attempts), class: "num" },
      { label: "Last answer", cell: (w) => (w.last_status ? `HTTP ${w.last_status}` : w.last_error ?? "—") },
      { label: "Next", cell: (w) => (w.next_attempt_at && w.state === "pending" ? when(w.next_attempt_at) : "—") },
    ],
    sends,
    { empty: "No webhook event: the tenant has no endpoint for this message's outcomes, or none happened yet.", caption: "Webhook events" },
  );
}

export async function render(ctx) {
  const id = ctx.params.id;
  const path = `/v1/messages/${seg(id)}`;
  const outcome = statusLine();
  const body = h("div", {});
  let last = "";

  const load = async () => {
    const [m, attempts, sends] = await Promise.all([
      ctx.api.get(path),
      ctx.api.get(`${path}/attempts`),
      ctx.api.get(`${path}/webhook-sends`),
    ]);
    return { m, attempts: attempts.items, sends: sends.items };
  };

  const act = (label, call) =>
    perform(outcome, call, (result) => `${label}: ${words(result?.outcome ?? "done")}.`, refresh);

  const actions = (m) =>
    [
      ctx.can("messages:write") && CANCELABLE.includes(m.status)
        ? button("Cancel", () => act("Cancel", () => ctx.api.post(`${path}/cancel`)), { kind: "danger" })
        : null,
      ctx.can("dead_letters:write") && m.status === "dead_lettered"
        ? button("Requeue", () => act("Requeue", () => ctx.api.post(`/v1/dead-letters/${seg(id)}/requeue`)), { kind: "primary" })
        : null,
      ctx.can("dead_letters:write") && m.status === "dead_lettered"
        ? button("Discard", async () => {
            const sure = await confirmDialog({
              title: "Discard this dead letter?",
              text: "It will never be delivered; the row is kept for audit.",
              confirm: "Yes, discard",
            });
            if (sure) await act("Discard", () => ctx.api.delete(`/v1/dead-letters/${seg(id)}`));
          }, { kind: "danger" })
        : null,
      temporalLink(ctx.caller, id),
    ].filter(Boolean);

  const draw = ({ m, attempts, sends }) =>
    fill(
      body,
      pageHeader(
        h("span", { class: "title-with-badge" }, "Message ", badge(m.status)),
        h("span", { class: "mono" }, m.id),
        ...actions(m),
      ),
      outcome,
      h(
        "div",
        { class: "columns" },
        h("div", { class: "column-main" }, card("Attempts", timeline(attempts)), card("Webhook events", webhookSends(sends))),
        h("div", { class: "column-side" }, card("Details", details(m)), content(m)),
      ),
    );

  async function refresh() {
    try {
      const data = await load();
      if (!ctx.alive()) return;
      const fingerprint = JSON.stringify(data);
      if (fingerprint !== last) {
        last = fingerprint;
        draw(data);
      }
    } catch (error) {
      if (ctx.alive()) outcome.say(`Could not refresh: ${problemText(error)}`, "bad");
    }
  }

  let data;
  try {
    data = await load();
  } catch (error) {
    return h("div", {}, pageHeader("Message", h("span", { class: "mono" }, id)), alertBox(error));
  }
  last = JSON.stringify(data);
  draw(data);
  ctx.every(REFRESH_MS, refresh);
  return body;
}
