"""The Content Security Policy (oms/csp.py, CONTENT_SECURITY_POLICY): on the
admin, the customer's page and the API docs, with a fresh nonce per page, the
channel's logo origin as the only outside image source, and templates that
need no inline script, event handler or style attribute."""

import base64
import hashlib
import re
from html import unescape
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from core.responses import pdf_response
from oms.csp import ContentSecurityPolicyMiddleware, image_origin
from orders.customer_access import customer_page_path

TEMPLATES = Path(settings.BASE_DIR) / "oms" / "templates"
NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=]+)'")


def policy_of(response) -> dict[str, list[str]]:
    """The response's policy as {directive: [sources]}."""
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def nonce_of(response) -> str:
    (nonce,) = set(NONCE.findall(response["Content-Security-Policy"]))
    return nonce


def assert_strict(policy: dict[str, list[str]]) -> None:
    """The directives every page has, whatever it adds."""
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"][0] == "'self'" and len(policy["script-src"]) == 2
    assert policy["script-src"][1].startswith("'nonce-")
    assert policy["style-src"][0] == "'self'" and len(policy["style-src"]) == 2
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    header = " ".join(" ".join(sources) for sources in policy.values())
    assert "unsafe-inline" not in header and "unsafe-eval" not in header
    assert "*" not in header


def inline_scripts(html: str) -> list[str]:
    """Script elements that run their own text (not data blocks, not files)."""
    found = []
    for tag in re.findall(r"<script\b[^>]*>", html):
        if "src=" in tag or 'type="application/json"' in tag:
            continue
        found.append(tag)
    return found


# ---- the admin


@pytest.mark.django_db
def test_admin_pages_carry_the_policy_with_a_new_nonce_each_time(admin_client):
    first = admin_client.get("/admin/")
    second = admin_client.get("/admin/")
    login = Client().get("/admin/login/")

    for response in (first, second, login):
        assert response.status_code == 200
        policy = policy_of(response)
        assert_strict(policy)
        assert policy["img-src"] == ["'self'", "data:"]
        assert not inline_scripts(response.content.decode())
    nonces = {nonce_of(first), nonce_of(second), nonce_of(login)}
    assert len(nonces) == 3
    assert all(len(nonce) >= 22 for nonce in nonces)  # 16 random bytes


@pytest.mark.django_db
def test_admin_inline_styles_carry_the_pages_nonce(admin_client):
    response = admin_client.get("/admin/returns/returnrequest/report/")

    assert response.status_code == 200
    html = response.content.decode()
    styles = re.findall(r"<style\b[^>]*>", html)
    assert styles == [f'<style nonce="{nonce_of(response)}">']


def _attribute_hashes(html: str, attribute: str) -> set[str]:
    """The CSP hash sources of every `attribute` (regex) value in `html`."""
    values = re.findall(rf'<[a-zA-Z][^>]*\s{attribute}="([^"]*)"', html)
    return {
        "'sha256-"
        + base64.b64encode(hashlib.sha256(unescape(value).encode()).digest()).decode()
        + "'"
        for value in values
    }


@pytest.mark.django_db
def test_export_page_allows_exactly_its_own_handler_and_style_attributes(
    admin_client,
):
    response = admin_client.get(reverse("admin:orders_order_export"))

    assert response.status_code == 200
    html = response.content.decode()
    policy = policy_of(response)
    assert_strict(policy)
    handlers = _attribute_hashes(html, "on[a-z]+")
    styles = _attribute_hashes(html, "style")
    # What the installed django-import-export writes, hashed, is what the
    # policy names: no more, no less.
    assert handlers and styles
    assert set(policy["script-src-attr"]) == {"'unsafe-hashes'", *handlers}
    assert set(policy["style-src-attr"]) == {"'unsafe-hashes'", *styles}
    # The handler it names is defined by a script file of the form's media.
    assert "onSelectToggleChange" in html and "export_selectable_fields.js" in html

    other = policy_of(admin_client.get(reverse("admin:orders_order_changelist")))
    assert "script-src-attr" not in other and "style-src-attr" not in other


