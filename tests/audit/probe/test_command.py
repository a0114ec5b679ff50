"""`stickyguard probe`'s own errors: bounds refused before any request is sent."""


def test_over_the_bounds_is_a_usage_error(run):
    status, out, err = run("probe", "http://127.0.0.1:9/", "--sessions", "1000", "--returns", "3")
    assert status == 2 and out == ""
    assert "4000 requests is over the probe's bound of 2000" in err


def test_the_help_says_where_traffic_goes(run):
    status, out, _ = run("probe", "--help")
    assert status == 0 and "traffic goes only there" in out and "--source-address" in out
