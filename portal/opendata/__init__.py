"""Open data (开放数据): the dataset catalogue, streamed bulk exports, and the API conventions.

- ``/opendata/`` lists every registered dataset (licence, publisher, last update, rows, update
  frequency, schema); ``/opendata/catalog.jsonld`` (DCAT) and ``/opendata/datapackage.json``
  (Frictionless) describe them for machines;
- ``/opendata/{name}.csv|.jsonl|.geojson`` stream them (ETag / 304, gzip, ``?bom=1``,
  ``?updated_since=``); ``portal opendata build`` writes the same bytes to files for a CDN;
- ``/developers``: keys, examples, rate limits and the change policy;
- conventions for /api/v1/ (``fields=``, ``next`` links, CORS): :mod:`portal.opendata.conventions`.

Datasets are registered by the domains that own them (``config.add_opendata_dataset``, see
:mod:`portal.opendata.registry`).
"""

from __future__ import annotations

from typing import Any


def add_openapi_hook(config: Any, hook: Any) -> None:
    config.registry.setdefault("portal.openapi_hooks", []).append(hook)


def _error_format(request: Any, info: Any) -> Any:
    # Machines fetch the files and catalogues: they get the API's JSON envelope; people reading
    # the catalogue page get the friendly HTML page.
    from portal.errors import api_error_response, html_error_response

    if request.path_info.rstrip("/") == "/opendata":
        return html_error_response(request, info)
    return api_error_response(request, info)


def includeme(config: Any) -> None:

    from portal.opendata.conventions import api_conventions_deriver, document_conventions
    from portal.opendata.interfaces import IOpenDataService
    from portal.opendata.services import opendata_service_factory

    config.add_route("opendata.index", "/opendata/")
    config.add_route("opendata.index_noslash", "/opendata")
    config.add_route("opendata.catalog", "/opendata/catalog.jsonld")
    config.add_route("opendata.datapackage", "/opendata/datapackage.json")
    config.add_route("opendata.export", r"/opendata/{name:[a-z0-9][a-z0-9-]*}.{format:csv|jsonl|geojson}")
    config.add_route("developers", "/developers")
    config.register_service_factory(opendata_service_factory, IOpenDataService)
    config.add_error_format("/opendata/", _error_format)
    # Under the renderer: the deriver sees the dict a view returns, before it becomes JSON.
    config.add_view_deriver(api_conventions_deriver, name="api_conventions", under="rendered_view",
                            over="mapped_view")
    config.add_tween("portal.opendata.conventions.cors_tween_factory", under="portal.logs.access_log_tween_factory")
    config.add_directive("add_openapi_hook", add_openapi_hook)
    config.add_openapi_hook(document_conventions)
    config.add_portal_section("opendata.index", "开放数据",
                              "权责清单、法规目录、公开案件等数据集的批量下载（CSV、JSON Lines、GeoJSON）与开发者接口说明。",
                              order=80)
