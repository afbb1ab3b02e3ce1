// The console's only way to the server: the `/v1` API with the key as a bearer token.
//
// The key lives in this closure, nowhere else: not in localStorage, sessionStorage or a
// cookie, so a reload or a sign-out forgets it. Requests carry no cookies (`credentials:
// "omit"`), so there is no ambient credential another site could make the browser use.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `the server answered ${status}`);
    this.status = status;
    this.problem = problem ?? {};
  }
}

/** A client of the API that signs every request with `key`; `onRefused` runs on a 401. */
export function createApi(key, onRefused) {
  async function request(method, path, { query, body } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== null && value !== undefined && value !== "") {
        url.searchParams.set(name, String(value));
      }
    }
    const headers = { Authorization: `Bearer ${key}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        redirect: "error",
        referrerPolicy: "no-referrer",
      });
    } catch {
      throw new ApiError(0, { detail: "Herald did not answer; check that the API is running" });
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      if (response.status === 401) onRefused?.();
      throw new ApiError(response.status, data);
    }
    return data;
  }

  return Object.freeze({
    get: (path, query) => request("GET", path, { query }),
    post: (path, body, query) => request("POST", path, { body, query }),
    put: (path, body, query) => request("PUT", path, { body, query }),
    delete: (path, query) => request("DELETE", path, { query }),
  });
}

/** A path segment, escaped. */
export const seg = (value) => encodeURIComponent(String(value));
