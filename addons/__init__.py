"""stickyguard's proxy half, installed as stickyguard.addons.

Directly here: the mitmproxy addons (`balancer`, `recorder`, `auditor`, each loadable with
`mitmdump -s addons/<name>.py`), the `launch`er behind the `stickyguard` command, and the `master`
they run in. `balancing/` is the plain balancing logic (no mitmproxy); `demo/` is `stickyguard demo`.
The addons reach the audit half through `stickyguard.audit.api`; the audit never imports this.
"""
