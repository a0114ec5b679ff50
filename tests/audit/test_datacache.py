from stickyguard.audit import datacache


def test_the_key_tells_apart_parts_that_concatenate_alike():
    assert datacache.key("ab", "c") != datacache.key("a", "bc")
    assert datacache.key(["x", b"y"]) == datacache.key(["x", b"y"])


def test_what_is_put_comes_back(tmp_path, monkeypatch):
    monkeypatch.setenv(datacache.ENV, str(tmp_path))
    datacache.put("k1", {"id": "SG101", "tests": {"match": []}})
    assert datacache.get("k1") == {"id": "SG101", "tests": {"match": []}}
    assert datacache.get("k2") is None
    assert not [p for p in (tmp_path / "rules").iterdir() if p.name.startswith(".entry-")]  # no temp file left


def test_the_default_folder_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv(datacache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert datacache.folder() == tmp_path / "stickyguard" / "rules"
    monkeypatch.setenv(datacache.ENV, "")
    assert datacache.folder() is None
    datacache.put("k", 1)  # turned off: nothing written, nothing read
    assert datacache.get("k") is None
