from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import ValidationError

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.http_request import HttpRequestConfig, redact_url
from tests.servers import Reply


async def test_get_json(harness, http_server):
    http_server.route("/items", Reply(json={"items": [1, 2]}, headers={"X-Count": "2"}), method="GET")
    result = await harness.run("http_request", {"url": http_server.url_for("/items")})
    out = result.outputs["out"]
    assert out["status"] == 200
    assert out["body"] == {"items": [1, 2]}
    assert out["headers"]["x-count"] == "2"
    assert out["headers"]["content-type"].startswith("application/json")
    assert http_server.requests[0].method == "GET"


async def test_post_json(harness, http_server):
    cfg = {"method": "post", "url": http_server.url_for("/echo"), "json": {"name": "ü", "n": [1, None]}}
    out = (await harness.run("http_request", cfg)).outputs["out"]
    (req,) = http_server.requests
    assert req.method == "POST"
    assert req.json() == {"name": "ü", "n": [1, None]}
    assert req.header("content-type") == "application/json"
    assert out["body"]["json"] == {"name": "ü", "n": [1, None]}


async def test_json_null_scalar_and_list_bodies(harness, http_server):
    for payload in ([1, 2], 0, False, "text"):
        await harness.run("http_request", {"method": "PUT", "url": http_server.url_for("/echo"), "json": payload})
    assert [r.json() for r in http_server.requests] == [[1, 2], 0, False, "text"]


async def test_post_raw_body(harness, http_server):
    cfg = {
        "method": "POST",
        "url": http_server.url_for("/echo"),
        "body": "a,b\n1,2\n",
        "headers": {"Content-Type": "text/csv"},
    }
    await harness.run("http_request", cfg)
    (req,) = http_server.requests
    assert req.body == b"a,b\n1,2\n"
    assert req.header("content-type") == "text/csv"


async def test_headers_and_query_are_sent(harness, http_server):
    cfg = {
        "url": http_server.url_for("/echo?fixed=1"),
        "headers": {"X-Trace": "t-1", "X-Num": 5},
        "query": {"q": "a b&c", "n": 2, "flag": True, "multi": ["x", "y"], "skip": None},
    }
    await harness.run("http_request", cfg)
    (req,) = http_server.requests
    assert req.header("x-trace") == "t-1" and req.header("x-num") == "5"
    assert req.query_items == [("fixed", "1"), ("q", "a b&c"), ("n", "2"), ("flag", "true"),
                               ("multi", "x"), ("multi", "y")]
    assert req.header("user-agent").startswith("ProcessEngine/")


async def test_text_response_stays_text(harness, http_server):
    http_server.route("/page", Reply(text="<h1>hi</h1>", content_type="text/html"))
    out = (await harness.run("http_request", {"url": http_server.url_for("/page")})).outputs["out"]
    assert out["body"] == "<h1>hi</h1>"


async def test_vendor_json_is_parsed_and_broken_json_kept_as_text(harness, http_server):
    http_server.route("/problem", Reply(json={"title": "x"}, content_type="application/problem+json"))
    http_server.route("/broken", Reply(text="{not json", content_type="application/json"))
    http_server.route("/empty", Reply(status=204, text="", content_type="application/json"))
    get = lambda path: harness.run("http_request", {"url": http_server.url_for(path)})  # noqa: E731
    assert (await get("/problem")).outputs["out"]["body"] == {"title": "x"}
    assert (await get("/broken")).outputs["out"]["body"] == "{not json"
    empty = (await get("/empty")).outputs["out"]
    assert (empty["status"], empty["body"]) == (204, None)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"x": NaN}', "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
        ("-Infinity", "Infinity is not a JSON number"),
        ('{"x": 1e999}', "too large for a JSON number"),
        ("9" * 5000, "too large"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        ('{"s": "\\ud800"}', "lone surrogate"),
    ],
)
async def test_json_that_cannot_be_stored_is_refused(harness, http_server, text, why):
    """A lenient parser accepts these; they would reach the run as NaN or an unwritable int."""
    http_server.route("/odd", Reply(text=text, content_type="application/json"))
    with pytest.raises(NodeError, match="the response body cannot be used") as info:
        await harness.run("http_request", {"url": http_server.url_for("/odd")})
    assert why in str(info.value) and not info.value.retryable


