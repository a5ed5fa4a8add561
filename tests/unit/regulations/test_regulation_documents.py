"""Search documents built from the database, and the change log feeding the index."""

import datetime as dt

from sqlalchemy import select

from portal.regulations.documents import RegulationDocumentProvider, keys_of_version
from portal.regulations.models import RegulationVersion
from portal.regulations.parsing import parse_regulation_text
from portal.regulations.versions import ImportMetadata, RegulationImporter, build_metadata
from portal.search.interfaces import IDocumentProvider
from portal.search.models import SearchChange

from .texts import ROAD_V1, ROAD_V2


def _import(session, text, **options):
    parsed = parse_regulation_text(text)
    return RegulationImporter(session).import_text(
        parsed, build_metadata(parsed, None, ImportMetadata(**options) if options else None))


def test_provider_contract():
    assert IDocumentProvider.providedBy(RegulationDocumentProvider())


def test_documents_of_a_regulation_and_its_articles(dbsession):
    provider = RegulationDocumentProvider()
    # The test database may hold other tests' committed regulations: count relatively.
    articles_before = provider.count(dbsession, "article")
    regulations_before = provider.count(dbsession, "regulation")
    regulation = _import(dbsession, ROAD_V1).regulation
    [doc] = provider.documents(dbsession, "regulation", [str(regulation.id)])
    everything = list(provider.documents(dbsession, "regulation", None))
    assert str(regulation.id) in {d.doc_id for d in everything}
    assert doc.doc_id == str(regulation.id)
    assert doc.title == "青石市街巷管理条例"
    assert doc.url == f"/regulations/{regulation.id}"
    assert (doc.level, doc.status, doc.region) == ("地方性法规", "现行有效", "青石市")
    assert "第二章 井盖" in doc.body
    assert doc.valid_from == dt.date(2001, 5, 1) and doc.valid_to is None
    articles = [d for d in provider.documents(dbsession, "article", None) if d.regulation_id == regulation.id]
    assert [a.article_label for a in articles] == ["第一条", "第二条", "第三条", "第四条", "第五条"]
    third = articles[2]
    assert third.doc_id == f"{regulation.id}-3"
    assert third.title == "青石市街巷管理条例 第三条"
    assert third.url == f"/regulations/{regulation.id}/articles/3"
    assert third.regulation_id == regulation.id and third.regulation_title == "青石市街巷管理条例"
    assert third.article_number == 3 and third.chapter == "第二章 井盖"
    assert "两小时" in third.body
    assert provider.count(dbsession, "article") == articles_before + 5
    assert provider.count(dbsession, "regulation") == regulations_before + 1


def test_the_text_in_force_today_is_indexed_and_ids_survive_new_versions(dbsession):
    regulation = _import(dbsession, ROAD_V1).regulation
    _import(dbsession, ROAD_V2)
    provider = RegulationDocumentProvider()
    ids = {d.doc_id: d for d in provider.documents(dbsession, "article", None) if d.regulation_id == regulation.id}
    current = {f"{regulation.id}-{n}" for n in ("1", "2", "3", "3-1", "4", "5")}
    older = {f"{regulation.id}-{n}@1" for n in ("1", "2", "3", "4", "5")}
    assert set(ids) == current | older
    assert ids[f"{regulation.id}-3-1"].article_label == "第三条之一"
    assert ids[f"{regulation.id}-3-1"].url.endswith("/articles/3-1")
    assert "一小时" in ids[f"{regulation.id}-3"].body
    # The older text is indexed too, for searches of a past date: valid until the amendment took
    # effect, linked as it stood, and never taken for the text in force.
    amended = dt.date(2015, 6, 1)
    old_third = ids[f"{regulation.id}-3@1"]
    assert "两小时" in old_third.body and old_third.status == "历史版本"
    assert (old_third.valid_from, old_third.valid_to) == (dt.date(2001, 5, 1), amended - dt.timedelta(days=1))
    assert old_third.url == f"/regulations/{regulation.id}/articles/3?at=2001-05-01"
    assert old_third.extra["historical"] == "1"
    assert (ids[f"{regulation.id}-3"].valid_from, ids[f"{regulation.id}-3"].valid_to) == (amended, None)
    assert provider.count(dbsession, "article") >= len(current | older)
    # On a day before the amendment, the older text is the one in force.
    old = RegulationDocumentProvider(today=lambda: dt.date(2010, 1, 1))
    assert "两小时" in next(old.documents(dbsession, "article", [f"{regulation.id}-3"])).body
    assert list(old.documents(dbsession, "article", [f"{regulation.id}-3-1"])) == []
    # ... and then the amendment is the text still to come
    [coming] = old.documents(dbsession, "article", [f"{regulation.id}-3-1@2"])
    assert coming.status == "尚未生效" and coming.valid_from == dt.date(2015, 6, 1)


def test_selected_and_unknown_ids(dbsession):
    regulation = _import(dbsession, ROAD_V1).regulation
    provider = RegulationDocumentProvider()
    assert [d.doc_id for d in provider.documents(dbsession, "article", [f"{regulation.id}-2", "junk", "9-9-9-9"])] == [
        f"{regulation.id}-2"]
    assert list(provider.documents(dbsession, "article", ["999999-1"])) == []
    assert list(provider.documents(dbsession, "regulation", ["999999", "x"])) == []


def test_changes_are_logged_for_the_index(app, dbsession):
    # The app factory registers the models as search sources (config.add_search_source).
    regulation = _import(dbsession, ROAD_V1).regulation
    dbsession.flush()
    logged = {(c.doc_type, c.doc_id) for c in dbsession.scalars(select(SearchChange))}
    assert ("regulation", str(regulation.id)) in logged
    assert ("article", f"{regulation.id}-3") in logged
    version = dbsession.scalars(select(RegulationVersion)).one()
    assert {("article", f"{regulation.id}-5"), ("article", f"{regulation.id}-5@1")} <= set(keys_of_version(version))


def test_documents_that_change_with_the_date_are_named_for_the_daily_refresh(dbsession):
    regulation = _import(dbsession, ROAD_V1).regulation
    _import(dbsession, ROAD_V2)  # in force from 2015-06-01
    provider = RegulationDocumentProvider()

    def changed(doc_type, after, through):
        return {i for i in provider.changed_by_date(dbsession, doc_type, after, through)
                if i.split("-")[0] == str(regulation.id)}

    amended = changed("article", dt.date(2015, 5, 31), dt.date(2015, 6, 2))
    assert {f"{regulation.id}-3", f"{regulation.id}-3-1", f"{regulation.id}-3@1", f"{regulation.id}-3-1@2"} <= amended
    assert changed("regulation", dt.date(2001, 4, 30), dt.date(2001, 5, 1)) == {str(regulation.id)}  # took effect
    assert changed("article", dt.date(2016, 1, 1), dt.date(2016, 12, 31)) == set()  # nothing happened that year
