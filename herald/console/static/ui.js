// The console's building blocks: page headers, cards, tables, badges, pagers, dialogs.

import { h, fill } from "./dom.js";
import { relative, time, words } from "./format.js";

/** The heading of a view, with a line under it and actions on the right. */
export function pageHeader(title, subtitle, ...actions) {
  return h(
    "header",
    { class: "page-header" },
    h("div", {}, h("h1", { tabindex: "-1" }, title), subtitle ? h("p", { class: "subtitle" }, subtitle) : null),
    actions.length ? h("div", { class: "actions" }, actions) : null,
  );
}

export function card(title, ...children) {
  return h(
    "section",
    { class: "card", "aria-label": title || null },
    title ? h("h2", { class: "card-title" }, title) : null,
    children,
  );
}

const STATUS_TONES = {
  delivered: "good",
  accepted: "good",
  closed: "good",
  active: "good",
  dead_lettered: "bad",
  failed: "bad",
  open: "bad",
  revoked: "muted",
  expired: "bad",
  retrying: "warn",
  deferred: "warn",
  half_open: "warn",
  suppressed: "warn",
  ack_timeout: "warn",
  pending: "info",
  queued: "info",
  scheduled: "info",
  sending: "active",
  awaiting_ack: "active",
  discarded: "muted",
  canceled: "muted",
  permanent: "bad",
  transient: "warn",
  recoverable: "info",
};

/** A pill naming a status, coloured by what it means. */
export function badge(status) {
  const tone = STATUS_TONES[status] ?? "muted";
  return h("span", { class: `badge badge-${tone}`, dataset: { status } }, words(status));
}

/** A time as `3 min ago`, with the exact time on hover. */
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: time(iso) }, relative(iso));
}

/**
 * A table: `columns` are `{label, cell(row), class?}`; `empty` is said when there are no rows.
 */
export function table(columns, rows, { empty = "Nothing here.", caption, rowClass } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h("tr", { class: rowClass?.(row) }, columns.map((c) => h("td", { class: c.class }, c.cell(row)))),
        ),
      ),
    ),
  );
}

/** `1–50 of 123` with Previous and Next. */
export function pager({ page, page_size: size, total }, go) {
  if (total <= size && page === 1) {
    return h("p", { class: "pager-summary" }, `${total} ${total === 1 ? "item" : "items"}`);
  }
  const first = total ? (page - 1) * size + 1 : 0;
  const last = Math.min(page * size, total);
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    h("span", { class: "pager-summary" }, `${first}–${last} of ${total}`),
    h("button", { type: "button", class: "secondary", disabled: page <= 1, onclick: () => go(page - 1) }, "Previous"),
    h("button", { type: "button", class: "secondary", disabled: last >= total, onclick: () => go(page + 1) }, "Next"),
  );
}

/** A sentence about what went wrong, from an ApiError or any error. */
export function problemText(error) {
  const problem = error?.problem ?? {};
  if (error?.status === 403) return `Not allowed: ${problem.detail ?? "this key lacks the scope"}`;
  return problem.detail ?? error?.message ?? String(error);
}

export function alertBox(error) {
  return h("div", { class: "notice notice-bad", role: "alert" }, problemText(error));
}

/** A live region views write their outcomes into. */
export function statusLine() {
  const line = h("div", { class: "status-line", role: "status", "aria-live": "polite" });
  line.say = (text, tone = "good") => {
    fill(line, text ? h("div", { class: `notice notice-${tone}` }, text) : null);
  };
  return line;
}

export function button(label, onclick, { kind = "secondary", ...props } = {}) {
  return h("button", { type: "button", class: kind, onclick, ...props }, label);
}

/** A labelled form field around `control` (which needs an `id`). */
export function field(label, control, hint) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: control.id }, label),
    control,
    hint ? h("p", { class: "hint" }, hint) : null,
  );
}

export function select(id, options, value) {
  return h(
    "select",
    { id, name: id },
    options.map(([optionValue, label]) =>
      h("option", { value: optionValue, selected: optionValue === value }, label),
    ),
  );
}

/** Name/value pairs as a description list. */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) =>
        h("div", { class: "fact" }, h("dt", {}, name), h("dd", {}, value ?? h("span", { class: "muted" }, "—"))),
      ),
  );
}

export function mono(text) {
  return h("code", { class: "mono" }, text);
}

/**
 * Ask before something that cannot be undone; resolves true when confirmed.
 * `confirm` names the button that goes ahead.
 */
export function confirmDialog({ title, text, confirm, cancel = "Keep" }) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": "dialog-title" },
      h("h2", { id: "dialog-title" }, title),
      h("p", {}, text),
      h(
        "div",
        { class: "dialog-actions" },
        button(cancel, () => dialog.close("cancel")),
        button(confirm, () => dialog.close("confirm"), { kind: "danger" }),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A secret shown once, with a way to copy it. */
export function secretBox(title, value, text) {
  const code = h("code", { class: "secret-value", "aria-label": title }, value);
  const copied = h("span", { class: "muted", role: "status" });
  return h(
    "div",
    { class: "notice notice-warn secret" },
    h("strong", {}, title),
    h("p", {}, text),
    h(
      "div",
      { class: "secret-row" },
      code,
      button("Copy", async () => {
        try {
          await navigator.clipboard.writeText(value);
          fill(copied, "Copied.");
        } catch {
          window.getSelection()?.selectAllChildren(code);
          fill(copied, "Selected: copy it with your keyboard.");
        }
      }),
      copied,
    ),
  );
}

/** A view's address with its query: `hashOf("messages", {status: "queued"})`. */
export function hashOf(path, params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, value]) => value)).toString();
  return `#/${path}${query ? `?${query}` : ""}`;
}

/** Run an action, say on `line` how it went (`success` may read its answer), then `after()`. */
export async function perform(line, call, success, after) {
  try {
    const answer = await call();
    line.say(typeof success === "function" ? success(answer) : success);
  } catch (error) {
    line.say(problemText(error), "bad");
  }
  await after?.();
}
