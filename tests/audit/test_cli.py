import json

import pytest

from stickyguard.audit import cli
from tests.conftest import BAD
from tests.conftest import CAPTURES
from tests.conftest import run_process

HEADERS = "tests/data/captures/shop-headers.txt"


class TestExitStatus:
    def test_findings_exit_1(self, run):
        status, out, err = run("audit", HEADERS, "--url", "https://shop.example/")
        assert status == 1 and err == ""
        assert "SG201" in out

    def test_fail_on_threshold(self, run):
        assert run("audit", HEADERS, "--fail-on", "critical")[0] == 0
        assert run("audit", HEADERS, "--fail-on", "high")[0] == 1
        assert run("audit", HEADERS, "--fail-on", "none")[0] == 0

    def test_clean_capture_exits_0(self, run, tmp_path):
        p = tmp_path / "clean.txt"
        p.write_text("Set-Cookie: __Host-sid=x; Path=/; Secure; HttpOnly; SameSite=Lax\n")
        status, out, _ = run("audit", str(p))
        assert status == 0 and "No findings." in out

    def test_info_findings_do_not_fail_by_default(self, run, tmp_path, monkeypatch):
        # Every built-in rule is low or above, so a custom info rule proves the default threshold.
        rules = tmp_path / "rules"
        rules.mkdir()
        src = (cli.rule_data.RULES_DIR / "checks" / "SG102-affinity-cookie-missing-httponly.yaml").read_text()
        (rules / "SG102-affinity-cookie-missing-httponly.yaml").write_text(src.replace("severity: low ", "severity: info "))
        p = tmp_path / "h.txt"
        p.write_text("Set-Cookie: __Host-SERVERID=s1; Path=/; Secure; SameSite=Lax\n")
        status, out, _ = run("audit", str(p), "--rules", str(rules), "--only-rules")
        assert status == 0 and "SG102" in out


class TestBadInput:
    """Exit 2 and one line naming the file and the place; nothing read before the damage is lost."""

    @pytest.mark.parametrize(
        "path,line",
        [
            ("tests/data/bad/truncated.har",
             "stickyguard: error: tests/data/bad/truncated.har: byte 4932 (entry 2): the file ends inside this "
             "entry (cut off); the 2 entries before it were read"),
            ("tests/data/bad/malformed.har",
             "stickyguard: error: tests/data/bad/malformed.har: byte 4932 (entry 2): malformed JSON "
             "(Expecting ',' delimiter); the 2 entries before it were read"),
            ("tests/data/bad/truncated.mitm",
             "stickyguard: error: tests/data/bad/truncated.mitm: byte 3633 (flow 2): the file ends inside this flow "
             "record (cut off); the 2 flows before it were read"),
            ("tests/data/bad/not-a-capture.png",
             "stickyguard: error: tests/data/bad/not-a-capture.png: byte 0: not a capture: expected a HAR file, "
             "a mitmproxy flow file or Set-Cookie header text"),
            ("tests/data/bad/notes.txt",
             "stickyguard: error: tests/data/bad/notes.txt: line 1: not a header line or a Set-Cookie value: "
             "'Meeting notes for the load balancer migr'"),
            ("tests/data/bad/missing.har",
             "stickyguard: error: tests/data/bad/missing.har: No such file or directory"),
        ],
    )
    def test_one_clear_line(self, run, path, line):
        status, out, err = run("audit", path, "--format", "json")
        assert status == 2
        assert err.splitlines() == [line]
        assert "Traceback" not in err

    def test_truncated_capture_keeps_what_was_read(self, run):
        status, out, _ = run("audit", "tests/data/bad/truncated.mitm", "--format", "json")
        doc = json.loads(out)
        assert status == 2
        assert doc["inputs"][0]["exchanges"] == 2
        assert {c["name"] for c in doc["cookies"]} == {"BIGipServerapp_pool", "INGRESSCOOKIE"}
        assert any(f["rule"] == "SG201" for f in doc["findings"])
        assert doc["errors"] == [{
            "input": "tests/data/bad/truncated.mitm",
            "place": "byte 3633 (flow 2)",
            "message": "the file ends inside this flow record (cut off); the 2 flows before it were read",
        }]

    def test_truncated_har_keeps_what_was_read(self, run):
        status, out, _ = run("audit", "tests/data/bad/truncated.har", "--format", "json")
        doc = json.loads(out)
        assert status == 2
        assert {c["name"] for c in doc["cookies"]} == {"BIGipServer~Common~web_pool", "JSESSIONID", "SERVERID"}
        assert doc["errors"][0]["place"].endswith("(entry 2)")

    def test_good_inputs_are_still_audited_beside_a_bad_one(self, run):
        status, out, err = run("audit", HEADERS, "tests/data/bad/notes.txt", "--format", "json")
        doc = json.loads(out)
        assert status == 2
        assert len(doc["inputs"]) == 2 and doc["findings"]

    def test_broken_rule_file(self, run):
        status, out, err = run("audit", HEADERS, "--rules", "tests/data/bad/rules")
        assert status == 2 and out == ""
        assert err.splitlines()[0] == (
            "stickyguard: error: tests/data/bad/rules/SG150-broken-rule.yaml:5: severity: 'hgh' is not one of "
            "['info', 'low', 'medium', 'high', 'critical']")

    @pytest.mark.parametrize(
        "args,message",
        [
            (["--format", "pdf"], "invalid choice: 'pdf'"),
            (["--fail-on", "severe"], "invalid choice: 'severe'"),
            (["--url", "ftp://x"], "not an http(s) URL with a host: 'ftp://x'"),
            (["--max-lifetime", "soon"], "not a duration: 'soon'"),
            (["--table-format", "fancy"], "unknown table format 'fancy'"),
            (["--rules", "no/such/dir"], "not a folder: no/such/dir"),
        ],
    )
    def test_usage_errors(self, run, args, message):
        status, _, err = run("audit", HEADERS, *args)
        assert status == 2
        assert message in err.splitlines()[-1]

    def test_only_rules_needs_rules(self, run):
        status, _, err = run("audit", HEADERS, "--only-rules")
        assert (status, err) == (2, "stickyguard: error: --only-rules needs at least one --rules DIR\n")

    def test_unwritable_output(self, run, tmp_path):
        status, _, err = run("audit", HEADERS, "-o", str(tmp_path / "no" / "such" / "r.json"))
        assert status == 2 and "cannot write the report" in err


