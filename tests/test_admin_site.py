"""The admin site's templates and pages: error pages with a way back, a sample
import file the app serves, CSV as the export default, a greeting by name, the
search box focused, lists that fit a laptop."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from oms.roles import MANAGER, roles_setup
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

ORDERS = reverse("admin:orders_order_changelist")


def test_greeting_uses_the_persons_name(client):
    person = UserFactory(
        username="mschmidt", first_name="Maria", last_name="Schmidt", is_staff=True
    )
    person.groups.add(roles_setup()[MANAGER])
    client.force_login(person)

    page = client.get(reverse("admin:index")).content.decode()

    assert '<strong id="welcome-name">Maria Schmidt</strong>' in page


def test_greeting_without_a_name_uses_the_username(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert '<strong id="welcome-name">boss</strong>' in page


def test_demo_users_have_real_names_not_roles():
    from oms.seed.catalogue import seed_users
    from oms.seed.data import SeedReport

    users = seed_users(SeedReport())

    names = {user.get_full_name() for user in users.values()}
    assert len(names) == len(users) and all(" " in name for name in names)
    assert not names & {"Manager", "Warehouse", "Customer", "Administrator"}


def test_unknown_admin_page_is_admin_styled_with_a_way_back(admin_client):
    response = admin_client.get("/admin/no-such-page/")

    content = response.content.decode()
    assert response.status_code == 404
    assert "admin/css/base.css" in content and "admin/oms.css" in content
    assert "Page not found" in content
    assert f'href="{reverse("admin:index")}">Back to the dashboard' in content


def test_refused_page_is_admin_styled_with_a_way_back(client):
    clerk = UserFactory(username="clerk2", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(clerk)

    response = client.get(reverse("admin:auth_user_changelist"))

    content = response.content.decode()
    assert response.status_code == 403
    assert "admin/oms.css" in content and "Not allowed" in content
    assert f'href="{reverse("admin:index")}">Back to the dashboard' in content


def test_server_error_page_stands_alone_with_a_way_back():
    response = server_error(RequestFactory().get("/admin/"))

    content = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in content
    assert 'href="/admin/">Back to the dashboard' in content
    # The admin's colours, without its files or a database: one stylesheet of
    # its own by its plain name (no inline style: the Content Security Policy
    # allows none without the request's nonce, which this page has not).
    assert '<link rel="stylesheet" href="/static/admin/oms-error.css">' in content
    assert "<style" not in content
    stylesheet = finders.find("admin/oms-error.css")
    assert stylesheet and "#417690" in Path(stylesheet).read_text()


def test_expired_form_says_what_to_do_with_a_way_back(superuser):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)

    response = client.post(reverse("admin:logout"))

    content = response.content.decode()
    assert response.status_code == 403
    assert "This form has expired" in content
    assert 'href="/admin/">Back to the dashboard' in content


def test_import_page_links_to_a_sample_file_served_as_csv(admin_client):
    sample_url = reverse("admin:orders_order_import_sample")

    page = admin_client.get(reverse("admin:orders_order_import")).content.decode()
    response = admin_client.get(sample_url)

    assert f'id="sample-file" href="{sample_url}"' in page
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    sample = (settings.BASE_DIR / "docs" / "sample_orders.csv").read_bytes()
    assert response.content == sample


def test_sample_file_needs_a_sign_in(client):
    response = client.get(reverse("admin:orders_order_import_sample"))
    assert response.status_code == 302


def test_export_starts_with_csv_chosen(admin_client):
    response = admin_client.get(reverse("admin:orders_order_export"))

    form = response.context["form"]
    assert form["format"].value() == "0"
    assert form.fields["format"].choices[0][1].lower() == "csv"
    assert all(value != "" for value, _ in form.fields["format"].choices)
    assert '<option value="0" selected>csv</option>' in response.content.decode()


def test_list_pages_focus_the_search_box(admin_client):
    content = admin_client.get(ORDERS).content.decode()
    assert 'id="searchbar" autofocus' in content


def test_order_list_shows_few_columns_with_status_and_customer(admin_client):
    OrderFactory(external_id="WEB-1001")

    response = admin_client.get(ORDERS)

    columns = list(response.context["cl"].list_display)
    assert {"number", "customer_name", "status_badge"} <= set(columns)
    assert len(columns) <= 9  # checkbox + 8 at most
    content = response.content.decode()
    assert '<small class="oms-reference">WEB-1001</small>' in content


def test_dates_in_lists_are_short():
    from django.utils import formats

    assert formats.get_format("DATETIME_FORMAT") == "j M Y H:i"


def test_shared_stylesheet_keeps_numbers_whole_and_hides_spare_columns():
    css = (settings.BASE_DIR / "oms" / "assets" / "admin" / "oms.css").read_text()
    assert ":is(td, th).field-number" in css and "white-space: nowrap" in css
    assert "@media (max-width: 1279px)" in css
