"""A real IMAP server for tests: Dovecot (Debian's ``dovecot-imapd``) on a loopback port, one
user with a Maildir, started in the foreground with its own configuration and stopped after."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "replies@onefunnel.example"
PASSWORD = "s3cret pass"


@dataclass(frozen=True)
class ImapServer:
    """Where the server listens and who may log in."""

    port: int
    user: str = USER
    password: str = PASSWORD

    def url(self, folder: str = "INBOX", password: str | None = None) -> str:
        """An ``imap://`` URL for the user (the password percent-encoded)."""
        from urllib.parse import quote

        secret = quote(self.password if password is None else password, safe="")
        return f"imap://{quote(self.user, safe='')}:{secret}@127.0.0.1:{self.port}/{folder}"

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message in the folder, as the MTA's delivery would."""
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            imap.login(self.user, self.password)
            status, _ = imap.append(folder, None, None, raw)
            assert status == "OK"
        finally:
            imap.logout()

    def unseen(self, folder: str = "INBOX") -> int:
        """How many messages in the folder are not marked seen."""
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            imap.login(self.user, self.password)
            imap.select(folder, readonly=True)
            _, found = imap.search(None, "UNSEEN")
            return len((found[0] or b"").split())
        finally:
            imap.logout()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        # Dovecot will not deliver as root: its processes and the mail user are "nobody".
        owner, group = "nobody", "nogroup"
        uid, gid = pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid
    else:
        entry = pwd.getpwuid(os.geteuid())
        owner, uid, gid = entry.pw_name, entry.pw_uid, entry.pw_gid
        group = str(gid)
    home = root / "home"
    home.mkdir()
    os.chown(home, uid, gid)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {owner}
default_internal_group = {group}
default_login_user = {owner}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


@contextmanager
def imap_server() -> Iterator[ImapServer]:
    """Run Dovecot on 127.0.0.1 for the block (skips the test where it is not installed; fails
    on CI, where scripts/system-deps.sh installs it)."""
    if not Path(DOVECOT).exists():
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed (scripts/system-deps.sh installs it)")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="onefunnel-imap-"))
    root.chmod(0o755)  # the mail user ("nobody" under root) reaches its home below
    port = _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port))
    for folder in ("run", "state"):
        (root / folder).mkdir()
    server = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (root / "dovecot.log").read_text()
                        if (root / "dovecot.log").exists()
                        else ""
                    )
                    raise RuntimeError(f"dovecot did not start: {log[-2000:]}") from None
                time.sleep(0.1)
        yield ImapServer(port)
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)