class TestOptions:
    def test_output_file(self, run, tmp_path):
        out = tmp_path / "r.sarif"
        status, stdout, err = run("audit", HEADERS, "--format", "sarif", "-o", str(out), "--fail-on", "medium")
        assert status == 1 and stdout == ""
        assert json.loads(out.read_text())["version"] == "2.1.0"
        assert err.startswith(f"stickyguard: wrote {out}: ")

    def test_max_lifetime(self, run):
        _, out, _ = run("audit", HEADERS, "--format", "json", "--max-lifetime", "60d")
        assert "SG302" not in {f["rule"] for f in json.loads(out)["findings"]}
        _, out, _ = run("audit", HEADERS, "--format", "json", "--max-lifetime", "1h")
        assert "SG302" in {f["rule"] for f in json.loads(out)["findings"]}

    def test_url_for_header_text(self, run):
        _, out, _ = run("audit", HEADERS, "--format", "json", "--url", "http://plain.example/")
        doc = json.loads(out)
        assert {c["host"] for c in doc["cookies"]} == {"plain.example", "www.shop.example"}
        assert "SG110" in {f["rule"] for f in doc["findings"]}

    def test_several_inputs_one_report(self, run):
        _, out, _ = run("audit", *(str(CAPTURES / n) for n in ("chrome-shop.har", "firefox-bank.har", "app.mitm")),
                        "--format", "json")
        doc = json.loads(out)
        assert [i["kind"] for i in doc["inputs"]] == ["har", "har", "flows"]
        names = {c["name"] for c in doc["cookies"]}
        assert {"NSC_Qspe-xxx.cbol.fybnqmf-IUUQT", "dr_who", "ROUTEID", "INGRESSCOOKIE"} <= names

    def test_firefox_capture_findings(self, run):
        _, out, _ = run("audit", str(CAPTURES / "firefox-bank.har"), "--format", "json")
        found = {(f["rule"], f["cookie"]) for f in json.loads(out)["findings"]}
        assert ("SG201", "dr_who") in found                   # a renamed BIG-IP cookie, found by its value
        assert ("SG110", "ROUTEID") in found                  # affinity cookie over plain HTTP
        assert ("SG301", "NSC_Qspe-xxx.cbol.fybnqmf-IUUQT") in found

    def test_sanitised_har(self, run):
        _, out, _ = run("audit", str(CAPTURES / "sanitised-shop.har"), "--format", "json")
        assert "SG201" in {f["rule"] for f in json.loads(out)["findings"]}


