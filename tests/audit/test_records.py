from stickyguard.audit.records import Exchange
from stickyguard.audit.records import InputError


def exchange(headers):
    return Exchange("https://a.example/", "GET", 200, [("Cookie", "a=1")], headers, None, None, "t", "1")


def test_set_cookie_lines_unfold_what_har_writers_fold():
    ex = exchange([("Set-Cookie", "a=1\nb=2"), ("set-cookie", "c=3"), ("Server", "x")])
    assert ex.set_cookie_lines() == ["a=1", "b=2", "c=3"]
    assert ex.response_header("SERVER") == "x" and ex.request_header("cookie") == "a=1"
    assert ex.response_header("via") is None


def test_input_error_names_file_and_place():
    assert str(InputError("a.har", "entry 3", "bad date")) == "a.har: entry 3: bad date"
    assert str(InputError("a.har", "", "empty")) == "a.har: empty"
    assert InputError("a", "b", "c").as_dict() == {"input": "a", "place": "b", "message": "c"}
