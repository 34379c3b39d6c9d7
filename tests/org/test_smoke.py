def test_home_lists_memberships(personas, login):
    client = login(personas["dispatcher"])
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["memberships"][0]["role"] == "dispatcher"
