"""Browser journeys: Playwright driving Debian's Chromium against a live server."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "journey-pass-2026"
# Playwright's sync API keeps an event loop in this thread; the ORM calls the
# tests make for set-up and checks are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (`make test` installs it as root)"
        if os.environ.get("OMS_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


# The two screens every journey runs on: a desktop and a 1024 px laptop.
VIEWPORTS = {"1400x900": (1400, 900), "1024x768": (1024, 768)}

# Runs in every page: after it has loaded and laid out, report a page that is
# wider than the window (it would scroll sideways) to the test.
OVERFLOW_PROBE = """
(() => {
  const probe = (tries) => {
    const root = document.documentElement;
    if (!root) return;
    // A window not laid out at its size yet (seen on a loaded machine as a
    // document 1 px wide) is measured again a moment later.
    if (root.clientWidth < 320 && tries > 0) {
      setTimeout(() => probe(tries - 1), 100);
      return;
    }
    if (root.scrollWidth > root.clientWidth) {
      window.omsReportOverflow(
        `${location.pathname}${location.search}: ${root.scrollWidth} > ${root.clientWidth}`
      );
    }
  };
  window.addEventListener("load", () => requestAnimationFrame(() => probe(20)));
})();
"""


# Runs in every page: report each Content Security Policy violation the page
# sees (the browser also writes it to the console, which is watched too).
CSP_PROBE = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.omsReportViolation(
    `Refused by the Content Security Policy (${event.effectiveDirective}): ` +
    `${event.blockedURI || "inline"} on ${location.pathname}` +
    (event.sample ? ` [${event.sample}]` : "")
  );
});
"""
# What the browser writes for a policy violation ("Refused to load the
# script … because it violates the following Content Security Policy …").
CSP_WORDS = ("Content Security Policy", "Refused to")


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request) -> dict:
    width, height = VIEWPORTS[request.param]
    return {"width": width, "height": height}


class Session:
    """A browser context at one viewport that records every answer of 500 or
    more, every page that scrolls sideways and every Content Security Policy
    violation (reported by the page or written to the console, or a script
    error it caused); `check()` asserts none happened."""

    def __init__(self, browser, base_url: str, viewport: dict):
        self.server_errors: list[str] = []
        self.overflows: list[str] = []
        self.csp_violations: list[str] = []
        self.context = browser.new_context(
            base_url=base_url, viewport=viewport, accept_downloads=True
        )
        self.context.set_default_timeout(20_000)
        self.context.expose_binding(
            "omsReportOverflow", lambda source, text: self.overflows.append(text)
        )
        self.context.expose_binding(
            "omsReportViolation",
            lambda source, text: self.csp_violations.append(text),
        )
        self.context.add_init_script(OVERFLOW_PROBE)
        self.context.add_init_script(CSP_PROBE)
        self.context.on("response", self._on_response)
        self.context.on("console", self._on_console)
        self.context.on("weberror", self._on_web_error)

    def _on_response(self, response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.url}")

    def _on_console(self, message) -> None:
        if any(words in message.text for words in CSP_WORDS):
            self.csp_violations.append(f"console: {message.text}")

    def _on_web_error(self, web_error) -> None:
        text = str(web_error.error)
        if any(words in text for words in CSP_WORDS):
            self.csp_violations.append(f"page error: {text}")

    def new_page(self):
        return self.context.new_page()

    def check(self) -> None:
        assert not self.server_errors, f"answered 500: {self.server_errors}"
        assert not self.overflows, f"pages scroll sideways: {self.overflows}"
        assert not self.csp_violations, (
            f"Content Security Policy violations: {self.csp_violations}"
        )

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def session(browser, live_server, viewport):
    """Open sessions at the test's viewport: session() -> Session; each is
    checked (no 500, nothing scrolls sideways, no Content Security Policy
    violation) when the test ends."""
    opened: list[Session] = []

    def open_session() -> Session:
        opened.append(Session(browser, live_server.url, viewport))
        return opened[-1]

    yield open_session
    try:
        for each in opened:
            each.check()
    finally:
        for each in opened:
            each.close()


@pytest.fixture
def page(session):
    return session().new_page()


@pytest.fixture
def shot():
    """Save a full-page screenshot: shot(page, "journey-step") writes
    journey-step-1024.png at a 1024 px wide viewport."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def save(page, name: str) -> None:
        width = (page.viewport_size or {}).get("width", "")
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)

    return save


@pytest.fixture
def role_user(django_user_model):
    """Create a staff user in a role group: role_user("manager", MANAGER)."""
    from oms.roles import roles_setup

    groups = roles_setup()

    def create(username: str, role: str, name: str = ""):
        first_name, _, last_name = name.partition(" ")
        user = django_user_model.objects.create_user(
            username=username,
            password=PASSWORD,
            is_staff=True,
            email=f"{username}@oms.example",
            first_name=first_name,
            last_name=last_name,
        )
        user.groups.add(groups[role])
        return user

    return create


def login(page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def assert_fits(page) -> None:
    """Assert that the page does not scroll sideways, now."""
    width, client = page.evaluate(
        "() => [document.documentElement.scrollWidth,"
        " document.documentElement.clientWidth]"
    )
    assert width <= client, f"{page.url} scrolls sideways: {width} > {client}"
