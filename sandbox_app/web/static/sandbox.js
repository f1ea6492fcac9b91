// Send with a pattern; show the response time measured here and the server's Server-Timing.
// Every URL comes from the page (url_for), so the script works under any proxy prefix.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("sandbox-config").textContent);
  const email = document.getElementById("email");
  const rows = document.querySelector("#results tbody");
  const timingSource = document.getElementById("timing-source");
  const smtpForm = document.getElementById("smtp-settings");
  const smtpStatus = document.getElementById("smtp-status");

  // Resource timing entries as the browser reports them, until a send claims its own.
  // An observer sees every entry, even after the 250-entry timeline buffer is full.
  const entries = [];
  const waiting = new Set();
  new PerformanceObserver((list) => {
    entries.push(...list.getEntries());
    entries.splice(0, Math.max(0, entries.length - 500));
    waiting.forEach((check) => check());
  }).observe({type: "resource", buffered: true});

  // The entry of the request to `url` that started at or after `since` (ms), or null.
  function resourceEntry(url, since, timeoutMs) {
    return new Promise((resolve) => {
      let timer = null;
      const check = () => {
        const index = entries.findIndex((e) => e.name === url && e.startTime >= since);
        if (index < 0) return;
        waiting.delete(check);
        clearTimeout(timer);
        resolve(entries.splice(index, 1)[0]);
      };
      timer = setTimeout(() => { waiting.delete(check); resolve(null); }, timeoutMs);
      waiting.add(check);
      check();
    });
  }

  // `smtp;dur=302.4;desc="...", app;dur=0.3` -> [{name, duration, description}]
  function parseServerTiming(header) {
    if (!header) return [];
    return header.split(",").map((metric) => {
      const [name, ...params] = metric.split(";");
      const entry = {name: name.trim(), duration: 0, description: ""};
      for (const param of params) {
        const [key, value = ""] = param.split("=");
        if (key.trim() === "dur") entry.duration = parseFloat(value);
        if (key.trim() === "desc") entry.description = value.trim().replace(/^"|"$/g, "");
      }
      return entry;
    });
  }

  // The Server-Timing entries of a finished request, and where they were read.
  async function serverTimings(url, since, response) {
    const entry = await resourceEntry(url, since, 2000);
    // Some browsers give serverTiming only over https (or on localhost): then read the header.
    if (entry && entry.serverTiming && entry.serverTiming.length > 0) {
      return {timings: entry.serverTiming, source: "performance-api"};
    }
    return {timings: parseServerTiming(response.headers.get("Server-Timing")), source: "header"};
  }

  function showSource(source) {
    timingSource.dataset.source = source;
    timingSource.textContent = source === "performance-api"
      ? "smtp and app read with the Performance API: performance.getEntriesByType(\"resource\"), " +
        "each entry's serverTiming."
      : "smtp and app read from the Server-Timing response header: this browser's Performance API " +
        "gave none (some browsers give serverTiming only over https). DevTools still shows it.";
  }

  function addCell(row, className, text, title) {
    const cell = row.insertCell();
    cell.className = className;
    cell.textContent = text;
    if (title) cell.title = title;
    return cell;
  }

  function showResult(pattern, status, ms, timings, answer) {
    const byName = Object.fromEntries(timings.map((t) => [t.name, t]));
    const smtp = byName.smtp, app = byName.app;
    const row = rows.insertRow(0);
    row.dataset.pattern = pattern;
    row.dataset.browserMs = ms.toFixed(1);
    if (smtp) row.dataset.smtpMs = smtp.duration;
    if (app) row.dataset.appMs = app.duration;
    addCell(row, "pattern", pattern);
    addCell(row, "status", status);
    addCell(row, "browser-ms", ms.toFixed(1));
    addCell(row, "smtp-ms", smtp ? smtp.duration.toFixed(1) : "-", smtp && smtp.description);
    addCell(row, "app-ms", app ? app.duration.toFixed(1) : "-", app && app.description);
    // Most of the response time spent on SMTP means the request blocked on the mail server.
    const waited = smtp && smtp.duration >= ms / 2;
    const verdict = addCell(row, "verdict", smtp ? (waited ? "waited for the mail server" : "did not wait") : "");
    if (smtp) verdict.classList.add(waited ? "slow" : "fast");
    addCell(row, "answer", answer.error || answer.status || (answer.pong ? "pong" : ""));
  }

  async function send(button) {
    const url = new URL(button.dataset.url, document.baseURI).href;
    const options = button.dataset.method === "GET"
      ? {cache: "no-store"}
      : {
          method: "POST",
          headers: {"Content-Type": "application/json"},
          body: JSON.stringify(Object.fromEntries(new FormData(email))),
        };
    const since = performance.now();
    let response, answer;
    try {
      response = await fetch(url, options);
      answer = await response.json().catch(() => ({}));
    } catch (error) {
      showResult(button.dataset.pattern, "no answer", performance.now() - since, [], {error: String(error)});
      return;
    }
    const ms = performance.now() - since;
    // 1 ms of slack: both clocks are coarsened, and the entry cannot predate this fetch by more.
    const {timings, source} = await serverTimings(url, since - 1, response);
    showSource(source);
    showResult(button.dataset.pattern, response.status, ms, timings, answer);
  }

  async function showSmtpSettings(response, changed) {
    const state = await response.json().catch(() => ({}));
    if (!response.ok) {
      smtpStatus.textContent = `Not changed: ${state.error || `error ${response.status}`}`;
      return;
    }
    smtpForm.elements.delay.value = state.settings.delay;
    smtpStatus.textContent = changed
      ? `Done: the mail server now waits ${state.settings.delay} s (mail server at ${state.address})`
      : `(mail server at ${state.address})`;
  }

  smtpForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const delay = parseFloat(smtpForm.elements.delay.value);
    const response = await fetch(config.smtpUrl, {
      method: "PUT",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({delay: Number.isNaN(delay) ? null : delay}),
    });
    await showSmtpSettings(response, true);
  });

  document.querySelectorAll("button.send").forEach((button) =>
    button.addEventListener("click", () => send(button)));
  fetch(config.smtpUrl, {cache: "no-store"}).then((response) => showSmtpSettings(response, false));
})();
