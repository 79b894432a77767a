"""Import, export, vCard, duplicates and merge pages: full pages, partials, status codes."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import Contact, ContactMerge, ImportJob, ImportStatus
from tests import factories

CSV = "First name;Last name;Email;Phone\nAnn;Lee;ann@example.com;555-123-4567\nBad;Row;nope;\n"


@pytest.fixture
def team(owner):
    return factories.team_of(owner)


def _upload(client, content: bytes = CSV.encode(), name="people.csv"):
    return client.post(
        "/contacts/import",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_upload_page(logged_in):
    response = logged_in.get("/contacts/import")
    assert response.status_code == 200
    assert b'<label for="file">CSV or vCard file</label>' in response.data


def test_upload_then_map_with_a_preview(logged_in, team):
    response = _upload(logged_in)
    assert response.status_code == 303
    job = db.session.scalars(select(ImportJob)).one()
    assert response.headers["Location"] == f"/contacts/import/{job.id}"
    page = logged_in.get(f"/contacts/import/{job.id}").get_data(as_text=True)
    assert 'id="column-0"' in page and '<label for="column-0">Column “First name”</label>' in page
    assert '<option value="email" selected>' in page
    assert "ann@example.com" in page  # the preview of the first rows


def test_an_unreadable_upload_shows_the_error_on_the_field(logged_in):
    response = _upload(logged_in, b"")
    assert response.status_code == 422
    assert b'id="file-error"' in response.data


def test_start_a_dry_run_then_the_import_then_revert(logged_in, team, run_jobs, htmx_headers):
    _upload(logged_in)
    job = db.session.scalars(select(ImportJob)).one()
    form = {
        "column-0": "first_name",
        "column-1": "last_name",
        "column-2": "email",
        "column-3": "phone",
        "policy": "skip",
        "dry_run": "y",
    }
    response = logged_in.post(f"/contacts/import/{job.id}/start", data=form, headers=htmx_headers)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/contacts/import/{job.id}"
    assert json.loads(response.headers["HX-Trigger"]) == {"import-started": {"id": job.id}}

    # While queued, the status partial polls itself.
    partial = logged_in.get(f"/contacts/import/{job.id}", headers=htmx_headers)
    text = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in text
    assert f'id="import-{job.id}"' in text and 'hx-trigger="every 1s"' in text
    assert "<progress" in text

    run_jobs()
    db.session.rollback()  # the worker committed in its own session
    text = logged_in.get(f"/contacts/import/{job.id}", headers=htmx_headers).get_data(as_text=True)
    assert "Dry run: nothing was written" in text and "every 1s" not in text
    assert '<dd data-count="created">1</dd>' in text and '<dd data-count="errors">1</dd>' in text
    assert db.session.scalars(select(Contact)).all() == []

    form.pop("dry_run")
    response = logged_in.post(f"/contacts/import/{job.id}/start", data=form)
    assert response.status_code == 303
    run_jobs()
    db.session.rollback()  # the worker committed in its own session
    assert [c.first_name for c in db.session.scalars(select(Contact))] == ["Ann"]

    report = logged_in.get(f"/contacts/import/{job.id}/errors.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert "nope" in report.get_data(as_text=True)

    response = logged_in.post(f"/contacts/import/{job.id}/revert", headers=htmx_headers)
    assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True)
    assert json.loads(response.headers["HX-Trigger"])["import-reverted"]["removed"] == 1
    db.session.expire_all()
    assert db.session.scalars(select(Contact)).all() == []
    assert db.session.get(ImportJob, job.id).status == ImportStatus.REVERTED


def test_a_mapping_without_a_name_or_email_is_refused(logged_in, team):
    _upload(logged_in)
    job = db.session.scalars(select(ImportJob)).one()
    response = logged_in.post(
        f"/contacts/import/{job.id}/start", data={"column-3": "phone", "policy": "skip"}
    )
    assert response.status_code == 422
    assert b"Map at least a name or an email column." in response.data
    assert db.session.get(ImportJob, job.id).status == ImportStatus.MAPPING


def test_export_csv(logged_in, team):
    factories.make_contact(team, first_name="=cmd|' /C calc'!A0", email="x@example.com")
    response = logged_in.get("/contacts/export.csv?sort=name")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="contacts.csv"'
    text = response.get_data(as_text=True)
    assert "\n'=cmd|' /C calc'!A0," in text


def test_export_link_of_a_filtered_list_exports_that_list(logged_in, team, owner):
    from crm.contacts import services as contacts

    vip = factories.make_contact(team, first_name="Vera", last_name="Vip")
    factories.make_contact(team, first_name="Otto", last_name="Other")
    contacts.update_contact(vip, owner.id, {"tags": ["vip"], "owner_id": owner.id})
    tag_id = vip.tags[0].id
    page = logged_in.get(f"/contacts?tag={tag_id}&sort=newest").get_data(as_text=True)
    assert f"/contacts/export.csv?tag={tag_id}&amp;sort=newest" in page
    text = logged_in.get(f"/contacts/export.csv?tag={tag_id}&sort=newest").get_data(as_text=True)
    assert "Vera" in text and "Otto" not in text
    text = logged_in.get("/contacts/export.csv?owner=0").get_data(as_text=True)
    assert "Otto" in text and "Vera" not in text


def test_vcard_download(logged_in, team):
    ann = factories.make_contact(team, first_name="Ann", last_name="Lee")
    response = logged_in.get(f"/contacts/{ann.id}/vcard")
    assert response.status_code == 200 and response.mimetype == "text/vcard"
    assert 'filename="Ann Lee.vcf"' in response.headers["Content-Disposition"]
    assert "FN:Ann Lee" in response.get_data(as_text=True)


def test_vcard_of_a_name_outside_latin_1(logged_in, team):
    zhang = factories.make_contact(team, first_name="伟", last_name="张")
    response = logged_in.get(f"/contacts/{zhang.id}/vcard")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition == (
        "attachment; filename=\"contact.vcf\"; filename*=UTF-8''%E4%BC%9F%20%E5%BC%A0.vcf"
    )
    assert "FN:伟 张" in response.get_data(as_text=True)
    jose = factories.make_contact(team, first_name="José", last_name="Ruiz")
    disposition = logged_in.get(f"/contacts/{jose.id}/vcard").headers["Content-Disposition"]
    assert 'filename="Jose Ruiz.vcf"' in disposition and "Jos%C3%A9%20Ruiz.vcf" in disposition


def test_duplicates_of_a_contact_page_and_partial(logged_in, team, htmx_headers):
    acme = factories.make_company(team, name="Acme")
    ann = factories.make_contact(team, first_name="Ann", last_name="Lee", company=acme)
    twin = factories.make_contact(team, first_name="Anne", last_name="Lee", company=acme)
    same = factories.make_contact(team, first_name="Ann", last_name="Lee", company=acme)
    page = logged_in.get(f"/contacts/{ann.id}/duplicates").get_data(as_text=True)
    assert "<html" in page and f"/contacts/{ann.id}/merge/{twin.id}" in page
    partial = logged_in.get(f"/contacts/{ann.id}/duplicates", headers=htmx_headers)
    text = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in text
    assert f'id="duplicates-{ann.id}"' in text
    pairs = logged_in.get("/contacts/duplicates").get_data(as_text=True)
    assert (
        f"/contacts/{ann.id}/merge/{same.id}" in pairs
    )  # the exact twin; similar ones per contact


def test_merge_screen_merge_and_undo(logged_in, team, htmx_headers):
    ann = factories.make_contact(team, first_name="Ann", last_name="Lee", title=None)
    twin = factories.make_contact(team, first_name="Anne", last_name="Lee", title="CEO")
    page = logged_in.get(f"/contacts/{ann.id}/merge/{twin.id}").get_data(as_text=True)
    assert '<input checked id="field_title-1" name="field_title"' in page  # fill the gap
    assert "Moves over from Anne Lee" in page
    response = logged_in.post(
        f"/contacts/{ann.id}/merge/{twin.id}",
        data={"field_first_name": "kept", "field_title": "other"},
    )
    assert response.status_code == 303
    record = db.session.scalars(select(ContactMerge)).one()
    assert response.headers["Location"] == f"/contacts/merges/{record.id}"
    db.session.expire_all()
    assert db.session.get(Contact, ann.id).title == "CEO"
    assert db.session.get(Contact, twin.id).deleted_at is not None

    response = logged_in.post(f"/contacts/merges/{record.id}/undo", headers=htmx_headers)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in text
    assert f'id="merge-{record.id}"' in text and "Merge undone" in text
    assert json.loads(response.headers["HX-Trigger"]) == {
        "merge-undone": {"kept": ann.id, "restored": twin.id}
    }
    db.session.expire_all()
    assert db.session.get(Contact, twin.id).deleted_at is None
    assert db.session.get(Contact, ann.id).title is None


def test_merging_a_contact_from_another_team_is_404(logged_in, team):
    ann = factories.make_contact(team)
    stranger = factories.make_contact(factories.team_of(factories.make_user()))
    assert logged_in.get(f"/contacts/{ann.id}/merge/{stranger.id}").status_code == 404
    assert logged_in.post(f"/contacts/{ann.id}/merge/{stranger.id}").status_code == 404


def test_only_the_importer_or_an_admin_can_revert(client, auth, owner, team, run_jobs):
    from crm.imports import services

    job = factories.make_import(team, owner)
    services.start(job, job.mapping, "skip", False)
    run_jobs()
    member = factories.make_member(team)
    auth.login(member.email)
    response = client.post(f"/contacts/import/{job.id}/revert")
    assert response.status_code == 403
    db.session.rollback()
    assert db.session.get(ImportJob, job.id).status == ImportStatus.DONE


def test_a_second_copy_of_the_job_does_nothing(team, owner, run_jobs):
    from crm.imports import runner, services

    job = factories.make_import(team, owner)
    services.start(job, job.mapping, "skip", False)
    run_jobs()
    db.session.rollback()
    job = db.session.get(ImportJob, job.id)
    job.status = ImportStatus.QUEUED  # as if the sweep raced a finishing worker
    db.session.commit()
    assert runner.run(job.id).startswith("1 created")
    assert runner.run(job.id) == "nothing to do"
    assert len(db.session.scalars(select(Contact)).all()) == 1


def test_undoing_a_merge_says_which_later_edits_it_kept(logged_in, team, htmx_headers):
    ann = factories.make_contact(team, first_name="Ann", last_name="Lee", title=None)
    twin = factories.make_contact(team, first_name="Anne", last_name="Lee", title="CEO")
    logged_in.post(f"/contacts/{ann.id}/merge/{twin.id}", data={"field_title": "other"})
    record = db.session.scalars(select(ContactMerge)).one()
    db.session.get(Contact, ann.id).title = "Founder"  # edited after the merge
    db.session.commit()
    response = logged_in.post(f"/contacts/merges/{record.id}/undo", headers=htmx_headers)
    assert "edited after the merge: Title." in response.get_data(as_text=True)
    page = logged_in.get(f"/contacts/merges/{record.id}").get_data(as_text=True)
    assert "edited after the merge: Title." in page
    db.session.expire_all()
    assert db.session.get(Contact, ann.id).title == "Founder"


def test_reverting_an_import_says_which_later_edits_it_kept(
    logged_in, team, owner, run_jobs, htmx_headers
):
    from crm.imports import services as imports

    ann = factories.make_contact(team, first_name="Ann", last_name="Lee", email="ann@example.com")
    raw = b"name,email,title,company\nAnn Lee,ann@example.com,CTO,\nBo Ray,bo@example.com,,Bo Co\n"
    job = imports.create_import(team.id, owner.id, "people.csv", raw)
    imports.start(job, job.mapping, "update", False)
    run_jobs()
    db.session.expire_all()
    db.session.get(Contact, ann.id).title = "CEO"  # edited after the import
    db.session.commit()
    response = logged_in.post(f"/contacts/import/{job.id}/revert", headers=htmx_headers)
    text = response.get_data(as_text=True)
    assert "Ann Lee kept what was edited after the import: Title." in text
    assert "companies it created: 1 removed, 0 moved to the trash" in text


def test_a_failed_import_shows_why_it_stopped(logged_in, team, owner, run_jobs):
    from crm.imports import services as imports

    job = imports.create_import(team.id, owner.id, "people.csv", b"name\nAnn\n")
    imports.start(job, job.mapping, "skip", False)
    job.content = ""  # the stored file went missing
    db.session.commit()
    run_jobs()
    text = logged_in.get(f"/contacts/import/{job.id}").get_data(as_text=True)
    assert "The import stopped: The file is empty." in text
