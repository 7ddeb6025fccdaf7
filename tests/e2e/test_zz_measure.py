import pytest
from django.urls import reverse
from oms.roles import MANAGER
from tests.e2e.conftest import login
from tests.e2e.test_screens import LISTS, floor  # noqa: F401


@pytest.mark.django_db(transaction=True)
def test_measure(session, role_user, floor, viewport):
    role_user("maria", MANAGER, name="Maria Schmidt")
    page = session().new_page()
    login(page, "maria")
    out = []
    for name in LISTS + ["dashboard"]:
        url = "/admin/" if name == "dashboard" else reverse(f"admin:{name}_changelist")
        r = page.goto(url)
        data = page.evaluate("""() => {
          const root = document.documentElement;
          const box = document.querySelector('#changelist-form .results');
          const cols = [...document.querySelectorAll('#result_list thead th')].map(th => th.className.replace('column-','').split(' ')[0] + ':' + Math.round(th.getBoundingClientRect().width));
          return {doc: [root.scrollWidth, root.clientWidth], box: box ? [box.scrollWidth, box.clientWidth] : null, cols};
        }""")
        if data['box'] and data['box'][0] > data['box'][1]:
            data['min'] = page.evaluate("""() => { const t = document.querySelector('#result_list'); t.style.width='1px'; const r = [...document.querySelectorAll('#result_list thead th')].map(th => th.className.split(' ')[0] + ':' + Math.round(th.getBoundingClientRect().width)); t.style.width=''; return r; }""")
            out.append(str(data['min']))
            out.append(str(page.evaluate("""() => [...document.querySelectorAll('#result_list tbody tr:first-child > *')].map(td => [td.className, getComputedStyle(td).whiteSpace, td.scrollWidth, td.innerHTML.slice(0, 80)])""")))
            out.append(str(page.evaluate("""() => [...document.querySelectorAll('#result_list thead th')].map(td => [td.className, getComputedStyle(td).whiteSpace, getComputedStyle(td.querySelector('.text') || td).whiteSpace, td.innerText])""")))
        out.append(f"{viewport['width']} {name} {r.status} doc={data['doc']} box={data['box']} {' '.join(data['cols'])}")
    page.screenshot(path="/tmp/measure-dash-%d.png" % viewport['width'], full_page=True)
    page.goto(reverse("admin:orders_order_changelist"))
    page.screenshot(path="/tmp/measure-orders-%d.png" % viewport['width'], full_page=True)
    print("\n".join(out))
    session_obj = None
