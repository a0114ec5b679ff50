import socket

import pytest

from stickyguard.audit import cookies
from stickyguard.audit.records import Exchange

DATE = "Wed, 01 Jan 2025 10:00:00 GMT"


def exchange(url="https://shop.example/", set_cookies=(), date=DATE, top=None, timestamp=None):
    headers = [("Set-Cookie", c) for c in set_cookies]
    if date:
        headers.append(("Date", date))
    return Exchange(url, "GET", 200, [], headers, timestamp, top, "test", "entry 0")


def one(set_cookie, **kw):
    (obs,) = cookies.observe(exchange(set_cookies=[set_cookie], **kw))
    return obs


class TestParse:
    @pytest.mark.parametrize(
        "line,expected",
        [
            ("a=1", ("a", "1", {})),
            ("  sid = 1 ; Path = / ", ("sid", "1", {"path": "/"})),
            ("SID=x; SECURE; httponly; SameSite=Lax", ("SID", "x", {"secure": True, "httponly": True, "samesite": "Lax"})),
            # The last occurrence of an attribute wins (RFC 6265 §5.3 step 1 of attribute handling).
            ("a=1; Path=/a; path=/b", ("a", "1", {"path": "/b"})),
            # A flag given a value is still a flag.
            ("a=1; Secure=no", ("a", "1", {"secure": True})),
            # A comma inside a value does not split the cookie (one Set-Cookie line is one cookie).
            ("pref=a,b; Path=/", ("pref", "a,b", {"path": "/"})),
            ("sid=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT, SameSite=Strict",
             ("sid", "1", {"expires": "Wed, 21 Oct 2015 07:28:00 GMT, SameSite=Strict"})),
            ("a=1; Domain=.Shop.Example", ("a", "1", {"domain": "shop.example"})),
            ("a=1; Domain=", ("a", "1", {})),
            ("=noname", ("", "noname", {})),
            ("a=1; Partitioned", ("a", "1", {"partitioned": True})),
        ],
    )
    def test_parse(self, line, expected):
        assert cookies.parse_set_cookie(line) == expected

    @pytest.mark.parametrize("line", ["", "   ", "=", ";"])
    def test_ignored(self, line):
        assert cookies.parse_set_cookie(line) is None


