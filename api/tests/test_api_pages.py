"""Pages outside the API: an unknown address gets fluxa's own 404 page (templates/404.html,
with its stylesheet from static/), never the API envelope, and an unknown /api/ path gets the
envelope, never a page."""

import pytest


@pytest.mark.django_db
def test_unknown_page_renders_the_404_template(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    assert b"Page not found" in response.content and b"/static/fluxa.css" in response.content


@pytest.mark.django_db
def test_the_stylesheet_is_served_by_fluxa_itself(client):
    response = client.get("/static/fluxa.css")
    assert response.status_code == 200
    assert b"no third-party CDN" in b"".join(response.streaming_content)


@pytest.mark.django_db
def test_unknown_api_path_keeps_the_envelope(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