async def test_head_has_empty_body(harness, http_server):
    http_server.route("/items", Reply(text="ignored"))
    out = (await harness.run("http_request", {"method": "HEAD", "url": http_server.url_for("/items")})).outputs["out"]
    assert out["status"] == 200 and out["body"] == ""


async def test_redirects_are_followed(harness, http_server):
    http_server.route("/old", Reply(status=302, headers={"Location": "/new"}))
    http_server.route("/new", Reply(json={"moved": True}))
    out = (await harness.run("http_request", {"url": http_server.url_for("/old")})).outputs["out"]
    assert out == {"status": 200, "headers": out["headers"], "body": {"moved": True}}
    assert [r.path for r in http_server.requests] == ["/old", "/new"]


async def test_503_is_retryable_with_status(harness, http_server):
    http_server.fail_first("/flaky", 1, status=503)
    cfg = {"url": http_server.url_for("/flaky")}
    with pytest.raises(NodeError) as err:
        await harness.run("http_request", cfg)
    e = err.value
    assert (e.retryable, e.status, e.error_type) == (True, 503, "http_status")
    assert "HTTP 503" in e.message and "scripted failure 503" in e.message
    # the scripted server answers 200 on the second call, as a retry would see it
    assert (await harness.run("http_request", cfg)).outputs["out"]["body"] == {"ok": True}
    assert http_server.calls("/flaky") == 2


@pytest.mark.parametrize("status", [400, 404, 429])
async def test_4xx_is_not_retryable_but_carries_status(harness, http_server, status):
    http_server.route("/x", Reply(status=status, json={"error": "nope"}))
    with pytest.raises(NodeError) as err:
        await harness.run("http_request", {"url": http_server.url_for("/x")})
    assert (err.value.retryable, err.value.status) == (False, status)
    assert f"HTTP {status}" in err.value.message


async def test_connection_refused_is_retryable(harness, free_port):
    with pytest.raises(NodeError) as err:
        await harness.run("http_request", {"url": f"http://127.0.0.1:{free_port}/x", "timeout_s": 5})
    assert (err.value.retryable, err.value.status, err.value.error_type) == (True, None, "connection")
    assert f"127.0.0.1:{free_port}/x" in err.value.message


async def test_timeout_is_retryable(harness, http_server):
    with pytest.raises(NodeError) as err:
        await harness.run("http_request", {"url": http_server.url_for("/hang"), "timeout_s": 0.2})
    assert (err.value.retryable, err.value.error_type) == (True, "timeout")
    assert "timed out after 0.2 s" in err.value.message


async def test_timeout_is_total_not_per_read(harness, http_server):
    # the server starts answering late: each read is short, the whole exceeds timeout_s
    http_server.route("/slow", Reply(delay_s=0.6, json={}))
    with pytest.raises(NodeError, match="timed out"):
        await harness.run("http_request", {"url": http_server.url_for("/slow"), "timeout_s": 0.3})


async def test_cancelling_a_hanging_request(harness, http_server):
    task = asyncio.ensure_future(harness.run("http_request", {"url": http_server.url_for("/hang")}))
    await asyncio.to_thread(http_server.wait_for_requests, 1, 5.0, "/hang")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1.0)  # a TimeoutError here means the cancel was swallowed or slow
    assert task.cancelled()
    # the shared client is still usable afterwards
    http_server.route("/ok", Reply(json=1))
    assert (await harness.run("http_request", {"url": http_server.url_for("/ok")})).outputs["out"]["body"] == 1


