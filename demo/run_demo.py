"""`make demo`, after setup: a few simulated hours of Groundswell in a few real minutes.

Starts the source simulator and a mail sink on a shared simulated clock, runs `groundswell run` with the sources of
demo/groundswell.yaml, makes one complaint go viral after the first simulated hour, then prints what happened:
mentions per platform and sentiment, the incident, the alert email, a search, and how to open it all in Kibana.
It stops what it started (Elasticsearch keeps running; the console too when run at a terminal) and leaves the data
under the default index prefix. Running it again is safe: every run lives through a new stretch of simulated time.

Environment: DEMO_SPEED (simulated seconds per real second, default 60), DEMO_HOURS (default 2.75),
DEMO_VIRAL_AFTER_MINUTES (default 60), DEMO_SITES_PORT (8800), DEMO_SMTP_PORT (8025), DEMO_WEB_PORT (8600),
GS (the groundswell command), DEMO_PREFIX (another index prefix than the default, to try this script without
touching the default one), DEMO_KEEP_CONSOLE (1: keep the console running after the demo so the email's links work;
the default at a terminal, 0 elsewhere).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml

from core.timefmt import people_time

ROOT = Path(__file__).resolve().parent.parent
GS = os.environ.get("GS") or str(ROOT / ".venv" / "bin" / "groundswell")
CONFIG = ROOT / "demo" / "groundswell.yaml"
CHINA = timezone(timedelta(hours=8))
SPEED = float(os.environ.get("DEMO_SPEED", "60"))
HOURS = float(os.environ.get("DEMO_HOURS", "2.75"))
VIRAL_AFTER = float(os.environ.get("DEMO_VIRAL_AFTER_MINUTES", "60"))
SITES_PORT = int(os.environ.get("DEMO_SITES_PORT", "8800"))
SMTP_PORT = int(os.environ.get("DEMO_SMTP_PORT", "8025"))
WEB_PORT = int(os.environ.get("DEMO_WEB_PORT", "8600"))
BRAND = "小米"
# a demo's own: never use these for a console others can reach
DEMO_USER, DEMO_PASSWORD = "demo", "groundswell-demo"
DEMO_SECRET = "demo-only-secret-key-do-not-use-in-production-0123456789"


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(f"== {text} ==")


def free(port: int) -> int:
    """`port` when nothing listens there, else any free port."""
    for candidate in (port, 0):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no owner
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


def wait_for(what: str, check: Any, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"demo: {what} exited with {proc.returncode} before it was ready")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"demo: {what} was not ready after {seconds:.0f}s")


def gs(*args: str, env: dict[str, str] | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GS, *args], env=env, capture_output=True, text=True, check=check)


def has_command(name: str) -> bool:
    return gs(name, "--help").returncode == 0


def demo_config(home: Path, sites_url: str, web_port: int) -> Path:
    """A copy of demo/groundswell.yaml under the demo folder: its sources at the simulator's port, the console at
    its port, and the demo user (whose password hash is made here, from the password the demo prints)."""
    from groundswell.web.auth import hash_password

    raw = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for s in raw.get("sources") or []:
        s["base_url"] = sites_url
    raw.setdefault("web", {})["port"] = web_port
    raw["web"]["users"] = [{"name": DEMO_USER, "email": "demo@example.com",
                            "password_hash": hash_password(DEMO_PASSWORD)}]
    path = home / "groundswell.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def window_start(home: Path, cfg_path: Path, env: dict[str, str]) -> datetime:
    """Where this run's simulated stretch begins: ending about now (so Kibana's "last 24 hours" shows it), unless an
    earlier demo run lived through that time already; then a simulated day after it, when its incidents are over,
    so this run's complaint opens a new incident (and email) instead of updating the old one."""
    from groundswell import config as gsconfig

    start = datetime.now(UTC) - timedelta(hours=HOURS)
    previous = home / "last-window.json"
    if previous.exists():
        try:
            end = datetime.fromisoformat(json.loads(previous.read_text(encoding="utf-8"))["end"])
        except (ValueError, KeyError, TypeError) as exc:
            say(f"demo: ignoring {previous}: {exc}")
        else:
            # the next simulated day: past the quiet period of the earlier incidents and out of the rules' windows
            quiet = gsconfig.load(str(cfg_path), env=env).alerting.quiet_minutes
            after = end + max(timedelta(days=1), timedelta(minutes=quiet + 60))
            if after > start:
                say(f"(an earlier demo run lived through simulated time up to {people_time(end, CHINA)}; "
                    "this one starts a simulated day later, when its incidents are over)")
                start = after
    return start.astimezone(CHINA).replace(second=0, microsecond=0)


