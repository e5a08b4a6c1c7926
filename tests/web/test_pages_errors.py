"""Error answers: JSON under /api/, a page in the visitor's language elsewhere."""


def test_api_errors_are_json(client):
    missing = client.get("/api/v1/no-such-thing")
    wrong_method = client.delete("/api/v1/health")
    assert (missing.status_code, missing.json["error"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json["error"]) == (405, "method_not_allowed")
    assert sorted(wrong_method.headers["Allow"].split(", ")) == ["GET", "HEAD", "OPTIONS"]


def test_error_pages_follow_the_chosen_language(client):
    chinese = client.get("/no-such-page")
    english = client.get("/no-such-page?lang=en")
    assert chinese.status_code == english.status_code == 404
    assert "<h1>404 · 页面不存在</h1>" in chinese.get_data(as_text=True)
    assert "<h1>404 · Page not found</h1>" in english.get_data(as_text=True)


def test_a_form_without_its_csrf_token_explains_itself(client):
    answer = client.post("/sign-on", data={"guard_id": "G001", "pin": "1234"})
    assert answer.status_code == 400
    assert "表单可能已过期" in answer.get_data(as_text=True)
