// API keys (admin): create one (shown once), list them, revoke one.

import { h, fill } from "./dom.js";
import { seg } from "./api.js";
import { tenantSelect } from "./page-suppressions.js";
import {
  alertBox, badge, button, card, confirmDialog, field, mono, pageHeader, perform, problemText,
  secretBox, statusLine, table, when,
} from "./ui.js";

const SCOPES = [
  ["messages:write", "submit, cancel, change priority"],
  ["messages:read", "read messages, dead letters, metrics"],
  ["dead_letters:write", "requeue, discard"],
  ["suppressions:write", "manage the suppression list"],
  ["webhooks:write", "manage webhook endpoints"],
  ["acks:write", "acknowledge deliveries (the gateway's key)"],
  ["admin", "everything, for every tenant"],
];

export async function render(ctx) {
  const outcome = statusLine();
  const list = h("div", {});
  const nameInput = h("input", { id: "key-name", required: true, maxlength: "200", placeholder: "e.g. backend", autocomplete: "off" });
  const tenantChoice = tenantSelect(ctx, "key-tenant");
  const scopeBoxes = SCOPES.map(([scope]) => h("input", { type: "checkbox", id: `scope-${scope}`, value: scope }));

  async function load() {
    try {
      const keys = await ctx.api.get("/v1/api-keys", ctx.tenantQuery());
      if (!ctx.alive()) return;
      fill(
        list,
        table(
          [
            { label: "Name", cell: (k) => k.name },
            { label: "Tenant", cell: (k) => k.tenant_id },
            { label: "Key", cell: (k) => mono(`${k.prefix}…`) },
            { label: "Scopes", cell: (k) => h("span", { class: "chips" }, k.scopes.map((s) => h("span", { class: "chip" }, s))) },
            { label: "Created", cell: (k) => when(k.created_at) },
            { label: "State", cell: (k) => badge(k.revoked_at ? "revoked" : "active") },
            {
              label: h("span", { class: "visually-hidden" }, "Actions"),
              class: "actions-cell",
              cell: (k) => (k.revoked_at ? null : button("Revoke", () => revoke(k), { "aria-label": `Revoke ${k.name} (${k.prefix})` })),
            },
          ],
          keys,
          { empty: "No key yet besides the bootstrap keys of HERALD_API_KEYS.", caption: "API keys", rowClass: (k) => (k.revoked_at ? "revoked" : null) },
        ),
      );
    } catch (error) {
      fill(list, alertBox(error));
    }
  }

  async function revoke(k) {
    const sure = await confirmDialog({
      title: `Revoke ${k.name}?`,
      text: `Every API process refuses ${k.prefix}… within seconds. This cannot be undone.`,
      confirm: "Yes, revoke",
    });
    if (!sure) return;
    await perform(outcome, () => ctx.api.delete(`/v1/api-keys/${seg(k.id)}`), `${k.name} (${k.prefix}…) is revoked.`, load);
  }

  const form = h(
    "form",
    {
      class: "stack-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const scopes = scopeBoxes.filter((box) => box.checked).map((box) => box.value);
        if (!scopes.length) return outcome.say("Choose at least one scope.", "bad");
        try {
          const created = await ctx.api.post("/v1/api-keys", {
            tenant_id: tenantChoice.value,
            name: nameInput.value.trim(),
            scopes,
          });
          fill(
            outcome,
            secretBox(
              "New API key",
              created.key,
              `The key ${created.name} of ${created.tenant_id} is shown this once: Herald keeps only its hash. Copy it now.`,
            ),
          );
          nameInput.value = "";
          for (const box of scopeBoxes) box.checked = false;
        } catch (error) {
          outcome.say(problemText(error), "bad");
        }
        await load();
      },
    },
    h("div", { class: "form-row" }, field("Tenant", tenantChoice), field("Name", nameInput)),
    h(
      "fieldset",
      { class: "checks" },
      h("legend", {}, "Scopes"),
      scopeBoxes.map((box, i) =>
        h("label", { class: "check-label", for: box.id }, box, h("span", { class: "check-text" }, mono(SCOPES[i][0]), h("span", { class: "muted" }, SCOPES[i][1]))),
      ),
    ),
    h("div", {}, h("button", { type: "submit", class: "primary" }, "Create key")),
  );

  await load();
  return h(
    "div",
    {},
    pageHeader("API keys", "Each key belongs to a tenant and carries scopes. A key is shown once, when it is created."),
    outcome,
    card("Create a key", form),
    card("Keys", list),
  );
}
