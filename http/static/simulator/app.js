// The simulator page: post what the person types, show the conversation live.
// Everything a person typed is shown with textContent, never as HTML.
"use strict";

(() => {
  const lines = document.getElementById("lines");
  const connection = document.getElementById("connection");
  const problem = document.getElementById("problem");
  const text = document.getElementById("text");
  const number = document.getElementById("number");
  const name = document.getElementById("name");
  const relationship = document.getElementById("relationship");
  const shown = new Set();
  let source = null;

  const endpoint = (path) => new URL(path, document.baseURI).toString();

  function showLine(line) {
    if (shown.has(line.id)) return;
    shown.add(line.id);
    const item = document.createElement("li");
    item.className = `line ${line.direction === "out" ? "out" : "in"}`;
    item.dataset.id = line.id;
    const body = document.createElement("p");
    body.className = "text";
    body.textContent = line.text;
    const meta = document.createElement("p");
    meta.className = "meta";
    const when = new Date(line.at);
    const who = line.direction === "out" ? "Parley" : (line.name || "you");
    meta.textContent = `${who} · ${when.toLocaleTimeString()}`;
    item.append(body, meta);
    lines.append(item);
    item.scrollIntoView({block: "end"});
  }

  function follow() {
    if (source) source.close();
    shown.clear();
    lines.replaceChildren();
    const url = new URL(endpoint("stream"));
    url.searchParams.set("number", number.value);
    source = new EventSource(url);
    connection.textContent = "connecting…";
    source.addEventListener("open", () => {
      connection.textContent = "connected";
      connection.dataset.state = "open";
    });
    source.addEventListener("error", () => {
      connection.textContent = "reconnecting…";
      connection.dataset.state = "retrying";
    });
    source.addEventListener("line", (event) => showLine(JSON.parse(event.data)));
  }

  document.getElementById("contact").addEventListener("submit", (event) => {
    event.preventDefault();
    problem.textContent = "";
    follow();
  });

  document.getElementById("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const typed = text.value;
    if (!typed.trim()) return;
    try {
      // Posting as a contact needs the dashboard's token (this tab's sign-in).
      const token = sessionStorage.getItem("parley.token");
      const headers = {"Content-Type": "application/json"};
      if (token) headers.Authorization = `Bearer ${token}`;
      const response = await fetch(endpoint("messages"), {
        method: "POST",
        headers,
        credentials: "omit",
        body: JSON.stringify({
          number: number.value,
          name: name.value,
          relationship: relationship.value,
          text: typed,
        }),
      });
      if (response.status === 401) {
        problem.textContent = "sign in on the dashboard first (this tab), then come back";
        return;
      }
      const answer = await response.json();
      if (!response.ok) {
        const message = typeof answer.error === "string" ? answer.error : answer.error?.message;
        problem.textContent = message || `not sent (${response.status})`;
        return;
      }
      text.value = "";
    } catch (error) {
      problem.textContent = `not sent: ${error.message}`;
    }
  });

  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      document.getElementById("composer").requestSubmit();
    }
  });

  follow();
})();
