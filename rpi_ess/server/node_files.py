"""Files the node configuration names: can the service read them, and are the TLS files usable?

Checked when the configuration is loaded, so a wrong path or a bad key is one line naming the
setting and the file, not an ``ssl.SSLError`` from deep inside the server's start-up.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from ..accounts import user_name

__all__ = ["TlsSettings", "file_problem"]


@dataclass(frozen=True)
class TlsSettings:
    certfile: str
    keyfile: str
    client_ca: str | None = None  # if set, clients must present a certificate signed by it

    def context(self) -> ssl.SSLContext:
        """The server's TLS context; raises ssl.SSLError/OSError (:meth:`problems` says why in words)."""
        context = self._with_certificate()
        if self.client_ca:
            self._require_client_certificates(context)
        return context

    def _with_certificate(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile, password=_no_password)
        return context

    def _require_client_certificates(self, context: ssl.SSLContext) -> None:
        context.load_verify_locations(self.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED

    def problems(self) -> list[str]:
        """What is wrong with the files, each naming the setting and the file; [] if usable."""
        files = {"certfile": self.certfile, "keyfile": self.keyfile, "client_ca": self.client_ca}
        errors = [f"server.tls.{key}: {path}: {problem}" for key, path in files.items()
                  if path is not None and (problem := file_problem(path)) is not None]
        if errors:
            return errors
        try:
            context = self._with_certificate()
        except (ssl.SSLError, _EncryptedKey) as e:
            return [_cert_problem(self.certfile, self.keyfile, e)]
        if self.client_ca:
            try:
                self._require_client_certificates(context)
            except ssl.SSLError as e:
                return [f"server.tls.client_ca: {self.client_ca}: not a PEM CA certificate bundle "
                        f"({e.reason or e.strerror})"]
        return []


class _EncryptedKey(Exception):
    pass


def _no_password() -> bytes:
    """An encrypted key must fail here, not stop an unattended service at a password prompt."""
    raise _EncryptedKey


def _cert_problem(certfile: str, keyfile: str, error: Exception) -> str:
    if isinstance(error, _EncryptedKey):
        return f"server.tls.keyfile: {keyfile}: the key is encrypted; the service needs an unencrypted key (mode 0600)"
    reason = getattr(error, "reason", None) or str(error)
    if reason == "KEY_VALUES_MISMATCH":
        return f"server.tls.keyfile: {keyfile}: does not match the certificate in {certfile}"
    if "BEGIN CERTIFICATE" not in Path(certfile).read_text(errors="replace"):
        return f"server.tls.certfile: {certfile}: not a PEM certificate (no BEGIN CERTIFICATE line)"
    if "PRIVATE KEY" not in Path(keyfile).read_text(errors="replace"):
        return f"server.tls.keyfile: {keyfile}: not a PEM private key (no BEGIN PRIVATE KEY line)"
    return f"server.tls: {certfile} and {keyfile}: not a usable certificate and key ({reason})"


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the service cannot read this file, in words; None if it can."""
    try:
        with open(path, "rb") as f:
            f.read(1)
    except FileNotFoundError:
        return "no such file"
    except IsADirectoryError:
        return "is a directory, not a file"
    except PermissionError:
        user = user_name()
        return f"permission denied for user {user} (make it readable by the service, e.g. group rpi-ess, mode 0640)"
    except OSError as e:
        return f"cannot read: {e.strerror or e}"
    return None
