"""The Content Security Policy in a real browser: the API docs (Swagger UI)
run under it, and the journeys' watch for violations does see one."""

import pytest

from tests.e2e.conftest import PASSWORD


@pytest.fixture
def viewport() -> dict:
    return {"width": 1400, "height": 900}


@pytest.mark.django_db(transaction=True)
def test_api_docs_render_under_the_policy(session, shot):
    page = session().new_page()

    response = page.goto("/api/v1/docs/")

    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
    # Swagger UI drew the schema it fetched: the title and every operation.
    page.wait_for_selector(".swagger-ui .info .title")
    assert "OMS order API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/orders" in path for path in paths), paths
    # An operation opens, with its parameters and answers (still no violation).
    page.locator(".opblock-summary").first.click()
    page.wait_for_selector(".opblock-body")
    shot(page, "api-docs")


@pytest.mark.django_db(transaction=True)
def test_the_journeys_watch_sees_a_violation(session, django_user_model):
    django_user_model.objects.create_user("watcher", password=PASSWORD, is_staff=True)
    watched = session()
    page = watched.new_page()
    page.goto("/admin/login/")

    # An inline script added to the page, as an injection would: refused.
    ran = page.evaluate(
        """() => new Promise((resolve) => {
          const script = document.createElement("script");
          script.textContent = "window.omsInjected = true";
          document.head.appendChild(script);
          setTimeout(() => resolve(window.omsInjected === true), 200);
        })"""
    )

    assert ran is False
    page.wait_for_timeout(200)
    # Seen twice: the browser's console line and the page's violation event.
    seen = watched.csp_violations
    assert any(
        text.startswith("console:") and "Content Security Policy" in text
        for text in seen
    ), seen
    assert any("(script-src-elem): inline on /admin/login/" in text for text in seen)
    # The test saw what it provoked; the session's own check stays for the rest.
    watched.csp_violations.clear()