async def test_secrets_never_reach_logs_or_errors(harness, http_server, caplog):
    caplog.set_level(logging.DEBUG)
    http_server.route("/secret", Reply(status=401, text="denied"))
    userinfo_url = http_server.url.replace("http://", "http://user:PW-SECRET@") + "/secret?token=Q-SECRET"
    header_cfg = {"url": http_server.url_for("/secret"), "headers": {"Authorization": "Bearer H-SECRET"}}
    errors = []
    for cfg in ({"url": userinfo_url}, header_cfg):
        with pytest.raises(NodeError) as err:
            await harness.run("http_request", cfg)
        errors.append(str(err.value))
    # the secrets did travel to the server...
    assert http_server.requests[0].query == {"token": "Q-SECRET"}
    assert http_server.requests[0].header("authorization").startswith("Basic ")
    assert http_server.requests[1].header("authorization") == "Bearer H-SECRET"
    # ...but appear in no log record and no error message
    for secret in ("PW-SECRET", "Q-SECRET", "H-SECRET"):
        assert secret not in caplog.text
        assert all(secret not in e for e in errors)
    assert caplog.text.count(f"GET http://127.0.0.1:{http_server.port}/secret -> 401") == 2


def test_redact_url():
    assert redact_url("https://u:p@example.com:8443/a/b?k=v#f") == "https://example.com:8443/a/b"
    assert redact_url("http://[::1]/x") == "http://[::1]/x"


def test_config_defaults():
    cfg = HttpRequestConfig.model_validate({"url": "http://127.0.0.1/x"})
    assert (cfg.method, cfg.headers, cfg.query, cfg.json_body, cfg.body, cfg.timeout_s) == ("GET", {}, {}, None, None, 30.0)


@pytest.mark.parametrize(
    ("config", "loc", "text"),
    [
        ({"url": "ftp://127.0.0.1/x"}, ("url",), "url must be an absolute http:// or https:// URL"),
        ({"url": "/relative"}, ("url",), "url must be an absolute http:// or https:// URL"),
        ({}, ("url",), "Field required"),
        ({"url": "http://h", "json": {}, "body": "x"}, ("body",), "set either `json` or `body`, not both"),
        ({"url": "http://h", "method": "FETCH"}, ("method",), "Input should be 'GET'"),
        ({"url": "http://h", "timeout_s": 0}, ("timeout_s",), "greater than 0"),
        ({"url": "http://h", "timeout_s": "soon"}, ("timeout_s",), "valid number"),
        ({"url": "http://h", "headers": ["a"]}, ("headers",), "valid dictionary"),
        ({"url": "http://h", "body": {"a": 1}}, ("body",), "valid string"),
        ({"url": "http://h", "json_body": 1}, ("json_body",), "Extra inputs are not permitted"),
        ({"url": "http://h", "verify": False}, ("verify",), "Extra inputs are not permitted"),
    ],
)
def test_config_errors_name_the_field(config, loc, text):
    with pytest.raises(ValidationError) as err:
        HttpRequestConfig.model_validate(config)
    errors = err.value.errors()
    assert errors[0]["loc"] == loc
    assert text in errors[0]["msg"]


def test_schema_uses_json_key():
    props = HttpRequestConfig.model_json_schema()["properties"]
    assert "json" in props and "json_body" not in props
    assert all(p.get("description") for p in props.values())


@pytest.mark.parametrize(
    ("method", "side_effects"),
    [("GET", False), ("head", False), ("OPTIONS", False), ("POST", True), ("DELETE", True),
     ("PATCH", True), ("{{ vars.method }}", True)],
)
def test_side_effects_depend_on_method(harness, method, side_effects):
    spec = registry.get_spec("http_request")
    node = harness.node("http_request", {"url": "http://h", "method": method})
    assert spec.has_side_effects(node) is side_effects
    assert spec.has_side_effects(harness.node("http_request", {"url": "http://h"})) is False


def test_spec(harness):
    spec = registry.get_spec("http_request")
    node = harness.node("http_request", {"url": "http://h"}, on_error="route")
    assert spec.default_retry == "default" and spec.kind == "plain" and not spec.pure
    assert spec.output_ports(node) == ["out", "error"]