@pytest.mark.django_db
def test_json_answers_carry_the_strictest_policy(admin_client):
    """An answer that is not a page loads nothing and is framed by no one."""
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    policy = policy_of(response)
    assert policy == {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}
    assert "nonce" not in response["Content-Security-Policy"]


def test_pdfs_shown_in_place_are_sent_without_a_policy(rf):
    def pdf_view(request):
        return pdf_response(b"%PDF-1.7\n", "SH-000001-label.pdf")

    def page_view(request):
        return HttpResponse("<p>a page</p>")

    pdf = ContentSecurityPolicyMiddleware(pdf_view)(rf.get("/admin/label/"))
    page = ContentSecurityPolicyMiddleware(page_view)(rf.get("/admin/page/"))

    assert pdf["Content-Disposition"].startswith("inline")
    assert "Content-Security-Policy" not in pdf
    assert_strict(policy_of(page))


# ---- the customer's page


@pytest.fixture
def order(place_order, stock, product):
    stock(product, 5)
    return place_order([(product, 1)])


@pytest.mark.django_db
def test_customer_page_allows_its_channels_logo_origin_only(client, order):
    channel = order.channel
    channel.logo_url = "https://cdn.acme.example:8443/brand/logo.png?v=3"
    channel.accent_colour = "#aa3300"
    channel.save()

    first = client.get(customer_page_path(order=order))
    second = client.get(customer_page_path(order=order))

    for response in (first, second):
        assert response.status_code == 200
        policy = policy_of(response)
        assert_strict(policy)
        assert policy["img-src"] == ["'self'", "data:", "https://cdn.acme.example:8443"]
        html = response.content.decode()
        assert 'src="https://cdn.acme.example:8443/brand/logo.png?v=3"' in html
        assert not inline_scripts(html)
        # The channel's colour is the one inline style, with this page's nonce.
        assert re.findall(r"<style\b[^>]*>", html) == [
            f'<style nonce="{nonce_of(response)}">'
        ]
    assert nonce_of(first) != nonce_of(second)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "logo_url",
    ["", "http://cdn.acme.example/logo.png", "https://cdn.acme.example;/x.png"],
)
def test_customer_page_without_an_https_logo_allows_no_outside_image(
    client, order, logo_url
):
    channel = order.channel
    # A raw write: only a URL the field accepts reaches it through a form.
    type(channel).objects.filter(pk=channel.pk).update(logo_url=logo_url)

    response = client.get(customer_page_path(order=order))

    assert response.status_code == 200
    assert policy_of(response)["img-src"] == ["'self'", "data:"]
    assert "<img" not in response.content.decode()


@pytest.mark.django_db
def test_customer_not_found_page_carries_the_policy(client):
    response = client.get("/o/not-a-token/")

    assert response.status_code == 404
    assert_strict(policy_of(response))
    assert policy_of(response)["img-src"] == ["'self'", "data:"]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://cdn.acme.example/logo.png", "https://cdn.acme.example"),
        ("https://CDN.Acme.Example:443/a.svg", "https://cdn.acme.example"),
        ("https://cdn.acme.example:8443/a.svg", "https://cdn.acme.example:8443"),
        ("https://bücher.example/logo.png", "https://xn--bcher-kva.example"),
        ("  https://cdn.acme.example/x.png  ", "https://cdn.acme.example"),
        ("http://cdn.acme.example/logo.png", ""),
        ("//cdn.acme.example/logo.png", ""),
        ("data:image/png;base64,AAAA", ""),
        ("https://a.example;script-src *", ""),
        ("https://a.example:99999/x.png", ""),
        ("https://[::1]/x.png", ""),
        ("https://user@/x.png", ""),
        ("", ""),
    ],
)
def test_image_origin_is_a_plain_https_origin_or_nothing(url, origin):
    assert image_origin(url) == origin


# ---- the API docs


