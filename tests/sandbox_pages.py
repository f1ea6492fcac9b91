"""The sandbox's pages in a real browser: send with a pattern, read the timings, check every URL."""

from __future__ import annotations

from dataclasses import dataclass

from helpers import open_page, url_of
from playwright.sync_api import Page, expect

# Every URL a page can lead to or load: links, assets, the send buttons, the script's config.
PAGE_URLS_JS = """() => {
    const attrs = [["a", "href"], ["link", "href"], ["script", "src"], ["img", "src"],
                   ["form", "action"], ["button", "data-url"]];
    const urls = attrs.flatMap(([tag, attr]) =>
        [...document.querySelectorAll(`${tag}[${attr}]`)].map(el => el.getAttribute(attr)));
    const config = document.getElementById("sandbox-config");
    if (config) urls.push(...Object.values(JSON.parse(config.textContent)));
    return urls.map(url => new URL(url, document.baseURI).href);
}"""

CAPTURED_COUNT_JS = "async url => (await (await fetch(url, {cache: 'no-store'})).json()).total"
# Asks the inbox API until it captured `count` mails (wait_for_function would not await a promise).
WAIT_FOR_CAPTURED_JS = """async ([url, count, timeoutMs]) => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
        const captured = (await (await fetch(url, {cache: "no-store"})).json()).total;
        if (captured >= count) return captured;
        if (performance.now() > deadline) throw new Error(`${captured} of ${count} mails after ${timeoutMs} ms`);
        await new Promise(resolve => setTimeout(resolve, 50));
    }
}"""


@dataclass
class SendResult:
    """One row of the / page's results table."""

    pattern: str
    status: str
    browser_ms: float
    smtp_ms: float | None
    app_ms: float | None
    source: str  # where the page read Server-Timing: "performance-api" or "header"


class SandboxPage:
    """The / page of a sandbox, or of the URL a proxy serves one at (a prefix such as .../proxy/PORT/)."""

    def __init__(self, page: Page, target) -> None:
        self.page = page
        self.target = target
        self.url = url_of(target)
        self.requests: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))

    def open(self) -> SandboxPage:
        """Load the page; wait until its script has read the mail server's settings."""
        open_page(self.page, self.target)
        expect(self.page.locator("#smtp-status")).to_contain_text("mail server at")
        return self

    def delay_shown(self) -> float:
        """The mail server delay the page shows, in seconds."""
        return float(self.page.locator("#smtp-settings input[name=delay]").input_value())

    def patterns(self) -> list[str]:
        """The patterns that have a button (ping, the baseline, included)."""
        return self.page.locator("button.send").evaluate_all("buttons => buttons.map(b => b.dataset.pattern)")

    def send(self, pattern: str, timeout: float = 30) -> SendResult:
        """Click the pattern's button; wait for the row it adds and read it."""
        rows = self.page.locator("#results tbody tr")
        before = rows.count()
        self.page.locator(f'button.send[data-pattern="{pattern}"]').click()
        expect(rows).to_have_count(before + 1, timeout=timeout * 1000)
        row = rows.first  # newest first
        data = row.evaluate("row => ({...row.dataset})")
        assert data["pattern"] == pattern
        return SendResult(
            pattern=pattern,
            status=row.locator("td.status").inner_text(),
            browser_ms=float(data["browserMs"]),
            smtp_ms=float(data["smtpMs"]) if "smtpMs" in data else None,
            app_ms=float(data["appMs"]) if "appMs" in data else None,
            source=self.page.locator("#timing-source").get_attribute("data-source"),
        )

    def captured_count(self) -> int:
        """How many mails the sandbox's mail server captured, asked from the page (through any proxy)."""
        return self.page.evaluate(CAPTURED_COUNT_JS, self.url + "api/messages")

    def wait_for_captured(self, count: int, timeout: float = 10) -> None:
        """Wait until the mail server captured at least `count` mails."""
        self.page.evaluate(WAIT_FOR_CAPTURED_JS, [self.url + "api/messages", count, timeout * 1000])

    def page_urls(self) -> list[str]:
        """Every URL the page links to or loads, made absolute."""
        return self.page.evaluate(PAGE_URLS_JS)

    def server_timing_entries(self, pattern: str) -> list[dict]:
        """What the Performance API says about the page's requests to /send/<pattern>, read here independently."""
        return self.page.evaluate(
            """suffix => performance.getEntriesByType("resource")
                .filter(e => e.name.endsWith(suffix))
                .map(e => ({duration: e.duration,
                            serverTiming: e.serverTiming.map(t => ({name: t.name, duration: t.duration}))}))""",
            f"/send/{pattern}",
        )


def check_stays_under(sandbox_page: SandboxPage, prefix_url: str) -> None:
    """Every link and request of the page, and of the inbox page it leads to, stays under prefix_url."""
    page = sandbox_page.page
    escaping = [url for url in sandbox_page.page_urls() if not url.startswith(prefix_url)]
    assert escaping == [], f"links leaving {prefix_url}: {escaping}"
    page.get_by_role("link", name="Inbox").click()
    expect(page).to_have_url(prefix_url + "inbox")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    escaping = [url for url in sandbox_page.page_urls() if not url.startswith(prefix_url)]
    assert escaping == [], f"links leaving {prefix_url} on the inbox: {escaping}"
    page.get_by_role("link", name="Send").click()
    expect(page).to_have_url(prefix_url)
    expect(page.locator("#smtp-status")).to_contain_text("mail server at")
    # What the browser actually fetched, the script's requests included.
    escaped = [url for url in sandbox_page.requests if not url.startswith(prefix_url)]
    assert escaped == [], f"requests that left {prefix_url}: {escaped}"


def check_sends_and_inbox(sandbox_page: SandboxPage, prefix_url: str) -> None:
    """Blocking waits for the mail server and says so; threaded does not; every mail reaches the inbox."""
    delay_ms = sandbox_page.delay_shown() * 1000
    assert delay_ms > 0, "give the mail server a delay, or there is nothing to see"
    captured_before = sandbox_page.captured_count()
    # The faster of two, for ping (the floor: this browser, this proxy, this machine) and threaded.
    ping = min((sandbox_page.send("ping") for _ in range(2)), key=lambda result: result.browser_ms)
    blocking = sandbox_page.send("blocking")
    threaded = [sandbox_page.send("threaded") for _ in range(2)]
    fastest = min(threaded, key=lambda result: result.browser_ms)
    assert blocking.status == "200" and {r.status for r in threaded} == {"202"}
    assert {r.source for r in [blocking, *threaded]} == {"performance-api"}
    assert blocking.browser_ms >= blocking.smtp_ms >= delay_ms
    assert all(r.smtp_ms == 0.0 for r in threaded)  # their sends ran in a background thread
    assert fastest.browser_ms - ping.browser_ms < (blocking.browser_ms - ping.browser_ms) / 3
    # The threaded mails may still be on their way: wait for them, then read all in the inbox page.
    sandbox_page.wait_for_captured(captured_before + 3)
    page = sandbox_page.page
    page.get_by_role("link", name="Inbox").click()
    expect(page).to_have_url(prefix_url + "inbox")
    expect(page.locator("table.inbox tbody tr")).to_have_count(captured_before + 3)
    page.get_by_role("link", name="Send").click()
    expect(page).to_have_url(prefix_url)
