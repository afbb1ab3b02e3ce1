// Dead letters: filter, select some, requeue or discard them, and see what became of each.

import { h, fill } from "./dom.js";
import { seg } from "./api.js";
import { words } from "./format.js";
import { messageLink } from "./page-messages.js";
import {
  alertBox, badge, button, card, confirmDialog, field, hashOf, mono, pageHeader, pager, problemText,
  select, table, when,
} from "./ui.js";

const FAILURE_CLASSES = ["transient", "recoverable", "permanent", "expired"];

/** What each id's action did, as a table. */
function resultsCard(action, results) {
  const counts = {};
  for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  const summary = Object.entries(counts).map(([outcome, n]) => `${n} ${words(outcome)}`).join(", ");
  return h(
    "section",
    { class: "card results", "aria-label": `${action} results` },
    h("h2", { class: "card-title" }, `${action}: ${summary}`),
    table(
      [
        { label: "Message", cell: (r) => messageLink(r.id) },
        { label: "Result", cell: (r) => h("span", { class: `result result-${r.outcome}`, dataset: { outcome: r.outcome } }, words(r.outcome)) },
        { label: "Status now", cell: (r) => (r.status ? badge(r.status) : r.detail ?? "—") },
      ],
      results,
      { caption: `${action} results` },
    ),
  );
}

export async function render(ctx) {
  const { failure_class: failureClass = "", recipient = "" } = ctx.params;
  const page = Number(ctx.params.page ?? 1) || 1;
  const writable = ctx.can("dead_letters:write");
  const selected = new Set();
  const results = h("div", {});
  const list = h("div", {});

  const classSelect = select("filter-class", [["", "Any failure class"], ...FAILURE_CLASSES.map((c) => [c, c])], failureClass);
  const recipientInput = h("input", { id: "filter-recipient", type: "search", value: recipient, placeholder: "+1 415 555 0123", autocomplete: "off" });
  const filters = h(
    "form",
    {
      class: "search",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        ctx.go(hashOf("dead-letters", { failure_class: classSelect.value, recipient: recipientInput.value.trim() }));
      },
    },
    field("Failure class", classSelect),
    field("Recipient", recipientInput),
    h("div", { class: "field field-action" }, h("button", { type: "submit", class: "primary" }, "Filter")),
  );

  const count = h("span", { class: "selection-count", "aria-live": "polite" }, "None selected");
  const requeueButton = button("Requeue", () => requeue(), { kind: "primary", disabled: true });
  const discardButton = button("Discard", () => discard(), { kind: "danger", disabled: true });
  const toolbar = writable ? h("div", { class: "toolbar" }, count, requeueButton, discardButton) : null;

  const updateSelection = () => {
    fill(count, selected.size ? `${selected.size} selected` : "None selected");
    requeueButton.disabled = discardButton.disabled = selected.size === 0;
  };

  async function requeue() {
    const ids = [...selected];
    try {
      const answer = await ctx.api.post("/v1/dead-letters/requeue", { message_ids: ids });
      fill(results, resultsCard("Requeue", answer.results));
    } catch (error) {
      fill(results, alertBox(error));
    }
    await load();
  }

  async function discard() {
    const ids = [...selected];
    const sure = await confirmDialog({
      title: `Discard ${ids.length} dead ${ids.length === 1 ? "letter" : "letters"}?`,
      text: "They will never be delivered; their rows are kept for audit.",
      confirm: "Yes, discard",
    });
    if (!sure) return;
    const answers = await Promise.all(
      ids.map((id) =>
        ctx.api.delete(`/v1/dead-letters/${seg(id)}`).catch((error) => ({
          id,
          outcome: error.status === 404 ? "not_found" : error.status === 409 ? "not_dead_lettered" : "failed",
          status: error.problem?.current_status ?? null,
          detail: problemText(error),
        })),
      ),
    );
    fill(results, resultsCard("Discard", answers));
    await load();
  }

  async function load() {
    selected.clear();
    updateSelection();
    let found;
    try {
      found = await ctx.api.get("/v1/dead-letters", {
        ...ctx.tenantQuery(),
        failure_class: failureClass,
        recipient,
        page,
        page_size: 50,
      });
    } catch (error) {
      fill(list, alertBox(error));
      return;
    }
    if (!ctx.alive()) return;
    const boxes = [];
    const all = h("input", {
      type: "checkbox",
      "aria-label": "Select every dead letter on this page",
      onchange: (event) => {
        for (const box of boxes) {
          box.checked = event.target.checked;
          box.dispatchEvent(new Event("change"));
        }
      },
    });
    const columns = [
      writable
        ? {
            label: all,
            class: "check",
            cell: (m) => {
              const box = h("input", {
                type: "checkbox",
                value: m.id,
                "aria-label": `Select message ${m.id}`,
                onchange: (event) => {
                  if (event.target.checked) selected.add(m.id);
                  else selected.delete(m.id);
                  updateSelection();
                },
              });
              boxes.push(box);
              return box;
            },
          }
        : null,
      { label: "Message", cell: (m) => messageLink(m.id) },
      ctx.admin && !ctx.tenant ? { label: "Tenant", cell: (m) => m.tenant_id } : null,
      { label: "Recipient", cell: (m) => mono(m.recipient) },
      { label: "Failure", cell: (m) => (m.failure_class ? badge(m.failure_class) : "—") },
      { label: "Reason", cell: (m) => h("span", { class: "reason", title: m.failure_reason ?? "" }, m.failure_reason ?? "—") },
      { label: "Retries", cell: (m) => String(m.retry_count), class: "num" },
      { label: "Dead-lettered", cell: (m) => when(m.updated_at) },
    ].filter(Boolean);
    fill(
      list,
      table(columns, found.items, { empty: "No dead letter. Every message is on its way or settled.", caption: "Dead letters" }),
      pager(found, (next) => ctx.go(hashOf("dead-letters", { failure_class: failureClass, recipient, page: String(next) }))),
    );
  }

  await load();
  return h(
    "div",
    {},
    pageHeader(
      "Dead letters",
      writable
        ? "Messages that could not be delivered. Select some to requeue (deliver again, retries reset) or discard."
        : "Messages that could not be delivered. This key may look but not requeue or discard.",
    ),
    card(null, filters),
    results,
    card("Dead-lettered messages", toolbar, list),
  );
}