@pytest.mark.django_db
def test_api_docs_run_swagger_ui_from_files_under_the_policy():
    client = Client()
    first = client.get("/api/v1/docs/")
    second = client.get("/api/v1/docs/")

    for response in (first, second):
        assert response.status_code == 200
        assert_strict(policy_of(response))
        html = response.content.decode()
        assert not inline_scripts(html)
        assert re.findall(r"<style\b[^>]*>", html) == [
            f'<style nonce="{nonce_of(response)}">'
        ]
        sources = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', html)
        assert sources and all(
            source.startswith("/static/") or source.startswith("/api/v1/docs/")
            for source in sources
        ), sources
    assert nonce_of(first) != nonce_of(second)

    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
    assert '"/api/v1/openapi.json"' in script.content.decode()


@pytest.mark.django_db
def test_api_docs_work_offline_from_the_apps_own_pinned_files():
    client = Client()
    html = client.get("/api/v1/docs/").content.decode()
    script = client.get("/api/v1/docs/?script=").content.decode()

    # No CDN, no badge, no font: nothing names another host.
    assert not re.findall(r"(?:https?:)?//[\w-]+(?:\.[\w-]+)+", html + script)
    sources = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', html)
    assets = [s for s in sources if s.startswith(settings.STATIC_URL)]
    assert any("drf_spectacular_sidecar/swagger-ui-dist/" in s for s in assets)
    for asset in assets:
        name = asset.removeprefix(settings.STATIC_URL).split("?")[0]
        assert finders.find(name) or staticfiles_storage.exists(name), asset


# ---- the templates: nothing the policy would refuse


def _template_files():
    return [
        path
        for path in sorted(TEMPLATES.rglob("*.html"))
        # Documents go to WeasyPrint and e-mails to mail readers: no browser
        # policy applies to them.
        if path.relative_to(TEMPLATES).parts[0] not in {"documents", "emails"}
    ]


def test_templates_have_no_inline_script_handler_or_style_attribute():
    offenders = []
    for path in _template_files():
        text = path.read_text()
        name = str(path.relative_to(TEMPLATES))
        for tag in inline_scripts(text):
            offenders.append(f"{name}: inline script {tag}")
        for match in re.finditer(r"<[a-zA-Z][^>]*\s(on[a-z]+|style)=[\"']", text):
            offenders.append(f"{name}: {match.group(1)}= attribute")
        if "javascript:" in text:
            offenders.append(f"{name}: javascript: URL")
        for tag in re.findall(r"<style\b[^>]*>", text):
            if 'nonce="{{ request.csp_nonce }}"' not in tag:
                offenders.append(f"{name}: <style> without the page's nonce")
    assert _template_files() and not offenders, offenders


def test_html_written_in_python_has_no_handler_or_style_attribute():
    apps = ["core", "inventory", "orders", "fulfillment", "returns", "connections"]
    offenders = []
    for app in [*apps, "oms"]:
        for path in sorted((Path(settings.BASE_DIR) / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            for match in re.finditer(r"<[a-zA-Z][^>]*\s(on[a-z]+|style)=[\"']", text):
                offenders.append(f"{path.name}: {match.group(1)}= attribute")
            if re.search(r"<script\b", text):
                offenders.append(f"{path.name}: <script>")
            if re.search(r"attrs=\{[^}]*[\"'](style|on[a-z]+)[\"']\s*:", text):
                offenders.append(f"{path.name}: a widget with a style or handler")
    assert not offenders, offenders


@pytest.mark.django_db
def test_server_error_page_needs_no_inline_style(client):
    from django.views.defaults import server_error

    response = server_error(client.get("/admin/login/").wsgi_request)

    html = response.content.decode()
    assert response.status_code == 500
    assert "<style" not in html and 'style="' not in html
    assert '<link rel="stylesheet" href="/static/admin/oms-error.css">' in html
    assert (Path(settings.BASE_DIR) / "oms/assets/admin/oms-error.css").exists()
