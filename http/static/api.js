// The API client: the token lives in sessionStorage (this tab only) and goes out as
// a bearer header. No cookies, so there is nothing for another site to ride on.

const KEY = "parley.token";

export class Unauthorized extends Error {}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function signIn(value) {
  sessionStorage.setItem(KEY, value);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const current = token();
  if (current) headers.Authorization = `Bearer ${current}`;
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) throw new Unauthorized("the token was not accepted");
  return response;
}

async function json(method, path, body) {
  const response = await request(method, path, body);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data && data.error ? data.error.message : `HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const api = {
  get: (path) => json("GET", path),
  post: (path, body) => json("POST", path, body),
  put: (path, body) => json("PUT", path, body),
  patch: (path, body) => json("PATCH", path, body),
  // The health route needs no token; the dashboard reads it before signing in too.
  health: async () => {
    const response = await fetch("/api/v1/health", { credentials: "omit", cache: "no-store" });
    return response.json();
  },
  blob: async (path) => {
    const response = await request("GET", path);
    if (!response.ok) throw new ApiError(response.status, `HTTP ${response.status}`);
    return response.blob();
  },
};
