// Messages: search by id, recipient, status and priority; a page of results.

import { h, fill } from "./dom.js";
import { seg } from "./api.js";
import { shortId } from "./format.js";
import { alertBox, badge, card, field, hashOf, mono, pageHeader, pager, select, table, when } from "./ui.js";

export const STATUSES = [
  "scheduled", "pending", "queued", "sending", "retrying", "awaiting_ack", "delivered",
  "dead_lettered", "discarded", "expired", "canceled", "suppressed",
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A link to a message's page, showing the start of its id. */
export function messageLink(id) {
  return h("a", { href: `#/messages/${seg(id)}`, class: "mono", title: id }, shortId(id));
}

export async function render(ctx) {
  const { recipient = "", status = "", priority = "" } = ctx.params;
  const page = Number(ctx.params.page ?? 1) || 1;
  const idInput = h("input", { id: "search-id", type: "search", placeholder: "e.g. 3b1f6a5e-…", spellcheck: "false", autocomplete: "off" });
  const recipientInput = h("input", { id: "search-recipient", type: "search", value: recipient, placeholder: "+1 415 555 0123", autocomplete: "off" });
  const statusSelect = select("search-status", [["", "Any status"], ...STATUSES.map((s) => [s, s.replaceAll("_", " ")])], status);
  const prioritySelect = select("search-priority", [["", "Any priority"], ["high", "high"], ["normal", "normal"], ["low", "low"]], priority);
  const problem = h("div", {});

  const form = h(
    "form",
    {
      class: "search",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        const id = idInput.value.trim();
        if (id) {
          if (!UUID.test(id)) {
            fill(problem, alertBox(new Error("A message id is a UUID, like 3b1f6a5e-7f43-5d0e-9c55-2b8c1d7e4a90.")));
            return;
          }
          ctx.go(`#/messages/${seg(id.toLowerCase())}`);
          return;
        }
        ctx.go(hashOf("messages", { recipient: recipientInput.value.trim(), status: statusSelect.value, priority: prioritySelect.value }));
      },
    },
    field("Message id", idInput),
    field("Recipient", recipientInput),
    field("Status", statusSelect),
    field("Priority", prioritySelect),
    h("div", { class: "field field-action" }, h("button", { type: "submit", class: "primary" }, "Search")),
  );

  const results = h("div", {});
  try {
    const found = await ctx.api.get("/v1/messages", {
      ...ctx.tenantQuery(),
      recipient,
      status,
      priority,
      page,
      page_size: 25,
    });
    const columns = [
      { label: "Message", cell: (m) => messageLink(m.id) },
      ctx.admin && !ctx.tenant ? { label: "Tenant", cell: (m) => m.tenant_id } : null,
      { label: "Recipient", cell: (m) => mono(m.recipient) },
      { label: "Status", cell: (m) => badge(m.status) },
      { label: "Priority", cell: (m) => m.priority },
      { label: "Retries", cell: (m) => String(m.retry_count), class: "num" },
      { label: "Submitted", cell: (m) => when(m.created_at) },
      { label: "Last change", cell: (m) => when(m.updated_at) },
    ].filter(Boolean);
    fill(
      results,
      table(columns, found.items, { empty: "No message matches.", caption: "Messages" }),
      pager(found, (next) => ctx.go(hashOf("messages", { recipient, status, priority, page: String(next) }))),
    );
  } catch (error) {
    fill(results, alertBox(error));
  }
  const filtered = recipient || status || priority;
  return h(
    "div",
    {},
    pageHeader("Messages", "Find a message by its id, or list them by recipient, status and priority."),
    card(null, form, problem),
    card(filtered ? "Matching messages" : "Latest messages", results),
  );
}