def stop(proc: subprocess.Popen[str] | None, name: str) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        say(f"demo: {name} did not stop on SIGTERM; killing it")
        proc.kill()
        proc.wait()


def follow_run(proc: subprocess.Popen[str], log: Path, counts: dict[str, int]) -> threading.Thread:
    """Print one short line per job run of `groundswell run --json` and keep the whole output in a log file."""

    def pump() -> None:
        assert proc.stdout is not None
        with open(log, "w", encoding="utf-8") as out:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("event") != "job_run":
                    continue
                counts[event["result"]] = counts.get(event["result"], 0) + 1
                at = datetime.fromisoformat(event["finished_at"].replace("Z", "+00:00")).astimezone(CHINA)
                what = ""
                if event["kind"] in ("crawl", "revisit") and event["result"] != "skipped":
                    what = f"{event.get('items', 0)} items, {event.get('indexed', 0)} new"
                elif event["kind"] == "alerts":
                    stats = event.get("stats") or {}
                    news = [("OPENED", i) for i in stats.get("opened") or []]
                    news += [("ESCALATED", i) for i in stats.get("escalated") or []]
                    if not news and event["result"] == "ok":
                        continue  # quiet evaluations are not news
                    what = "; ".join(
                        f"{verb} {i.get('severity', '')} {i.get('incident_id', '')}: {i.get('summary', '')}"
                        if isinstance(i, dict) else f"{verb} {i}" for verb, i in news
                    )
                    if stats.get("emails_sent"):
                        what += f" ({stats['emails_sent']} email(s) sent)"
                err = f" ({event['error']})" if event.get("error") and event["result"] != "skipped" else ""
                if event["result"] == "skipped":
                    continue
                say(f"  [{at:%H:%M} sim] {event['job_id']:<24} {event['result']:<7} {what}{err}")

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def es_summary(env: dict[str, str], cfg_path: Path) -> None:
    from groundswell import config as gsconfig
    from store import mapping
    from store.client import make_client

    cfg = gsconfig.load(str(cfg_path), env=env)
    es = make_client(cfg.elasticsearch)
    alias = mapping.alias(cfg.elasticsearch.index_prefix)
    es.indices.refresh(index=alias)
    res = es.search(index=alias, size=0, aggs={
        "platform": {"terms": {"field": "platform", "size": 20},
                     "aggs": {"sentiment": {"terms": {"field": "sentiment.label", "size": 5}}}},
    })
    total = res["hits"]["total"]["value"]
    say(f"{total} mentions in {alias}:")
    say(f"  {'platform':<12} {'negative':>9} {'neutral':>9} {'positive':>9} {'total':>7}")
    for bucket in res["aggregations"]["platform"]["buckets"]:
        by = {b["key"]: b["doc_count"] for b in bucket["sentiment"]["buckets"]}
        say(f"  {bucket['key']:<12} {by.get('negative', 0):>9} {by.get('neutral', 0):>9} {by.get('positive', 0):>9} "
            f"{bucket['doc_count']:>7}")
    es.close()


def complaint_email(mails: list[Path], env: dict[str, str], cfg_path: Path, start: datetime) -> Path | None:
    """The email that opened this run's most severe complaint incident (not a crawler-health one), found by the
    incident id each email carries in X-Groundswell-Incident; None when there is none."""
    listed = gs("--config", str(cfg_path), "alerts", "list", "--json", "--limit", "50", env=env)
    rank = {"notice": 0, "urgent": 1, "crisis": 2}
    best: tuple[int, str] | None = None
    for line in listed.stdout.splitlines():
        try:
            inc = json.loads(line)
            opened = datetime.fromisoformat(str(inc.get("opened_at", "")).replace("Z", "+00:00"))
        except ValueError:
            continue
        if inc.get("source_key") or opened < start:
            continue
        candidate = (rank.get(str(inc.get("severity")), -1), str(inc.get("incident_id")))
        best = candidate if best is None or candidate[0] > best[0] else best
    if best is None:
        return None
    for path in mails:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if msg.get("X-Groundswell-Incident") == best[1]:
            return path
    return None


