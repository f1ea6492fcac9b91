// Send with a pattern and show the response time measured in the browser.
(function () {
  const form = document.getElementById("email");
  const rows = document.querySelector("#results tbody");

  async function showDelay() {
    const response = await fetch(window.SANDBOX.smtpUrl);
    if (response.ok) {
      const state = await response.json();
      document.getElementById("smtp-delay").textContent = state.settings.delay;
    }
  }

  async function send(button) {
    const payload = Object.fromEntries(new FormData(form));
    const started = performance.now();
    const response = await fetch(button.dataset.url, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(payload),
    });
    const answer = await response.json();
    const ms = performance.now() - started;
    const row = rows.insertRow(0);
    row.dataset.pattern = button.dataset.pattern;
    row.insertCell().textContent = button.dataset.pattern;
    row.insertCell().textContent = response.status;
    const time = row.insertCell();
    time.textContent = ms.toFixed(1);
    time.className = ms > 100 ? "slow" : "fast";
    row.insertCell().textContent = answer.error || answer.status;
  }

  document.querySelectorAll("button.send").forEach((button) =>
    button.addEventListener("click", () => send(button)));
  showDelay();
})();
