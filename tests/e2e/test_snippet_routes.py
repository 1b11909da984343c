"""The snippet and the vendored rrweb bundle, as the API serves them."""

import hashlib

import httpx
import pytest

from api.snippet import RRWEB_CSS_PATH, RRWEB_PATH, SNIPPET_PATH, STATIC

RRWEB_SHA256 = "634aae0583bf9d1a857307d28fb49c98c14210929e22166fb150f3ae83d91cca"


@pytest.mark.parametrize(
    ("path", "file", "max_age", "media_type"),
    [
        (SNIPPET_PATH, "sightline.js", 300, "text/javascript"),
        (RRWEB_PATH, "vendor/rrweb-2.2.2.min.js", 86400, "text/javascript"),
        (RRWEB_CSS_PATH, "vendor/rrweb-2.2.2.min.css", 86400, "text/css"),
    ],
)
async def test_scripts_are_served_to_any_origin(
    client: httpx.AsyncClient, path: str, file: str, max_age: int, media_type: str
) -> None:
    response = await client.get(
        path, headers={"Origin": "https://shop.example", "Accept-Encoding": "identity"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    assert response.headers["cache-control"] == f"public, max-age={max_age}"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in response.headers
    assert response.content == (STATIC / file).read_bytes()

    again = await client.get(path, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_scripts_are_gzipped_for_browsers_that_accept_it(client: httpx.AsyncClient) -> None:
    response = await client.get(RRWEB_PATH, headers={"Accept-Encoding": "gzip, br"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    # httpx has decoded the body; the length on the wire is the compressed one.
    assert hashlib.sha256(response.content).hexdigest() == RRWEB_SHA256
    assert int(response.headers["content-length"]) < len(response.content) // 2


def test_the_vendored_bundle_is_rrweb_2_2_2_unchanged() -> None:
    bundle = (STATIC / "vendor" / "rrweb-2.2.2.min.js").read_bytes()
    assert hashlib.sha256(bundle).hexdigest() == RRWEB_SHA256
    assert (STATIC / "vendor" / "LICENSE-rrweb.txt").read_text().startswith("MIT License")