def stop_earlier_console(home: Path) -> None:
    """The console an earlier demo run left running (its pid file), so this run can take the port again."""
    pid_file = home / "console.pid"
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if b"groundswell" in cmdline and b"web" in cmdline:  # only ours, never a recycled pid
        os.kill(pid, signal.SIGTERM)
    pid_file.unlink(missing_ok=True)


def email_links(path: Path) -> dict[str, str]:
    body = text_of(path)
    out = {}
    for line in body.splitlines():
        for label, key in (("Open the incident: ", "incident"), ("Acknowledge: http", "ack")):
            if line.startswith(label):
                out[key] = line.split(": ", 1)[1].split(" ")[0]
    return out


def keep_console() -> bool:
    """A person at a terminal keeps the console to click the email's links; an unattended run (CI, a pipe) leaves
    nothing behind. DEMO_KEEP_CONSOLE=1 or 0 decides either way."""
    wanted = os.environ.get("DEMO_KEEP_CONSOLE")
    return sys.stdout.isatty() if wanted is None else wanted.strip() not in {"", "0", "false", "no"}


def show_console(home: Path, env: dict[str, str], cfg_path: Path, console_url: str, mails: list[Path]) -> None:
    """Start the console (on the real clock: the links stay valid) and check, as a person would, that the email's
    incident link opens after signing in and its acknowledge link asks before it acknowledges. It keeps running
    for a person at a terminal (keep_console), else it is stopped once checked."""
    proc = _serve_console(home, env, cfg_path, console_url)
    if proc is None:
        return
    try:
        _check_console(console_url, env, cfg_path, mails)
    finally:
        if keep_console():
            say(f"The console keeps running at {console_url} (pid {proc.pid}; stop it with `kill {proc.pid}`; it is "
                "stopped too when the demo runs again).")
        else:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
            (home / "console.pid").unlink(missing_ok=True)
            say("The console was stopped (an unattended run leaves nothing behind; DEMO_KEEP_CONSOLE=1 keeps it).")


