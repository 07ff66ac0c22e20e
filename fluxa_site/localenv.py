"""The local installation's secrets for `make run` and `manage.py` on a developer's machine:
`.data/run.env` (mode 0600, git-ignored), written on first use. Production sets SECRET_KEY and
FLUXA_ENCRYPTION_KEYS in its environment, and then this file is never read or written."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_env_file(data_dir: Path) -> Path:
    from cryptography.fernet import Fernet

    path = data_dir / "run.env"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "# Generated on first use: this installation's secrets. Keep private.\n"
            f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
            f"FLUXA_ENCRYPTION_KEYS={Fernet.generate_key().decode()}\n"
            "DEBUG=true\n"
            "# Development: webhook receivers on this machine are allowed in live mode too.\n"
            "FLUXA_WEBHOOK_ALLOW_PRIVATE=true\n"
        )
        path.chmod(0o600)
    return path


def use_local_env_unless_configured() -> None:
    """When neither SECRET_KEY nor FLUXA_ENV_FILE is set, use (and create) .data/run.env."""
    if os.environ.get("SECRET_KEY") or os.environ.get("FLUXA_ENV_FILE"):
        return
    data_dir = Path(os.environ.get("FLUXA_DATA_DIR", ROOT / ".data"))
    os.environ["FLUXA_ENV_FILE"] = str(ensure_env_file(data_dir))
