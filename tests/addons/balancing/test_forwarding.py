from stickyguard.addons.balancing import forwarding


def test_without_cookies_keeps_the_rest_byte_for_byte():
    lines = ['a=1; sg_affinity=s1.xyz; b="q,1"', "__Host-sg_affinity=s1.abc", "c=3"]
    assert forwarding.without_cookies(lines, ("sg_affinity", "__Host-sg_affinity")) == ['a=1; b="q,1"', "c=3"]
    assert forwarding.without_cookies(["sg_affinityX=1; x=2"], ("sg_affinity",)) == ["sg_affinityX=1; x=2"]


def test_forwarded_headers_believe_only_a_trusted_peer():
    sent = {"x-forwarded-for": ["198.51.100.7"], "x-forwarded-proto": ["https"], "x-forwarded-host": ["shop.example"]}
    trusted = forwarding.forwarded_headers("10.0.0.2", False, "internal:8080", sent, ["10.0.0.0/8"])
    assert trusted == {"x-forwarded-for": "198.51.100.7, 10.0.0.2", "x-forwarded-proto": "https",
                       "x-forwarded-host": "shop.example"}
    spoofed = forwarding.forwarded_headers("203.0.113.9", False, "shop.example", sent, ["10.0.0.0/8"])
    assert spoofed == {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "http",
                       "x-forwarded-host": "shop.example"}
    assert forwarding.forwarded_headers("203.0.113.9", True, "h", {}, [])["x-forwarded-proto"] == "https"


def test_the_error_response_says_503_and_nothing_about_the_inside():
    raw = forwarding.error_response("down for a moment\n")
    assert raw.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") and raw.endswith(b"\r\n\r\ndown for a moment\n")
    assert b"server:" not in raw.lower() and b"content-length: 18\r\n" in raw
