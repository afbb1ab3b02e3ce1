// The console: sign-in, the shell (navigation, tenant picker, sign-out) and the views.
//
// Everything a signed-in session knows — the key (inside the API client), who it is, the
// metrics history — lives in `session`, in memory. Signing out drops it and empties the page.

import { createApi } from "./api.js";
import { h, fill } from "./dom.js";
import { MetricsFeed } from "./metrics.js";
import { alertBox, problemText } from "./ui.js";
import * as apiKeys from "./page-api-keys.js";
import * as breakers from "./page-breakers.js";
import * as deadLetters from "./page-dead-letters.js";
import * as message from "./page-message.js";
import * as messages from "./page-messages.js";
import * as overview from "./page-overview.js";
import * as suppressions from "./page-suppressions.js";
import * as webhooks from "./page-webhooks.js";

/** The views, in navigation order, each with the scope it needs (`admin` allows all). */
const PAGES = [
  { path: "overview", title: "Overview", scope: "messages:read", view: overview },
  { path: "messages", title: "Messages", scope: "messages:read", view: messages, detail: message },
  { path: "dead-letters", title: "Dead letters", scope: "messages:read", view: deadLetters },
  { path: "circuit-breakers", title: "Circuit breakers", scope: "admin", view: breakers },
  { path: "suppressions", title: "Suppressions", scope: "suppressions:write", view: suppressions },
  { path: "webhooks", title: "Webhooks", scope: "webhooks:write", view: webhooks, detail: webhooks },
  { path: "api-keys", title: "API keys", scope: "admin", view: apiKeys },
];

const $ = (id) => document.getElementById(id);
let session = null;

function can(caller, scope) {
  return caller.scopes.includes("admin") || caller.scopes.includes(scope);
}

// --- signing in and out ---------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  const input = $("api-key");
  const key = input.value.trim();
  if (!key) return say("Enter an API key.", "bad");
  const submit = event.target.querySelector("button[type=submit]");
  submit.disabled = true;
  say("", null);
  try {
    const api = createApi(key, () => signOut("The API refused the key (revoked?). Sign in again."));
    const caller = await api.get("/v1/me");
    input.value = "";
    await start(api, caller);
  } catch (error) {
    const refused = error.status === 401;
    say(refused ? "This key is not one of Herald's keys, or it was revoked." : problemText(error), "bad");
  } finally {
    submit.disabled = false;
  }
}

function say(text, tone) {
  const line = $("sign-in-message");
  line.hidden = !text;
  line.className = `notice notice-${tone ?? "info"}`;
  fill(line, text);
}

async function start(api, caller) {
  const allowed = PAGES.filter((page) => can(caller, page.scope));
  session = {
    api,
    caller,
    allowed,
    admin: caller.scopes.includes("admin"),
    tenant: "",
    tenants: [],
    cleanups: [],
    token: 0,
  };
  session.metrics = can(caller, "messages:read") ? new MetricsFeed(api, () => tenantQuery()) : null;
  if (session.admin) {
    session.tenants = await api.get("/v1/tenants").catch(() => []);
  }
  drawShell();
  $("sign-in").hidden = true;
  $("shell").hidden = false;
  session.metrics?.start();
  await route();
}

function signOut(reason) {
  if (!session) return;
  leaveView();
  session.metrics?.stop();
  session = null; // the key goes with the API client it was closed over in
  fill($("view"));
  fill($("nav"));
  fill($("identity"));
  fill($("tenant-picker"));
  $("shell").hidden = true;
  $("sign-in").hidden = false;
  history.replaceState(null, "", window.location.pathname);
  document.title = "Herald console";
  say(reason ?? "Signed out. The key is forgotten.", reason ? "bad" : "info");
  $("api-key").focus();
}

// --- the shell ------------------------------------------------------------------------

function drawShell() {
  const { caller, allowed, admin } = session;
  fill(
    $("nav"),
    allowed.map((page) =>
      h("li", {}, h("a", { href: `#/${page.path}`, dataset: { page: page.path } }, page.title)),
    ),
  );
  $("tenant-choice").hidden = !admin;
  if (admin) {
    fill(
      $("tenant-picker"),
      h("option", { value: "" }, "All tenants"),
      session.tenants.map((tenant) => h("option", { value: tenant.id }, `${tenant.name} (${tenant.id})`)),
    );
  }
  const scopes = admin ? "admin" : caller.scopes.join(", ") || "no scopes";
  fill(
    $("identity"),
    h("span", { class: "identity-tenant" }, admin ? "Admin key" : `Tenant ${caller.tenant_id}`),
    h("span", { class: "identity-scopes" }, scopes),
  );
}

function tenantQuery() {
  return session?.tenant ? { tenant: session.tenant } : {};
}

// --- views ----------------------------------------------------------------------------

function leaveView() {
  if (!session) return;
  session.token += 1;
  for (const cleanup of session.cleanups.splice(0)) cleanup();
}

/** What a view may use: the API, the caller, and timers that stop when the view is left. */
function context(token, params) {
  const alive = () => session !== null && session.token === token;
  return {
    api: session.api,
    caller: session.caller,
    admin: session.admin,
    tenant: session.tenant,
    tenants: session.tenants,
    params,
    can: (scope) => can(session.caller, scope),
    tenantQuery,
    alive,
    go: (hash) => {
      window.location.hash = hash;
    },
    every(ms, tick) {
      const timer = window.setInterval(() => alive() && tick(), ms);
      session.cleanups.push(() => window.clearInterval(timer));
    },
    onMetrics(listener) {
      if (!session.metrics) return;
      session.cleanups.push(session.metrics.subscribe(listener));
    },
    metrics: session.metrics,
  };
}

async function route() {
  if (!session) return;
  leaveView();
  const [pathPart, queryPart] = window.location.hash.replace(/^#\/?/, "").split("?");
  const [path, detail] = pathPart.split("/").map(decodeURIComponent);
  const page = session.allowed.find((candidate) => candidate.path === path);
  const view = $("view");
  if (!page) {
    if (session.allowed.length) {
      history.replaceState(null, "", `#/${session.allowed[0].path}`);
      return route();
    }
    fill(view, h("div", { class: "notice notice-warn" }, "This key's scopes allow no page of the console."));
    return;
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === page.path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const module = detail && page.detail ? page.detail : page.view;
  const token = session.token;
  const params = Object.fromEntries(new URLSearchParams(queryPart ?? ""));
  if (detail) params.id = detail;
  document.title = `${page.title} · Herald`;
  view.setAttribute("aria-busy", "true");
  let content;
  try {
    content = await module.render(context(token, params));
  } catch (error) {
    content = alertBox(error);
  }
  if (!session || session.token !== token) return;
  fill(view, content);
  view.removeAttribute("aria-busy");
  view.querySelector("h1")?.focus({ preventScroll: true });
}

// --- start ----------------------------------------------------------------------------

function boot() {
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut());
  $("tenant-picker").addEventListener("change", (event) => {
    session.tenant = event.target.value;
    session.metrics?.reset();
    route();
  });
  window.addEventListener("hashchange", route);
  $("api-key").focus();
}

boot();
