"""The OpenAPI contract at /api/schema/: a valid document, complete (every routed /api/ endpoint with
its methods), true to the msgspec ingestion contract and to what the endpoints really answer."""

import copy
import inspect
import json
import re
from urllib.parse import urlparse

import msgspec
import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_openapi
from rest_framework.views import APIView

from apps_registry import keys, links
from events.ingestion.schema import Event
from tests.factories import AppFactory, UserFactory, bearer, grant

pytestmark = pytest.mark.django_db

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
SCHEMA_PATH = "/api/schema/"
# jsonschema checks "uri" only with an optional package; without a check, "" would be a URI too.
FORMATS = FormatChecker()
FORMATS.checks("uri")(lambda value: not isinstance(value, str) or bool(urlparse(value).scheme))


@pytest.fixture
def schema(client) -> dict:
    response = client.get(SCHEMA_PATH, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def validator(schema: dict, subschema: dict, *, strict: bool = False) -> Draft202012Validator:
    """A JSON Schema validator for ``subschema`` whose $refs resolve into the document's components.
    ``strict``: objects may not carry properties the document does not name."""
    components = copy.deepcopy(schema["components"])
    if strict:
        _forbid_undocumented_properties(components)
    return Draft202012Validator({**subschema, "components": components}, format_checker=FORMATS)


def _forbid_undocumented_properties(node) -> None:
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _forbid_undocumented_properties(value)
    elif isinstance(node, list):
        for value in node:
            _forbid_undocumented_properties(value)


def api_key_for_new_app() -> str:
    app = AppFactory()
    _, raw_key = keys.api_key_create(app=app, created_by=app.owner)
    return raw_key


# --- the document ---------------------------------------------------------------------------------


def test_the_schema_is_a_valid_openapi_3_1_document(schema):
    validate_openapi(schema)
    assert schema["openapi"].startswith("3.1")
    assert schema["info"]["title"] == "UnMoGrowP API"
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["apiKeyHeader"] == {**schemes["apiKeyHeader"], "type": "apiKey", "in": "header", "name": "X-Api-Key"}


def test_the_schema_is_public_and_served_as_yaml_too(client):
    anonymous = client.get(SCHEMA_PATH, HTTP_ACCEPT="application/vnd.oai.openapi")
    assert anonymous.status_code == 200
    assert yaml.safe_load(anonymous.content)["paths"]["/api/events"]["post"]["operationId"] == "ingest_events"
    # A stale or forged token does not matter: the schema documents shapes, never data.
    forged = client.get(f"{SCHEMA_PATH}?format=json", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert forged.status_code == 200
    assert json.loads(forged.content)["openapi"].startswith("3.1")


def test_generation_has_no_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert yaml.safe_load((tmp_path / "schema.yaml").read_text())["paths"]


# --- completeness -------------------------------------------------------------------------------------


def _routes(resolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def _methods(route: str, callback) -> set[str]:
    """The methods Django can serve on this route: a DRF view's handlers that take exactly the
    route's parameters; for a plain view, those it does not answer with 405."""
    parameters = set(re.findall(r"<(?:\w+:)?(\w+)>", route))
    view_class = getattr(callback, "cls", None)
    if view_class is not None and issubclass(view_class, APIView):
        return {
            method
            for method in HTTP_METHODS
            if hasattr(view_class, method)
            and set(list(inspect.signature(getattr(view_class, method)).parameters)[2:]) == parameters
        }
    url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", "x", route)
    return {method for method in HTTP_METHODS if Client().generic(method.upper(), url).status_code != 405}


def routed_api_endpoints() -> dict[str, set[str]]:
    endpoints = {}
    for route, callback in _routes(get_resolver()):
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        if path.startswith("/api/") and path != SCHEMA_PATH:
            endpoints[path] = _methods(route, callback)
    return endpoints


def test_every_routed_api_endpoint_is_documented_with_its_methods(schema):
    routed = routed_api_endpoints()
    assert {"/api/events", "/api/touchpoints", "/api/apps/{app_id}/links/{link_id}"} <= set(routed)
    documented = {
        path: {method for method in operations if method in HTTP_METHODS}
        for path, operations in schema["paths"].items()
    }
    missing = {path: methods - documented.get(path, set()) for path, methods in routed.items()}
    assert {path: methods for path, methods in missing.items() if methods} == {}
    assert all(methods for methods in routed.values()), routed
    assert documented["/c/{code}"] == documented["/i/{code}"] == {"get"}


def test_every_drf_operation_documents_its_errors_as_application_errors(schema):
    error_ref = {"$ref": "#/components/schemas/ApplicationError"}
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/") or path in ("/api/events", "/api/touchpoints"):
            continue
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith("4")}
            assert "429" in errors, f"{method} {path}"
            if operation.get("security"):
                assert "401" in errors, f"{method} {path}"
            if "{" in path:
                assert "404" in errors, f"{method} {path}"
            for code, response in errors.items():
                assert response["content"]["application/json"]["schema"] == error_ref, f"{method} {path} {code}"


def test_path_ids_are_typed_as_uuids(schema):
    for path in ("/api/apps/{app_id}/keys/{key_id}/rotate", "/api/admin/users/{user_id}/apps/{app_id}"):
        parameters = {
            p["name"]: p["schema"] for p in schema["paths"][path]["post" if "rotate" in path else "put"]["parameters"]
        }
        assert all(parameters[name] == {"type": "string", "format": "uuid"} for name in re.findall(r"{(\w+)}", path))


# --- the ingestion contract ---------------------------------------------------------------------------


def test_the_event_schema_is_generated_from_the_msgspec_contract(schema):
    documented = schema["components"]["schemas"]["Event"]
    _, generated = msgspec.json.schema_components((Event,), ref_template="#/components/schemas/{name}")
    for name, field in generated["Event"]["properties"].items():
        assert {k: v for k, v in documented["properties"][name].items() if k != "description"} == field
    assert documented["required"] == ["event_name"]
    assert documented["additionalProperties"] is False
    event_id = documented["properties"]["event_id"]["anyOf"]
    assert {"type": "string", "format": "uuid"} in event_id
    assert {"minLength": 1, "maxLength": 64}.items() <= documented["properties"]["event_name"].items()
    assert documented["properties"]["properties"]["maxProperties"] == 50
    events = schema["components"]["schemas"]["EventBatch"]["properties"]["events"]
    assert events == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Event"},
        "minItems": 1,
        "maxItems": settings.INGEST_MAX_EVENTS_PER_BATCH,
    }


def test_the_ingestion_operations_document_headers_and_every_answer(schema):
    operation = schema["paths"]["/api/events"]["post"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"X-Ump-Timestamp", "X-Ump-Signature", "Content-Encoding"}
    assert {"apiKeyHeader": []} in operation["security"]
    assert set(operation["responses"]) == {"202", "400", "401", "409", "413", "429", "503"}
    assert "Retry-After" in operation["responses"]["503"]["headers"]
    assert "curl" in operation["description"]
    click = schema["paths"]["/c/{code}"]["get"]["responses"]
    assert "Location" in click["302"]["headers"]
    assert "image/gif" in schema["paths"]["/i/{code}"]["get"]["responses"]["200"]["content"]


def test_the_documented_example_batch_is_accepted_by_the_endpoint(schema, client):
    operation = schema["paths"]["/api/events"]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    example = content["examples"]["batch"]["value"]
    validator(schema, content["schema"]).validate(example)

    response = client.post(
        "/api/events", data=json.dumps(example), content_type="application/json", HTTP_X_API_KEY=api_key_for_new_app()
    )

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == len(example["events"]) and body["rejected"] == []
    validator(schema, operation["responses"]["202"]["content"]["application/json"]["schema"], strict=True).validate(
        body
    )


@pytest.mark.parametrize(
    "bad_event",
    [
        {"event_name": "install", "event_id": "not-a-uuid"},
        {"event_name": ""},
        {"event_name": "x" * 65},
        {"platform": "ios"},
        {"event_name": "install", "unknown_field": 1},
        {"event_name": "purchase", "currency": "euro"},
        {"event_name": "install", "properties": {f"p{i}": i for i in range(51)}},
    ],
)
def test_an_event_the_schema_refuses_is_rejected_by_index(schema, client, bad_event):
    good = {"event_name": "open"}
    event_schema = {"$ref": "#/components/schemas/Event"}
    assert validator(schema, event_schema).is_valid(good)
    assert not validator(schema, event_schema).is_valid(bad_event)

    response = client.post(
        "/api/events",
        data=json.dumps({"events": [good, bad_event]}),
        content_type="application/json",
        HTTP_X_API_KEY=api_key_for_new_app(),
    )

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == [1] and body["rejected"][0]["reason"]
    result_schema = schema["paths"]["/api/events"]["post"]["responses"]["202"]["content"]["application/json"]["schema"]
    validator(schema, result_schema, strict=True).validate(body)


def test_ingestion_errors_have_the_documented_shape(schema, client):
    response = client.post("/api/events", data="{}", content_type="application/json", HTTP_X_API_KEY="ump_wrong")
    assert response.status_code == 401
    documented = schema["paths"]["/api/events"]["post"]["responses"]["401"]["content"]["application/json"]["schema"]
    validator(schema, documented, strict=True).validate(response.json())


# --- the DRF APIs answer what the schema says -------------------------------------------------------


def _documented_response_schema(schema: dict, method: str, path: str, status: int) -> dict:
    def pattern(template: str) -> str:
        return "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"({\w+})", template))

    matching = [t for t in schema["paths"] if re.fullmatch(pattern(t), path.split("?")[0])]
    template = min(matching, key=lambda t: t.count("{"))  # /api/apps/create before /api/apps/{app_id}
    response = schema["paths"][template][method.lower()]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def test_real_responses_match_the_documented_shapes(schema):
    admin = UserFactory(role="admin")
    user = UserFactory(role="user")
    app = AppFactory(owner=admin)
    grant(user, app, "view_app", "view_analytics")
    key, _ = keys.api_key_create(app=app, created_by=admin)
    link = links.link_create(app=app, created_by=admin, name="l", media_source="meta", web_url="https://example.com/")
    calls = [
        ("GET", "/api/auth/me", None, 200),
        ("GET", "/api/apps/", None, 200),
        ("GET", f"/api/apps/{app.id}", None, 200),
        ("PATCH", f"/api/apps/{app.id}", {"name": "Renamed"}, 200),
        ("GET", f"/api/apps/{app.id}/keys", None, 200),
        ("POST", f"/api/apps/{app.id}/keys", {"name": "sdk"}, 201),
        ("POST", f"/api/apps/{app.id}/keys/{key.id}/rotate", {"overlap_hours": 1}, 201),
        ("POST", f"/api/apps/{app.id}/signing-secret/rotate", None, 201),
        ("PATCH", f"/api/apps/{app.id}/settings", {"click_lookback_hours": 48}, 200),
        ("GET", f"/api/apps/{app.id}/settings/history", None, 200),
        ("GET", f"/api/apps/{app.id}/links", None, 200),
        ("GET", f"/api/apps/{app.id}/links/{link.id}", None, 200),
        (
            "POST",
            f"/api/apps/{app.id}/costs",
            {"csv": "date,source,campaign,currency,cost\n2026-11-01,meta,c,EUR,1\n"},
            200,
        ),
        ("GET", f"/api/apps/{app.id}/costs", None, 200),
        ("GET", f"/api/dashboard/stats?app_id={app.id}", None, 200),
        ("GET", f"/api/analytics/events?app_id={app.id}", None, 200),
        ("GET", f"/api/analytics/overview?app_id={app.id}&days=30", None, 200),
        ("GET", f"/api/analytics/series?app_id={app.id}&interval=week&country=DE", None, 200),
        (
            "GET",
            f"/api/analytics/campaigns?app_id={app.id}&level=ad&date_from=2026-11-01&date_to=2026-11-30",
            None,
            200,
        ),
        ("GET", f"/api/analytics/campaigns?app_id={app.id}&country=de", None, 400),
        ("GET", f"/api/analytics/models?app_id={app.id}", None, 200),
        ("GET", f"/api/analytics/fraud?app_id={app.id}&platform=ios", None, 200),
        ("GET", f"/api/analytics/click-to-install?app_id={app.id}", None, 200),
        ("GET", f"/api/analytics/cohorts?app_id={app.id}&granularity=week&split=campaign", None, 200),
        ("GET", f"/api/analytics/cohorts?app_id={app.id}&split=month", None, 400),
        ("GET", f"/api/analytics/ltv?app_id={app.id}&days=30&horizon=7", None, 200),
        ("GET", f"/api/analytics/funnel?app_id={app.id}&steps=install,sign_up&split=source", None, 200),
        ("GET", f"/api/analytics/funnel?app_id={app.id}&steps=sign_up,install", None, 400),
        ("GET", f"/api/analytics/explorer?app_id={app.id}&limit=500", None, 200),
        ("GET", f"/api/analytics/explorer?app_id={app.id}&limit=501", None, 400),
        ("GET", "/api/admin/users", None, 200),
        ("POST", f"/api/admin/users/{user.id}/roles", {"role": "readonly"}, 200),
        ("POST", "/api/admin/invitations", {"email": "new@example.com", "role": "user"}, 201),
        ("GET", "/api/admin/security-events", None, 200),
        ("POST", f"/api/admin/apps/{app.id}/subjects/export", {"kind": "idfa", "value": "d"}, 200),
        ("POST", f"/api/admin/apps/{app.id}/subjects/erasure", {"kind": "user", "value": "u"}, 202),
        ("GET", f"/api/admin/apps/{app.id}/subject-requests", None, 200),
        ("POST", f"/api/admin/apps/{app.id}/opt-outs", {"kind": "user", "value": "u"}, 201),
        ("GET", f"/api/admin/apps/{app.id}/opt-outs", None, 200),
        ("POST", f"/api/admin/apps/{app.id}/opt-outs", {"kind": "user", "value": "u"}, 409),
        ("POST", f"/api/admin/apps/{app.id}/subjects/erasure", {"kind": "user"}, 400),
        ("GET", "/api/apps/00000000-0000-4000-8000-000000000000", None, 404),
        ("POST", "/api/apps/create", {}, 400),
    ]
    for method, path, body, status in calls:
        data = None if body is None else json.dumps(body)
        response = Client().generic(method, path, data=data or "", content_type="application/json", **bearer(admin))
        assert response.status_code == status, (method, path, response.content)
        documented = _documented_response_schema(schema, method, path, status)
        errors = sorted(validator(schema, documented, strict=True).iter_errors(response.json()), key=str)
        assert not errors, (method, path, [f"{list(e.absolute_path)}: {e.message}" for e in errors])
    unauthenticated = Client().get("/api/auth/me")
    validator(schema, _documented_response_schema(schema, "GET", "/api/auth/me", 401), strict=True).validate(
        unauthenticated.json()
    )


def test_the_registration_answer_has_the_documented_shape_for_a_taken_and_a_free_email(schema, settings):
    settings.REGISTRATION_POLICY = "open"
    UserFactory(email="taken@example.com")
    documented = _documented_response_schema(schema, "POST", "/api/auth/register", 202)
    for email in ("taken@example.com", "free@example.com"):
        body = json.dumps({"email": email, "password": "a sensible passphrase"})
        response = Client().post("/api/auth/register", body, content_type="application/json")
        assert response.status_code == 202, response.content
        validator(schema, documented, strict=True).validate(response.json())
