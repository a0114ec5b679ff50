"""stickyguard's proxy half: mitmproxy addons (balancer, recorder, live auditor).

Each module here is either one mitmproxy addon, loadable with `mitmdump -s addons/<name>.py`,
or plain logic with no mitmproxy `ctx`. Addons may import `audit`; `audit` never imports this.
"""