class TestLifetime:
    @pytest.mark.parametrize(
        "line,expected",
        [
            ("a=1", None),
            ("a=1; Max-Age=3600", 3600),
            # Max-Age wins over Expires, whichever comes first (RFC 6265 §5.3 step 3).
            ("a=1; Expires=Wed, 01 Jan 2020 00:00:00 GMT; Max-Age=3600", 3600),
            ("a=1; Max-Age=3600; Expires=Wed, 01 Jan 2020 00:00:00 GMT", 3600),
            # Expires counts from the response's Date header, not from now.
            ("a=1; Expires=Wed, 08 Jan 2025 10:00:00 GMT", 7 * 86400),
            ("a=1; expires=Wednesday, 08-Jan-25 10:00:00 GMT", 7 * 86400),
            ("a=1; expires=Wed Jan  8 10:00:00 2025", 7 * 86400),
            # A non-numeric Max-Age is ignored, so Expires decides.
            ("a=1; Max-Age=abc; Expires=Thu, 02 Jan 2025 10:00:00 GMT", 86400),
            ("a=1; Max-Age=1h", None),
            ("a=1; Expires=someday", None),
            # Max-Age<=0 and a past Expires delete the cookie.
            ("a=1; Max-Age=0", 0),
            ("a=1; Max-Age=-5", 0),
            ("a=; Expires=Thu, 01-Jan-1970 00:00:01 GMT", 0),
        ],
    )
    def test_lifetime(self, line, expected):
        assert one(line).lifetime_seconds == expected

    def test_expires_without_date_uses_the_exchange_time(self):
        obs = one("a=1; Expires=Thu, 02 Jan 2025 10:00:00 GMT", date=None, timestamp=1735725600.0)
        assert obs.lifetime_seconds == 86400

    def test_persistent_and_deleting(self):
        assert one("a=1; Max-Age=10").persistent
        assert not one("a=1").persistent
        assert one("a=1; Max-Age=0").deletes

    def test_effective_lifetime_capped_at_400_days(self):
        obs = one("a=1; Max-Age=315360000")
        assert obs.lifetime_seconds == 315360000
        assert obs.effective_lifetime_seconds == 400 * 86400

    @pytest.mark.parametrize(
        "text,expected",
        [
            ("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0),
            ("Sun Nov  6 08:49:37 1994", 784111777.0),
            ("Sunday, 06-Nov-94 08:49:37 GMT", 784111777.0),
            ("06 Nov 1994 08:49:37", 784111777.0),
            ("Wed, 32 Oct 2015 07:28:00 GMT", None),
            ("Wed, 21 Oct 2015 25:28:00 GMT", None),
            ("Wed, 21 Oct 1600 07:28:00 GMT", None),
            ("tomorrow", None),
        ],
    )
    def test_cookie_date(self, text, expected):
        assert cookies.parse_cookie_date(text) == expected


class TestScope:
    @pytest.mark.parametrize(
        "host,domain,scope",
        [
            ("shop.example", None, "host-only"),
            ("app.shop.example", "app.shop.example", "host"),
            ("a.b.shop.example", "b.shop.example", "parent"),
            ("app.shop.example", "shop.example", "registrable"),
            ("shop.example", "shop.example", "registrable"),
            ("www.example.co.uk", "example.co.uk", "registrable"),
            ("www.example.co.uk", "co.uk", "public-suffix"),
            ("app.shop.example", "example", "public-suffix"),
            ("me.github.io", "github.io", "public-suffix"),
            ("app.shop.example", "other.example", "foreign"),
            ("app.shop.example", "pp.shop.example", "foreign"),
            ("10.0.0.1", "10.0.0.1", "host-only"),  # Domain= the address widens nothing
            ("10.0.0.1", "0.0.1", "foreign"),
        ],
    )
    def test_domain_scope(self, host, domain, scope):
        assert cookies.domain_scope(host, domain) == scope

    @pytest.mark.parametrize(
        "host,site",
        [
            ("www.shop.example", "shop.example"),
            ("a.b.example.co.uk", "example.co.uk"),
            ("me.github.io", "me.github.io"),
            ("10.1.1.100", "10.1.1.100"),
            ("localhost", "localhost"),
            ("Shop.Example.", "shop.example"),
        ],
    )
    def test_registrable_domain(self, host, site):
        assert cookies.registrable_domain(host) == site

    def test_suffix_list_comes_from_the_package_not_the_network(self, monkeypatch):
        def refuse(*args, **kwargs):
            raise AssertionError("tldextract tried the network")

        monkeypatch.setattr(socket, "create_connection", refuse)
        monkeypatch.setattr(socket.socket, "connect", refuse)
        cookies._extractor.cache_clear()
        cookies.registrable_domain.cache_clear()
        assert cookies.registrable_domain("x.y.example.com.au") == "example.com.au"

    def test_third_party_from_top_level(self):
        assert one("a=1", url="https://cdn.widgets.example/w.js", top="https://shop.example/").third_party is True
        assert one("a=1", url="https://static.shop.example/x", top="https://www.shop.example/").third_party is False
        assert one("a=1", top=None).third_party is None


class TestAttributes:
    @pytest.mark.parametrize(
        "line,state",
        [("a=1", "missing"), ("a=1; SameSite=LAX", "lax"), ("a=1; SameSite=None", "none"),
         ("a=1; SameSite=strict", "strict"), ("a=1; SameSite=Relaxed", "invalid"), ("a=1; SameSite", "invalid")],
    )
    def test_samesite(self, line, state):
        assert one(line).samesite == state

    @pytest.mark.parametrize(
        "line,url,problems",
        [
            ("__Host-a=1; Path=/; Secure", "https://x.example/", []),
            ("__Host-a=1; Secure", "https://x.example/", ["does not have Path=/"]),
            ("__host-a=1; Path=/; Domain=x.example", "https://x.example/", ["lacks Secure", "has a Domain attribute"]),
            ("__Secure-a=1; Secure", "http://x.example/", ["is set over plain HTTP"]),
            ("__Http-a=1; Secure", "https://x.example/", ["lacks HttpOnly"]),
            ("__Host-Http-a=1; Secure; Path=/; HttpOnly", "https://x.example/", []),
            ("Host-a=1", "http://x.example/", []),
        ],
    )
    def test_prefix_problems(self, line, url, problems):
        assert one(line, url=url).prefix_problems == problems


def test_observe_ignores_responses_without_cookies():
    assert cookies.observe(exchange(set_cookies=[])) == []


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://Shop.Example/x", ("https", "shop.example")),
        ("HTTP://a.example:8080?q=1", ("http", "a.example")),
        ("https://user:pw@a.example/", ("https", "a.example")),
        ("https://[2001:db8::1]:443/", ("https", "2001:db8::1")),
        ("https://a.example#frag", ("https", "a.example")),
        ("not a url", ("", "")),
    ],
)
def test_scheme_and_host(url, expected):
    assert cookies.scheme_and_host(url) == expected


def test_a_max_age_past_pythons_digit_limit_is_read():
    """Found in review: Max-Age with 4,400 digits raised ValueError from int() (Python's 4,300-digit limit)."""
    assert cookies.lifetime({"max-age": "9" * 4400}, 0) == cookies.MAX_MAX_AGE
    assert cookies.lifetime({"max-age": "-" + "9" * 4400}, 0) == 0


def test_cookie_pairs_read_every_line_as_mitmproxys_reader_does():
    """cookie_pairs splits lines without a quote itself; whatever the line, its pairs are mitmproxy's."""
    import random

    from mitmproxy.net.http import cookies as mitm_cookies

    rng = random.Random(6265)
    alphabet = list('ab=;  ,\t\\"xY9.-_%')
    lines = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 16))) for _ in range(20_000)]
    lines += ["JSESSIONID=ABC.node1; Path=/; HttpOnly", ' sid = "a;b" ; Secure', "a=b=c;;d", "=v", "k=", ";", ""]
    for line in lines:
        assert cookies.cookie_pairs(line) == [tuple(p) for p in mitm_cookies.parse_cookie_header(line)], repr(line)