class TestLeakOptions:
    def test_candidates_recover_a_hashed_backend(self, run, tmp_path):
        dump = tmp_path / "h.txt"
        dump.write_text("Set-Cookie: INGRESSCOOKIE=77340173909b49438e3e8e1850cf97ef; Path=/; HttpOnly\n")
        _, out, _ = run("audit", str(dump), "--format", "json")
        assert {f["rule"] for f in json.loads(out)["findings"]} >= {"SG209"}
        _, out, _ = run("audit", str(dump), "--format", "json", "--candidates", "10.244.1.0/24:8080")
        doc = json.loads(out)
        (cookie,) = doc["cookies"]
        assert (cookie["decoded"]["ip"], cookie["decoded"]["port"]) == ("10.244.1.17", 8080)
        assert cookie["decoded"]["recovered"] == "md5 of ip:port"
        assert "SG201" in cookie["rules"] and "SG209" not in cookie["rules"]

    @pytest.mark.parametrize("spec,message", [
        ("10.0.0.0/8:80,443", "--candidates: 33,554,432 candidates is more than the 4,194,304"),
        ("nonsense:80", "--candidates: 'nonsense:80': "),
    ])
    def test_candidates_errors(self, run, spec, message):
        status, _, err = run("audit", HEADERS, "--candidates", spec)
        assert status == 2 and err.startswith(f"stickyguard: error: {message}")

    def test_client_ip(self, run, tmp_path):
        dump = tmp_path / "h.txt"
        dump.write_text("Set-Cookie: geo=203.0.113.50; Path=/; Secure; HttpOnly; SameSite=Lax\n")
        _, out, _ = run("audit", str(dump), "--format", "json", "--client-ip", "203.0.113.50")
        assert "SG308" in {f["rule"] for f in json.loads(out)["findings"]}
        _, out, _ = run("audit", str(dump), "--format", "json")
        assert "SG308" not in {f["rule"] for f in json.loads(out)["findings"]}
        status, _, err = run("audit", str(dump), "--client-ip", "nope")
        assert status == 2 and "not an IP address: 'nope'" in err


class TestRulesCommands:
    def test_list(self, run, ruleset):
        status, out, _ = run("rules", "list")
        assert status == 0
        assert all(r.id in out for r in ruleset)

    def test_list_json_and_markdown(self, run, ruleset):
        _, out, _ = run("rules", "list", "--format", "json")
        assert [r["id"] for r in json.loads(out)] == [r.id for r in ruleset]
        _, out, _ = run("rules", "list", "--format", "markdown")
        assert out.splitlines()[1].startswith("|--")

    def test_validate_builtin(self, run, ruleset):
        status, out, _ = run("rules", "validate")
        assert status == 0
        assert out.endswith(f"{len(ruleset)} rules and the catalog valid; every rule example behaves\n")

    def test_validate_broken(self, run):
        status, out, err = run("rules", "validate", str(BAD / "rules"))
        assert status == 2
        assert len(err.splitlines()) == 3

    def test_validate_custom_rule_with_a_failing_example(self, run, tmp_path):
        src = (cli.rule_data.RULES_DIR / "checks" / "SG101-affinity-cookie-missing-secure.yaml").read_text()
        bad = src.replace("set_cookie: \"SERVERID=s1; Path=/; Secure\"", "set_cookie: \"SERVERID=s1; Path=/\"")
        path = tmp_path / "SG101-affinity-cookie-missing-secure.yaml"
        path.write_text(bad)
        status, _, err = run("rules", "validate", str(tmp_path))
        assert status == 1
        assert err == f"stickyguard: error: {path}: tests/no_match/0: SG101 should stay silent on this example but did not\n"

    def test_validate_empty_folder(self, run, tmp_path):
        status, _, err = run("rules", "validate", str(tmp_path))
        assert status == 2 and "no rule files" in err

    def test_custom_rule_adds(self, run, tmp_path):
        src = (cli.rule_data.RULES_DIR / "checks" / "SG102-affinity-cookie-missing-httponly.yaml").read_text()
        new = src.replace("id: SG102", "id: SG199").replace(
            "name: affinity-cookie-missing-httponly", "name: my-httponly")
        (tmp_path / "SG199-my-httponly.yaml").write_text(new)
        _, out, _ = run("rules", "list", "--rules", str(tmp_path))
        assert "SG199" in out and "SG102" in out


def test_stdin_header_dump():
    proc = run_process("audit", "-", "--url", "https://shop.example/", "--format", "json",
                       stdin=(CAPTURES / "shop-headers.txt").read_bytes())
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["inputs"][0]["path"] == "<stdin>"
    assert "SG201" in {f["rule"] for f in doc["findings"]}


def test_stdin_flow_file():
    proc = run_process("audit", "-", "--format", "json", stdin=(CAPTURES / "app.mitm").read_bytes())
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["inputs"][0]["exchanges"] == 5


def test_stdin_twice_is_a_usage_error(run):
    status, _, err = run("audit", "-", "-")
    assert (status, err) == (2, "stickyguard: error: stdin (-) can be read only once\n")


