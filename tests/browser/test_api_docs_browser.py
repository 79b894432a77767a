"""/api/v1/docs renders the OpenAPI document with the vendored Swagger UI under the CSP."""

from __future__ import annotations

from playwright.sync_api import expect


def test_the_api_docs_render_without_csp_violations(page):
    problems = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto("/api/v1/docs")
    # Swagger UI renders after fetching the document: slow on a busy machine.
    expect(page.get_by_text("Rapport API").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("List contacts").first).to_be_visible()
    expect(page.get_by_text("Log a note, call or meeting").first).to_be_visible()
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
