"""The web page end to end in real headless Chromium (Debian's, driven by Playwright): both
pickers clicked through on the real Slack export, the phone layout, the address that
remembers a choice, and the key field when reading needs a key.

The machine running these may be loaded (the suite shares its cores): every wait is on a
condition -- a selector, a list whose texts equal the API's answer (Playwright's ``expect``,
which retries), the page's own requests answered -- with a generous :data:`TIMEOUT`, never
on a fixed pause long enough on a quiet machine only."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import httpx
import pytest

from teamrec.service import Settings, create_app
from teamrec.store import MemoryEventStore

from .conftest import KEYS, live_server, make_settings

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SLACK = "/api/v1/teams/slack"
#: Milliseconds any wait may take: generous, for a loaded machine (a pass never waits this long).
TIMEOUT = 120_000


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (make test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def slack_url(slack_export_dir):
    settings = Settings.model_validate({
        "database": "memory:",
        "teams": {"slack": {"source": str(slack_export_dir), "format": "slack-export"}},
    })
    with live_server(create_app(settings, store=MemoryEventStore())) as url:
        yield url


def new_context(browser, **options):
    """A browser context whose every wait (selectors, clicks, navigation) allows :data:`TIMEOUT`."""
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT)
    return context


@pytest.fixture
def page(browser):
    context = new_context(browser, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()


def texts(page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def expect_texts(page, selector: str, expected: list[str]) -> None:
    """Wait until the elements at ``selector`` read exactly ``expected`` (a list being replaced
    by a newer answer is read again, not compared half-way)."""
    from playwright.sync_api import expect

    expect(page.locator(selector)).to_have_text(expected, timeout=TIMEOUT)


def api(url: str, path: str, **params):
    return httpx.get(url + path, params=params, timeout=TIMEOUT / 1000).json()


def pick(page, field: str, query: str, option: str) -> None:
    page.fill(field, query)
    page.locator(f"{field} ~ .options button.option", has_text=option).first.click()


def test_both_pickers_on_the_slack_export(page, slack_url):
    page.goto(slack_url + "/")
    page.wait_for_selector("#model-info:has-text('51 people')")
    assert "39 channels" in page.inner_text("#model-info") or "38 channels" in page.inner_text("#model-info")

    # -- a channel and the channels like it --------------------------------------------------
    page.click("#item-search")
    page.wait_for_selector("#item-options:not([hidden]) button.option")
    page.fill("#item-search", "machine")
    page.wait_for_selector("#item-options button.option:has-text('#machine-learning')")
    assert texts(page, "#item-options .option-name") == ["#machine-learning"]
    page.click("#item-options button.option:has-text('#machine-learning')")
    page.wait_for_selector("#similar-items li.result")
    assert page.inner_text("#item-chosen strong") == "#machine-learning"
    assert page.locator("#item-options").is_hidden()
    expected = api(slack_url, f"{SLACK}/items/machine-learning/similar", k=10)["results"]
    expect_texts(page, "#similar-items .result-name", [f"#{r['name']}" for r in expected])
    expect_texts(page, "#similar-items .reason", [r["reason"] for r in expected])
    reasons = texts(page, "#similar-items .reason")
    assert len(reasons) == 10
    assert all(re.fullmatch(r"\d+ of the 19 people in #machine-learning are also in #[\w-]+", r) for r in reasons)

    # -- a person: channels for them and people like them -------------------------------------
    pick(page, "#person-search", "rachel", "Rachel Mann")
    page.wait_for_selector("#recommended-items li.result")
    page.wait_for_selector("#similar-people li.result")
    assert page.inner_text("#recommended-title") == "Channels for Rachel Mann"
    assert page.inner_text("#similar-people-title") == "People like Rachel Mann"
    recs = api(slack_url, f"{SLACK}/people/U03T89ACUUW/recommendations", k=10, explain="true")["results"]
    expect_texts(page, "#recommended-items .result-name", [f"#{r['name']}" for r in recs])
    expect_texts(page, "#recommended-items .reason", [r["reason"] for r in recs])
    assert texts(page, "#recommended-items .reason")[0].startswith("because you are in #")
    like = api(slack_url, f"{SLACK}/people/U03T89ACUUW/similar", k=10)["results"]
    expect_texts(page, "#similar-people .result-name", [r["name"] for r in like])
    assert all(t.startswith("you share ") for t in texts(page, "#similar-people .reason"))

    # -- results are links: a person like Rachel, then a channel recommended to them ---------
    other = like[0]["name"]
    page.locator("#similar-people .result-name", has_text=other).first.click()
    page.wait_for_selector(f"#recommended-title:has-text('Channels for {other}')")
    # The title changes at the click, the list when the answer arrives: wait for their list.
    other_recs = api(slack_url, f"{SLACK}/people/{like[0]['id']}/recommendations", k=10)["results"]
    expect_texts(page, "#recommended-items .result-name", [f"#{r['name']}" for r in other_recs])
    first_channel = f"#{other_recs[0]['name']}"
    page.locator("#recommended-items .result-name").first.click()
    page.wait_for_selector(f"#item-chosen strong:has-text('{first_channel}')")
    page.wait_for_selector("#similar-items li.result")

    # -- the address remembers both choices ---------------------------------------------------
    remembered = page.url
    assert "item=" in remembered and "person=" in remembered
    page.goto("about:blank")
    page.goto(remembered)
    page.wait_for_selector(f"#item-chosen strong:has-text('{first_channel}')")
    page.wait_for_selector(f"#recommended-title:has-text('Channels for {other}')")
    assert page.errors == []


def test_readable_on_a_phone(browser, slack_url):
    context = new_context(browser, viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True,
                          has_touch=True)
    page = context.new_page()
    page.goto(slack_url + "/")
    page.wait_for_selector("#model-info:has-text('51 people')")
    pick(page, "#item-search", "data", "#data-engineering")
    page.wait_for_selector("#similar-items li.result")
    pick(page, "#person-search", "bridget", "Bridget Glover")
    page.wait_for_selector("#similar-people li.result")
    # No sideways scrolling, one column, text at a readable size.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    channels = page.locator("#channels").bounding_box()
    people = page.locator("#people").bounding_box()
    assert people["y"] >= channels["y"] + channels["height"] - 1 and channels["width"] > 300
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#similar-items .reason')).fontSize)")
    assert size >= 13
    context.close()


def test_the_key_field_when_reading_needs_a_key(browser, globex_dir):
    app = create_app(make_settings(globex_dir, read_keys=True), store=MemoryEventStore())
    with live_server(app) as url:
        context = new_context(browser)
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_selector("#error:not([hidden])")
        assert "API key" in page.inner_text("#error")
        assert page.locator("#key-panel").get_attribute("open") is not None
        # Typing the key in the field.
        page.fill("#api-key", KEYS["demo-read"])
        page.click("#key-form button[type=submit]")
        page.wait_for_selector("#model-info:has-text('200 people')")
        assert page.locator("#error").is_hidden()
        pick(page, "#item-search", "mlops", "#mlops")
        page.wait_for_selector("#similar-items li.result")
        context.close()

        # Or in the address: it is used, then taken out of the address bar.
        context = new_context(browser)
        page = context.new_page()
        page.goto(f"{url}/?key={KEYS['globex-admin']}")
        page.wait_for_selector("#model-info:has-text('4 people')")
        assert "key=" not in page.url
        assert page.locator("#team-picker").is_hidden()  # the key sees its own team only
        pick(page, "#person-search", "gina", "Gina One")
        page.wait_for_selector("#recommended-items li")
        context.close()


def test_api_docs_render_without_network(page, slack_url):
    """/docs draws every operation from the OpenAPI document with Swagger UI served by the app
    itself: the browser is allowed no request outside the server."""
    outside: list[str] = []

    def only_local(route):
        if route.request.url.startswith(slack_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(slack_url + "/docs")
    page.locator(".opblock-summary-path", has_text="/api/v1/teams/{team}/items/{item}/similar").first.wait_for()
    assert page.locator(".opblock").count() >= 10
    assert outside == [] and page.errors == []


def test_a_team_of_films_is_worded_as_items(page, ml100k_dir):
    """Items that are not channels (MovieLens films): no '#', nobody is "in" them."""
    settings = Settings.model_validate({
        "database": "memory:",
        "teams": {"films": {"source": str(ml100k_dir), "format": "movielens"}},
    })
    with live_server(create_app(settings, store=MemoryEventStore())) as url:
        page.goto(url + "/")
        page.wait_for_selector("#model-info:has-text('1682 items')")
        assert page.inner_text("#channels-title") == "Items like…"
        assert page.get_attribute("#item-search", "placeholder") == "Search items"
        pick(page, "#item-search", "star wars", "Star Wars (1977)")
        page.wait_for_selector("#similar-items li.result")
        assert page.inner_text("#item-chosen strong") == "Star Wars (1977)"
        reasons = texts(page, "#similar-items .reason")
        assert reasons and all(re.fullmatch(r"\d+ of the 583 people with Star Wars \(1977\) also have .+", r)
                               for r in reasons), reasons
        pick(page, "#person-search", "42", "42")
        page.wait_for_selector("#recommended-items li.result")
        assert re.fullmatch(r"Items for \d*42\d*", page.inner_text("#recommended-title"))
        assert not any(n.startswith("#") for n in texts(page, "#recommended-items .result-name"))
        assert page.errors == []


def test_a_pick_made_before_the_search_answers_stays_closed(page, slack_url):
    """Typing then choosing at once (before the typed search returns): the list must not
    come back over the chosen person when the late answer arrives."""
    searching: list = []  # the person searches sent and not answered yet
    page.on("request", lambda request: searching.append(request) if "/people?" in request.url else None)
    for answered in ("requestfinished", "requestfailed"):
        page.on(answered, lambda request: searching.remove(request) if request in searching else None)
    page.goto(slack_url + "/")
    page.wait_for_selector("#model-info:has-text('51 people')")
    page.click("#person-search")
    page.wait_for_selector("#person-options:not([hidden]) button.option")
    page.type("#person-search", "rach")  # a search is now pending
    page.locator("#person-options button.option").first.click()  # the list from before typing
    page.wait_for_selector("#similar-people li.result")
    # Past the search delay (120 ms), then until every search sent is answered, however slow
    # the server; then the page's handling of the last answer.
    page.wait_for_timeout(500)
    deadline = time.monotonic() + TIMEOUT / 1000
    while searching and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert not searching, "a person search was never answered"
    page.wait_for_timeout(500)
    assert page.locator("#person-options").is_hidden()
    assert page.errors == []


def test_the_experiments_panel_for_an_admin_key(browser, globex_dir):
    experiment = {"name": "knn-vs-pop", "start": "2020-01-01T00:00:00Z",
                  "arms": [{"name": "control", "algorithm": "popularity"},
                           {"name": "knn", "algorithm": "item-knn", "epsilon": 0.3}]}
    app = create_app(make_settings(globex_dir, experiments=[experiment]), store=MemoryEventStore())
    with live_server(app) as url:
        headers = {"X-API-Key": KEYS["globex-admin"]}
        for user in ("g1", "g2", "g3", "g4"):
            answer = httpx.get(f"{url}/api/v1/teams/globex/people/{user}/recommendations", headers=headers,
                               timeout=TIMEOUT / 1000).json()
            if answer["results"]:
                response = httpx.post(url + "/api/v1/teams/globex/feedback", headers=headers, json={
                    "recommendation_id": answer["recommendation_id"], "user": user,
                    "item": answer["results"][0]["id"], "action": "click"}, timeout=TIMEOUT / 1000)
                assert response.status_code == 201, response.text
        context = new_context(browser)
        page = context.new_page()
        errors = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(f"{url}/?key={KEYS['globex-admin']}")
        page.wait_for_selector("#experiments:not([hidden]) #experiment-table tbody tr")
        rows = page.locator("#experiment-table tbody tr")
        cells = [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]
        assert [r[0] for r in cells] == ["control", "knn"]
        clicks = sum(int(r[3]) for r in cells)
        impressions = sum(int(r[2]) for r in cells)
        assert clicks >= 1 and impressions >= clicks
        page.wait_for_selector("#experiment-chart:not([hidden])")
        assert page.eval_on_selector("#experiment-chart", "img => img.naturalWidth > 100")
        assert errors == []
        context.close()

        # Without a key the panel stays hidden and nothing is asked for.
        context = new_context(browser)
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_selector("#model-info:has-text('200 people')")  # the open demo team
        assert page.locator("#experiments").is_hidden()
        context.close()