class TestExpectedFindings:
    """What a reader of privacy-rules.md expects from each kind of capture."""

    def findings(self, run, *args):
        _, out, _ = run("audit", *args, "--format", "json")
        return {(f["rule"], f["host"], f["cookie"]) for f in json.loads(out)["findings"]}

    def test_browser_har(self, run):
        found = self.findings(run, "tests/data/captures/chrome-shop.har")
        bigip = "BIGipServer~Common~web_pool"
        assert {
            ("SG201", "shop.example", bigip),                   # LEAK-01: decodes to 10.1.1.100:8080
            ("SG203", "shop.example", bigip),                   # pool name in the cookie name
            ("SG101", "shop.example", bigip),                   # ATTR-01: no Secure over HTTPS
            ("SG302", "shop.example", "AWSALB"),                # LIFE-01/02: 7 days, over the 24 h budget
            ("SG305", "cdn.widgets.example", "SERVERID"),       # SCOPE-05: third party, not partitioned
            ("SG106", "shop.example", "route"),                 # SCOPE-02: Domain = registrable domain
            ("SG304", "shop.example", "theme"),                 # LIFE-03: 2 years for a non-affinity cookie
        } <= found
        # A Secure, HttpOnly JSESSIONID: SameSite missing, and its jvmRoute names the node.
        assert {r for r, _, c in found if c == "JSESSIONID"} == {"SG103", "SG205"}

    def test_flow_file(self, run):
        found = self.findings(run, "tests/data/captures/app.mitm")
        assert {
            ("SG201", "app.example.net", "BIGipServerapp_pool"),   # route-domain IPv4 192.168.10.10
            ("SG201", "app.example.net", "BIGipServerv6_pool"),    # IPv6 ULA fd00::42
            ("SG110", "app.example.net", "INGRESSCOOKIE"),         # TLS-01: set over plain HTTP
            ("SG105", "app.example.net", "__Host-lb"),             # __Host- with a Domain attribute
        } <= found
        assert not {f for f in found if f[2] == "lang"}         # one year, not an affinity cookie

    def test_header_dump(self, run):
        found = self.findings(run, HEADERS, "--url", "https://shop.example/")
        assert {
            ("SG201", "shop.example", "BIGipServerweb_pool"),
            ("SG202", "www.shop.example", "BIGipServerapi_pool"),  # public origin 93.184.216.34:80
            ("SG302", "www.shop.example", "SERVERID"),             # 30 days
            ("SG304", "www.shop.example", "theme"),
        } <= found
        assert not {f for f in found if f[2] == "sid"}


def test_progress_bar_covers_the_whole_audit_with_its_phase(capsys):
    bar = cli._ProgressBar(total=1000)
    bar(500)  # reading fills the first 90 %
    bar.done()  # one input read: the bar goes on
    bar.phase("judging", 0.9)
    bar.phase("writing", 0.95)
    bar.clear()
    err = capsys.readouterr().err
    assert "reading  [#############                 ] 45.0%" in err
    assert "judging  [###########################   ] 90.0%" in err
    assert "writing  [############################  ] 95.0%" in err
    assert err.endswith("\r")


def test_progress_bar_only_on_a_terminal_for_big_inputs(tmp_path):
    big = tmp_path / "big.har"
    big.write_bytes(b"{" + b" " * cli.PROGRESS_MIN_BYTES)
    assert cli._progress_bar([str(big)]) is None  # stderr is not a terminal under pytest
    assert cli._progress_bar(["-"]) is None


def test_table_width_follows_the_terminal_and_names_wrap_whole(monkeypatch):
    from stickyguard.audit.report import table_format

    rows = [["high", "SG201", "shop.example", "BIGipServerpool_web", "Cookie value decodes to an internal address"]]
    headers = ["Severity", "Rule", "Host", "Cookie", "Finding"]
    wide = table_format.column_widths(rows, headers, 200)
    assert wide == [None] * 5  # everything fits: nothing wraps
    narrow = table_format.column_widths(rows, headers, 70)
    assert narrow[3] is None or narrow[3] >= len("BIGipServerpool_web")  # the name is one word: never split
    assert narrow[0] is None or narrow[0] >= len("Severity")
    assert sum(w or len(max(c, key=len)) for w, c in zip(narrow, zip(headers, *rows, strict=True), strict=True)) <= 70


@pytest.mark.parametrize("fmt,separator", [("github", "|"), ("pipe", "|"), ("tsv", "\t"), ("orgtbl", "|")])
def test_markup_table_formats_keep_each_row_on_one_line(run, fmt, separator):
    status, out, _ = run("audit", "tests/data/captures/chrome-shop.har", "--table-format", fmt)
    assert status == 1
    findings = out.split("\n\n")[1].splitlines()[1:]  # the Findings table, without its title
    counts = {line.count(separator) for line in findings if line and not set(line) <= set("|-:+ ")}
    assert len(counts) == 1, findings  # every row has as many cells as the header
    assert len([line for line in findings if "SG" in line]) == 17  # one line per finding


def test_version(run, capsys):
    status, out, _ = run("--version")
    assert status == 0 and out.startswith("stickyguard ")

