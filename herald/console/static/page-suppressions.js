// Suppressions: the recipients a tenant must not message; add and remove them.

import { h, fill } from "./dom.js";
import { seg } from "./api.js";
import { alertBox, button, card, field, mono, pageHeader, pager, perform, select, statusLine, table, when } from "./ui.js";

/** The tenant choice of an admin's form: the picked tenant first, else `default`. */
export function tenantSelect(ctx, id) {
  const chosen = ctx.tenant || "default";
  return select(id, ctx.tenants.map((t) => [t.id, `${t.name} (${t.id})`]), chosen);
}

export async function render(ctx) {
  const page = Number(ctx.params.page ?? 1) || 1;
  const outcome = statusLine();
  const list = h("div", {});
  const recipientInput = h("input", { id: "suppress-recipient", required: true, placeholder: "+1 415 555 0123", autocomplete: "off" });
  const reasonInput = h("input", { id: "suppress-reason", placeholder: "e.g. replied STOP", maxlength: "500", autocomplete: "off" });
  const tenantChoice = ctx.admin ? tenantSelect(ctx, "suppress-tenant") : null;

  async function load() {
    try {
      const found = await ctx.api.get("/v1/suppressions", { ...ctx.tenantQuery(), page, page_size: 50 });
      if (!ctx.alive()) return;
      fill(
        list,
        table(
          [
            { label: "Recipient", cell: (x) => mono(x.recipient) },
            ctx.admin && !ctx.tenant ? { label: "Tenant", cell: (x) => x.tenant_id } : null,
            { label: "Reason", cell: (x) => x.reason ?? "—" },
            { label: "Since", cell: (x) => when(x.created_at) },
            ctx.can("suppressions:write")
              ? {
                  label: h("span", { class: "visually-hidden" }, "Actions"),
                  class: "actions-cell",
                  cell: (x) => button("Remove", () => remove(x), { "aria-label": `Remove ${x.recipient}` }),
                }
              : null,
          ].filter(Boolean),
          found.items,
          { empty: "Nobody is suppressed.", caption: "Suppressions" },
        ),
        pager(found, (next) => ctx.go(`#/suppressions?page=${next}`)),
      );
    } catch (error) {
      fill(list, alertBox(error));
    }
  }

  const remove = (x) =>
    perform(
      outcome,
      () => ctx.api.delete(`/v1/suppressions/${seg(x.recipient)}`, ctx.admin ? { tenant: x.tenant_id } : {}),
      `${x.recipient} may be messaged again.`,
      load,
    );

  const form = h(
    "form",
    {
      class: "search",
      onsubmit: async (event) => {
        event.preventDefault();
        const recipient = recipientInput.value.trim();
        const reason = reasonInput.value.trim();
        await perform(
          outcome,
          async () => {
            const added = await ctx.api.put(
              `/v1/suppressions/${seg(recipient)}`,
              reason ? { reason } : undefined,
              tenantChoice ? { tenant: tenantChoice.value } : {},
            );
            recipientInput.value = reasonInput.value = "";
            return added;
          },
          (added) => `${added.recipient} is suppressed: its messages end suppressed, never sent.`,
          load,
        );
      },
    },
    field("Recipient", recipientInput),
    field("Reason", reasonInput),
    tenantChoice ? field("For tenant", tenantChoice) : null,
    h("div", { class: "field field-action" }, h("button", { type: "submit", class: "primary" }, "Suppress")),
  );

  await load();
  return h(
    "div",
    {},
    pageHeader("Suppressions", "Recipients who opted out: their messages end suppressed and are never sent."),
    card("Suppress a recipient", form),
    outcome,
    card("Suppressed recipients", list),
  );
}