def _serve_console(home: Path, env: dict[str, str], cfg_path: Path, console_url: str) -> subprocess.Popen[bytes] | None:
    """The console in its own session (so it can outlive this script), once it answers; None if it did not."""
    import urllib.parse

    web_env = {k: v for k, v in env.items() if k != "GROUNDSWELL_CLOCK"}
    log = open(home / "console.log", "w")  # noqa: SIM115 (the console outlives this script)
    proc = subprocess.Popen([GS, "--config", str(cfg_path), "web", "--port", console_url.rsplit(":", 1)[1]],
                            env=web_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    (home / "console.pid").write_text(str(proc.pid), encoding="utf-8")
    try:
        wait_for("the console", lambda: urllib.request.urlopen(f"{console_url}/healthz", timeout=1), proc)
    except SystemExit as exc:
        say(f"{exc}; its log is {home / 'console.log'}")
        return None
    say(f"The console runs at {console_url}.")
    return proc


def _check_console(console_url: str, env: dict[str, str], cfg_path: Path, mails: list[Path]) -> None:
    import http.cookiejar
    import re
    import urllib.parse

    say(f"Sign in as '{DEMO_USER}' with the password '{DEMO_PASSWORD}' (a demo account: the demo's own secret key "
        "signs its sessions and links).")
    shown = complaint_email(mails, env, cfg_path, datetime.min.replace(tzinfo=UTC)) if mails else None
    links = email_links(shown) if shown else {}
    if not links:
        say("(no incident email of this run carries console links)")
        return
    say(f"The complaint email's links, which open there: incident {links.get('incident')}")
    say(f"  and Acknowledge {links.get('ack', '(none)')}")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = opener.open(f"{console_url}/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
    form = urllib.parse.urlencode({"csrf_token": csrf.group(1) if csrf else "", "name": DEMO_USER,
                                   "password": DEMO_PASSWORD, "next": urllib.parse.urlsplit(links["incident"]).path})
    page = opener.open(f"{console_url}/login", data=form.encode(), timeout=30)
    title = re.search(r"<h1>(.*?)</h1>", page.read().decode(), re.S)
    say(f"  checked: signed in as {DEMO_USER}, the incident page answers {page.status}: "
        f"{(title.group(1).strip() if title else '?')[:100]}")
    if "ack" in links:
        ask = urllib.request.urlopen(links["ack"], timeout=30)
        asked = re.search(r"<h1>(.*?)</h1>", ask.read().decode(), re.S)
        say(f"  checked: the Acknowledge link answers {ask.status}: {(asked.group(1) if asked else '?').strip()} "
            "(a GET changes nothing; the button on that page acknowledges)")


def text_of(path: Path) -> str:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else "(no plain-text part)"
    return f"Subject: {msg['subject']}\nTo: {msg['to']}\n\n{text}"


def main() -> int:
    from core import paths

    home = paths.home() / "demo"
    mail_dir = home / "mail"
    home.mkdir(parents=True, exist_ok=True)
    stop_earlier_console(home)
    sites_port, smtp_port, web_port = free(SITES_PORT), free(SMTP_PORT), free(WEB_PORT)
    sites_url = f"http://127.0.0.1:{sites_port}"
    console_url = f"http://127.0.0.1:{web_port}"
    cfg_path = demo_config(home, sites_url, web_port)
    from sites.credentials import demo_env

    # the simulator enforces what the platforms do: it takes the test credentials a real crawl would need (a Reddit
    # app, a JD login cookie), never real ones
    env = {**os.environ, **demo_env(), "GROUNDSWELL_SMTP_HOST": "127.0.0.1", "GROUNDSWELL_SMTP_PORT": str(smtp_port),
           "GROUNDSWELL_CONFIG": str(cfg_path), "GROUNDSWELL_SECRET_KEY": DEMO_SECRET,
           "GROUNDSWELL_CONSOLE_URL": console_url}
    # the demo's data goes under the default prefix (DEMO_PREFIX only for trying the demo script itself)
    env.pop("GROUNDSWELL_INDEX_PREFIX", None)
    if os.environ.get("DEMO_PREFIX"):
        env["GROUNDSWELL_INDEX_PREFIX"] = os.environ["DEMO_PREFIX"]
    run_seconds = HOURS * 3600 / SPEED
    started: list[tuple[subprocess.Popen[str], str]] = []
    sink_note = ""
    heading("ingesting demo/sample_mentions.jsonl (three lines are bad on purpose, two are off-topic)")
    ingest = gs("--config", str(cfg_path), "ingest", str(ROOT / "demo" / "sample_mentions.jsonl"), env=env)
    say((ingest.stdout + ingest.stderr).rstrip())
    if ingest.returncode not in (0, 1):
        return ingest.returncode
    start = window_start(home, cfg_path, env)
    anchor = time.time()
    env["GROUNDSWELL_CLOCK"] = f"{start.isoformat()}@{SPEED:g}@{anchor:.3f}"
    (home / "last-window.json").write_text(json.dumps(
        {"start": start.isoformat(), "end": (start + timedelta(hours=HOURS)).isoformat()}), encoding="utf-8")
    try:
        heading(f"starting the simulated sources and a mail sink; simulated time starts at {people_time(start, CHINA)} "
                f"and runs {SPEED:g}x (GROUNDSWELL_CLOCK={env['GROUNDSWELL_CLOCK']})")
        mail_dir.mkdir(parents=True, exist_ok=True)
        if has_command("mailsink"):
            sink_cmd = [GS, "mailsink", "--port", str(smtp_port), "--dir", str(mail_dir)]
        else:  # the mail sink command is not there: aiosmtpd prints what it receives into a log instead
            sink_cmd = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}"]
            sink_note = f"(no `groundswell mailsink` here: aiosmtpd printed the email into {home / 'mailsink.log'})"
        sink = subprocess.Popen(sink_cmd, env=env, stdout=open(home / "mailsink.log", "w"),  # noqa: SIM115
                                stderr=subprocess.STDOUT, text=True)
        started.append((sink, "mail sink"))
        sites = subprocess.Popen([GS, "sites", "--port", str(sites_port), "--seed", "1", "--quiet"], env=env,
                                 stdout=open(home / "sites.log", "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
                                 text=True)
        started.append((sites, "simulator"))
        wait_for("the mail sink", lambda: socket.create_connection(("127.0.0.1", smtp_port), 1).close() is None, sink)
        wait_for("the simulator", lambda: urllib.request.urlopen(f"{sites_url}/_control/state", timeout=1), sites)
        say(f"simulator at {sites_url}, mail sink at smtp://127.0.0.1:{smtp_port} saving to {mail_dir}")

        heading(f"groundswell run --for {run_seconds:.0f}: {HOURS:g} simulated hours of crawls and alert evaluations")
        run = subprocess.Popen([GS, "--config", str(cfg_path), "run", "--for", f"{run_seconds:.0f}", "--json"],
                               env=env, stdout=subprocess.PIPE, stderr=open(home / "run.log", "w"),  # noqa: SIM115
                               text=True)
        started.append((run, "groundswell run"))
        counts: dict[str, int] = {}
        pump = follow_run(run, home / "run.jsonl", counts)
        viral_at = anchor + VIRAL_AFTER * 60 / SPEED
        while run.poll() is None and time.time() < viral_at:
            time.sleep(0.5)
        if run.poll() is None:
            req = urllib.request.Request(f"{sites_url}/_control/viral?keyword={urllib.request.quote(BRAND)}"
                                         "&platform=weibo", method="POST", data=b"")
            with urllib.request.urlopen(req, timeout=10) as resp:
                state = json.loads(resp.read())
            say(f"  [{datetime.fromisoformat(state['now']).astimezone(CHINA):%H:%M} sim] a big account posts a "
                f"complaint about {BRAND} on Weibo and it starts to spread (post {state['viral_id']})")
        code = run.wait(timeout=run_seconds + 300)
        pump.join(timeout=10)
        say(f"groundswell run ended ({code}): " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
        if code != 0:
            say(f"demo: groundswell run failed; its log is {home / 'run.log'}")
            return 1
    finally:
        for proc, name in reversed(started):
            stop(proc, name)

    heading("mentions per platform and sentiment")
    es_summary(env, cfg_path)

    heading("incidents (groundswell alerts list)")
    if has_command("alerts"):
        listed = gs("--config", str(cfg_path), "alerts", "list", "--limit", "5", env=env)
        say((listed.stdout or listed.stderr).rstrip())
    else:
        say("(`groundswell alerts` is not available in this build)")

    heading("the alert email")
    mails = sorted(mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime)
    since = [p for p in mails if p.stat().st_mtime >= anchor]
    if since:
        shown = complaint_email(since, env, cfg_path, start) or since[-1]
        say(f"{len(since)} email(s) saved in {mail_dir} during this run; the complaint's: {shown}")
        say()
        say(text_of(shown).rstrip())
    elif sink_note:
        say(sink_note)
        say("\n".join((home / "mailsink.log").read_text(encoding="utf-8", errors="replace").splitlines()[:60]))
    else:
        say(f"no email arrived in {mail_dir} during this run")

    heading("the console")
    show_console(home, env, cfg_path, console_url, since)

    heading("searching: groundswell search 黑屏 --since 1d --limit 5")
    found = gs("--config", str(cfg_path), "search", "黑屏", "--since", "1d", "--limit", "5", env=env)
    say((found.stdout or found.stderr).rstrip())

    heading("scheduler status (groundswell status)")
    say(gs("--config", str(cfg_path), "status", env=env).stdout.rstrip())

    heading("Kibana")
    say("Kibana cannot run here; on a machine that has it (8.19, like the node):")
    say("  bin/kibana --elasticsearch.hosts=http://127.0.0.1:9200")
    say("  (or the Kibana Docker image with ELASTICSEARCH_HOSTS=http://<this host>:9200)")
    prefix = env.get("GROUNDSWELL_INDEX_PREFIX") or "groundswell"
    if prefix == "groundswell":
        say("  then Stack Management > Saved objects > Import: kibana/groundswell-saved-objects.ndjson")
        say("  (or `groundswell kibana export`), or a data view on 'groundswell-mentions' with time field @timestamp.")
    else:  # the shipped file names the default prefix's indices
        say("  then Stack Management > Saved objects > Import the output of "
            f"`groundswell kibana export --prefix {prefix}`,")
        say(f"  or a data view on '{prefix}-mentions' with time field @timestamp.")
    end = start + timedelta(hours=HOURS)
    say(f"  Simulated time of this run: {people_time(start, CHINA)} to {people_time(end, CHINA)}: pick that range in "
        "Kibana's time picker.")
    say()
    prefix = env.get("GROUNDSWELL_INDEX_PREFIX", "groundswell")
    say(f"Everything stays in Elasticsearch under the prefix '{prefix}'; logs and mail are in {home}.")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
