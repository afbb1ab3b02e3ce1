// Webhooks: a tenant's outcome webhook endpoints, each with its failing sends.

import { h, fill } from "./dom.js";
import { seg } from "./api.js";
import { shortId } from "./format.js";
import { messageLink } from "./page-messages.js";
import { tenantSelect } from "./page-suppressions.js";
import {
  alertBox, badge, button, card, confirmDialog, facts, field, mono, pageHeader, problemText,
  secretBox, statusLine, table, when,
} from "./ui.js";

const EVENTS = [
  "message.delivered", "message.dead_lettered", "message.expired", "message.discarded",
  "message.canceled", "message.suppressed",
];

function chips(events) {
  return h("span", { class: "chips" }, events.map((e) => h("span", { class: "chip" }, e.replace("message.", ""))));
}

async function renderList(ctx) {
  const outcome = statusLine();
  const list = h("div", {});
  const urlInput = h("input", { id: "webhook-url", type: "url", required: true, placeholder: "https://example.com/herald-events", autocomplete: "off" });
  const descriptionInput = h("input", { id: "webhook-description", maxlength: "500", autocomplete: "off" });
  const tenantChoice = ctx.admin ? tenantSelect(ctx, "webhook-tenant") : null;
  const eventBoxes = EVENTS.map((e) => h("input", { type: "checkbox", id: `event-${e}`, value: e, checked: true }));

  async function load() {
    try {
      const endpoints = await ctx.api.get("/v1/webhooks", ctx.tenantQuery());
      if (!ctx.alive()) return;
      fill(
        list,
        table(
          [
            { label: "Endpoint", cell: (w) => h("a", { href: `#/webhooks/${seg(w.id)}`, class: "url" }, w.url) },
            ctx.admin && !ctx.tenant ? { label: "Tenant", cell: (w) => w.tenant_id } : null,
            { label: "Events", cell: (w) => chips(w.events) },
            { label: "Description", cell: (w) => w.description ?? "—" },
            { label: "Created", cell: (w) => when(w.created_at) },
          ].filter(Boolean),
          endpoints,
          { empty: "No endpoint: outcomes are not sent anywhere.", caption: "Webhook endpoints" },
        ),
      );
    } catch (error) {
      fill(list, alertBox(error));
    }
  }

  const form = h(
    "form",
    {
      class: "stack-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const events = eventBoxes.filter((box) => box.checked).map((box) => box.value);
        const body = { url: urlInput.value.trim(), events: events.length ? events : undefined };
        if (descriptionInput.value.trim()) body.description = descriptionInput.value.trim();
        if (tenantChoice) body.tenant_id = tenantChoice.value;
        try {
          const created = await ctx.api.post("/v1/webhooks", body);
          fill(
            outcome,
            secretBox(
              "Signing secret",
              created.secret,
              `Endpoint ${created.url} is registered. Its secret is shown this once: keep it to verify each request's webhook-signature.`,
            ),
          );
          urlInput.value = descriptionInput.value = "";
        } catch (error) {
          outcome.say(problemText(error), "bad");
        }
        await load();
      },
    },
    h("div", { class: "form-row" }, field("URL", urlInput), field("Description", descriptionInput), tenantChoice ? field("For tenant", tenantChoice) : null),
    h(
      "fieldset",
      { class: "checks" },
      h("legend", {}, "Events"),
      eventBoxes.map((box) => h("label", { class: "check-label", for: box.id }, box, box.value)),
    ),
    h("div", {}, h("button", { type: "submit", class: "primary" }, "Add endpoint")),
  );

  await load();
  return h(
    "div",
    {},
    pageHeader("Webhooks", "Endpoints that receive a signed POST when a message reaches an outcome."),
    card("Endpoints", list),
    outcome,
    card("Add an endpoint", form),
  );
}

async function renderEndpoint(ctx) {
  const id = ctx.params.id;
  const outcome = statusLine();
  let endpoint;
  try {
    endpoint = await ctx.api.get(`/v1/webhooks/${seg(id)}`);
  } catch (error) {
    return h("div", {}, pageHeader("Webhook endpoint", mono(id)), alertBox(error));
  }
  const remove = button(
    "Delete endpoint",
    async () => {
      const sure = await confirmDialog({
        title: "Delete this endpoint?",
        text: `No more events go to ${endpoint.url}; its pending sends are given up.`,
        confirm: "Yes, delete",
      });
      if (!sure) return;
      try {
        await ctx.api.delete(`/v1/webhooks/${seg(id)}`);
        ctx.go("#/webhooks");
      } catch (error) {
        outcome.say(problemText(error), "bad");
      }
    },
    { kind: "danger" },
  );
  return h(
    "div",
    {},
    pageHeader("Webhook endpoint", h("span", { class: "url" }, endpoint.url), remove),
    outcome,
    card(
      "Endpoint",
      facts([
        ["Tenant", endpoint.tenant_id],
        ["Events", chips(endpoint.events)],
        ["Description", endpoint.description],
        ["Created", when(endpoint.created_at)],
        ["Id", mono(endpoint.id)],
      ]),
    ),
    card(
      "Failing sends",
      table(
        [
          { label: "Event", cell: (w) => h("span", { class: "mono", title: w.event_id }, `${w.event_type} · ${shortId(w.event_id)}`) },
          { label: "Message", cell: (w) => messageLink(w.message_id) },
          { label: "State", cell: (w) => badge(w.state) },
          { label: "Attempts", cell: (w) => String(w.attempts), class: "num" },
          { label: "Last answer", cell: (w) => (w.last_status ? `HTTP ${w.last_status}` : w.last_error ?? "—") },
          { label: "Last attempt", cell: (w) => when(w.last_attempt_at) },
          { label: "Next attempt", cell: (w) => (w.next_attempt_at ? when(w.next_attempt_at) : "—") },
        ],
        endpoint.failing_sends,
        { empty: "No failing send: every event got a 2xx, or is on its first try.", caption: "Failing sends" },
      ),
    ),
  );
}

export function render(ctx) {
  return ctx.params.id ? renderEndpoint(ctx) : renderList(ctx);
}
