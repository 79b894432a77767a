"""Issue 20, seen on screen: what a user reads and taps, at 1280 px and on a 390 px phone."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from crm.search import services
from tests import factories
from tests.conftest import TEST_PASSWORD, assert_no_sideways_scroll


def _log_in(page, owner, team_name: str = "Acme Sales") -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=team_name)).to_be_visible()


def _one_line_with_ellipsis_when_needed(locator) -> None:
    """The element keeps its text on one line: whole if it fits, cut with an ellipsis if not."""
    box = locator.evaluate(
        """el => {
          const style = getComputedStyle(el);
          return {lines: el.getClientRects().length, overflows: el.scrollWidth > el.clientWidth,
                  ellipsis: style.textOverflow, wrap: style.whiteSpace};
        }"""
    )
    assert box["lines"] == 1, box
    assert box["wrap"] == "nowrap" and box["ellipsis"] == "ellipsis", box


def _wait_indexed(team_id: int, q: str) -> None:
    """The embedded worker of live_server indexes after commit; wait until it has."""
    deadline = time.monotonic() + 10
    while services.search(team_id, None, q).total == 0:
        assert time.monotonic() < deadline, f"{q!r} was never indexed"
        time.sleep(0.1)


def test_a_highlighted_search_hit_keeps_the_spaces_between_its_words(page, app, owner):
    services.get_engine(app).rebuild([])
    team = factories.team_of(owner)
    factories.make_contact(team, first_name="Olga", last_name="Kim")
    _wait_indexed(team.id, "kim")
    _log_in(page, owner)

    page.goto("/search?q=kim")
    title = page.locator(".search-hit-title").first
    expect(title.locator("mark")).to_have_text("Kim")
    assert title.inner_text() == "Olga Kim"
    size = title.bounding_box()
    assert size["height"] >= 44
    # The results card keeps its text off its border.
    card, link = page.locator(".search-hits").bounding_box(), title.bounding_box()
    assert link["x"] - card["x"] >= 8
    assert_no_sideways_scroll(page)


LONG_EMAIL = "bartholomew.featherstonehaugh-smythe@international-procurement-department.example"
LONG_TEAM = "Northwestern Regional Enterprise Accounts"


def test_a_long_email_is_cut_with_an_ellipsis_never_broken_mid_word(page, app, owner):
    team = factories.team_of(owner)
    team.name = LONG_TEAM
    from crm.extensions import db

    db.session.commit()
    contact = factories.make_contact(team, first_name="Bart", last_name="Smythe", email=LONG_EMAIL)
    _log_in(page, owner, LONG_TEAM)

    page.goto("/contacts")
    in_list = page.locator(f"#contact-row-{contact.id} a[href^='mailto:']")
    expect(in_list).to_have_attribute("title", LONG_EMAIL)
    _one_line_with_ellipsis_when_needed(in_list)
    assert in_list.bounding_box()["height"] >= 44
    assert_no_sideways_scroll(page)

    page.goto(f"/contacts/{contact.id}")
    in_card = page.locator(".record-details a[href^='mailto:']")
    expect(in_card).to_have_attribute("title", LONG_EMAIL)
    _one_line_with_ellipsis_when_needed(in_card)
    assert_no_sideways_scroll(page)

    # The team name in the top bar: whole on a desktop, cut with an ellipsis on a phone.
    name = page.locator(".team-menu > summary .menu-name")
    _one_line_with_ellipsis_when_needed(name)
    cut = name.evaluate("el => el.scrollWidth > el.clientWidth")
    assert cut == page.is_phone


def _tap_heights(page, selector: str) -> list[tuple[str, float]]:
    links = page.locator(selector)
    expect(links.first).to_be_visible()
    return [(link.inner_text(), link.bounding_box()["height"]) for link in links.all()]


def test_row_links_are_a_full_tap_tall_on_a_phone(page, app, owner):
    team = factories.team_of(owner)
    company = factories.make_company(team, name="Kestrel Analytics", phone="+14155550100")
    person = factories.make_contact(
        team, first_name="Priya", last_name="Natarajan", company_id=company.id, phone="+14155550134"
    )
    deal = factories.make_deal(
        team, title="Kestrel renewal", contacts=[person], company_id=company.id
    )
    factories.make_task(
        team, title="Call Priya back", contact_id=person.id, deal_id=deal.id, assignee_id=owner.id
    )
    _log_in(page, owner)

    checks = [
        ("/tasks", ".task-row .row-link"),
        (f"/companies/{company.id}", ".row-main .row-link, .meta .row-link"),
        (f"/deals/{deal.id}", ".meta .row-link"),
        ("/deals/list", "td .row-link"),
        (f"/contacts/{person.id}", ".meta .row-link, .deals-for .row-link"),
    ]
    for url, selector in checks:
        page.goto(url)
        heights = _tap_heights(page, selector)
        assert len(heights) >= 1, url
        if page.is_phone:
            short = [(text, h) for text, h in heights if h < 44]
            assert not short, (url, short)
        assert_no_sideways_scroll(page)


# Landmarks of one role need distinct names (axe landmark-unique); a control's visible words
# are part of its accessible name (axe label-content-name-mismatch); a link has a name.
LANDMARK_NAMES = """() => {
  const roleOf = el => el.getAttribute("role") || {NAV: "navigation", ASIDE: "complementary",
    MAIN: "main", SECTION: "region", FORM: "form"}[el.tagName];
  const nameOf = el => el.getAttribute("aria-label") || (el.getAttribute("aria-labelledby") || "")
    .split(" ").map(id => document.getElementById(id)?.textContent.trim() || "").join(" ").trim();
  const seen = {};
  const landmarks =
    "nav, aside, main, [role=search], section[aria-label], section[aria-labelledby]";
  for (const el of document.querySelectorAll(landmarks)) {
    if (!el.checkVisibility()) continue;
    const key = roleOf(el) + ":" + nameOf(el);
    seen[key] = (seen[key] || 0) + 1;
  }
  return seen;
}"""

VISIBLE_TEXT_IN_NAME = """el => {
  const curate = s => s.toLowerCase().replace(/[^\\p{L}\\p{N} ]/gu, " ")
    .replace(/\\s+/g, " ").trim();
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let visible = "";
  while (walker.nextNode()) {
    if (walker.currentNode.parentElement.checkVisibility()) visible += walker.currentNode.nodeValue;
  }
  return {visible: curate(visible), name: curate(el.getAttribute("aria-label") || "")};
}"""


def _assert_label_holds_visible_text(locator) -> None:
    text = locator.evaluate(VISIBLE_TEXT_IN_NAME)
    if text["name"] and len(text["visible"]) > 1:  # a lone character is not read as a label
        assert text["visible"] in text["name"], text


def test_menus_landmarks_and_the_logo_have_names_a_screen_reader_can_use(page, app, owner):
    for url in ("/login", "/signup"):
        page.goto(url)
        logo = page.locator("a.brand")
        name = logo.evaluate(
            "el => el.getAttribute('aria-label') || el.innerText.trim()"
            " || [...el.querySelectorAll('img')].map(i => i.alt).join('').trim()"
        )
        assert name == "Rapport", url
        _assert_label_holds_visible_text(logo)

    team = factories.team_of(owner)
    factories.make_contact(team, first_name="Olga", last_name="Kim")
    factories.make_company(team, name="Kestrel Analytics")
    _log_in(page, owner)
    for url in ("/contacts", "/companies", "/search?q=olga"):
        page.goto(url)
        counts = page.evaluate(LANDMARK_NAMES)
        repeated = {key: n for key, n in counts.items() if n > 1}
        assert not repeated, (url, counts)
        assert "search:" not in counts, (url, counts)  # every search landmark is named
        _assert_label_holds_visible_text(page.locator(".team-menu > summary"))
        _assert_label_holds_visible_text(page.locator(".user-menu > summary"))
    expect(page.locator(".team-menu > summary")).to_have_attribute(
        "aria-label", "Switch team: Acme Sales"
    )
    expect(page.locator(".user-menu .avatar")).to_be_visible()
