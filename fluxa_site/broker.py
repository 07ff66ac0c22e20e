"""The embedded broker of `make run`: kombu's filesystem transport, with writes and reads that
cannot hand the worker an empty or half-written message.

kombu's own transport (kombu.transport.filesystem) creates the message file in the queue folder
and only then writes it, and its reader moves a file out of the folder and reads it at once: a
reader that lists the file between the two reads zero bytes, and `loads(b"")` raises the
`JSONDecodeError` that stops the worker (kombu issue #1551). Its reader also moves the file to
the system temp folder, which on another filesystem is a copy, not a rename.

Here a message is written and fsynced under a name no reader looks at (`<broker>/tmp/`) and
then renamed into the queue folder, so a reader sees a complete file or none. The reader
renames the file into `<broker>/processed/` (same filesystem: atomic, one reader wins), reads
it there, and a file that still does not parse (left by an older kombu, a full disk or a
hand) is moved to `<broker>/corrupt/` with a warning instead of crashing the worker.

A message a worker had taken when it was killed outright is gone (as with kombu's own
transport): every task of fluxa is either periodic (beat sends it again) or re-found from the
database by a periodic one (webhooks.dispatch_due_deliveries, every 15 s), so nothing is lost
for good; scripts/run.py starts a dead worker again.

Used with CELERY_BROKER_URL=filesystem:// (settings.CELERY_BROKER_TRANSPORT names this
module). Redis stays the broker of production and of the tests.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger("fluxa.broker")

FOLDERS = ("out", "tmp", "processed", "corrupt", "control")


def broker_options(broker_dir: Path) -> dict:
    """The transport options of the folder layout above (the folders are created here)."""
    for name in FOLDERS:
        (broker_dir / name).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(broker_dir / "out"),
        "data_folder_out": str(broker_dir / "out"),
        "processed_folder": str(broker_dir / "processed"),
        "control_folder": str(broker_dir / "control"),
        "store_processed": False,
    }


class Channel(filesystem.Channel):
    @property
    def _broker_dir(self) -> Path:
        return Path(self.data_folder_out).parent

    def _put(self, queue, payload, **kwargs):
        """Write the message under tmp/, fsync it, then rename it into the queue folder."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        tmp = self._broker_dir / "tmp" / name
        try:
            tmp.parent.mkdir(exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise ChannelError(f"Cannot add message {name!r} to the broker folder") from exc

    def _get(self, queue):
        """The oldest complete message of `queue`; unreadable files are set aside, not raised."""
        wanted = f"{queue}.msg"
        processed = Path(self.processed_folder)
        processed.mkdir(exist_ok=True)
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            taken = processed / name
            try:
                os.rename(os.path.join(self.data_folder_in, name), taken)
            except OSError:  # another reader took it first
                continue
            try:
                payload = taken.read_bytes()
            except OSError as exc:
                raise ChannelError(f"Cannot read message {name!r} from the broker folder") from exc
            try:
                message = loads(bytes_to_str(payload))
                if not isinstance(message, dict):
                    raise ValueError("not a message object")
            except (ValueError, UnicodeDecodeError) as exc:
                self._set_aside(taken, len(payload), exc)
                continue
            taken.unlink(missing_ok=True)
            return message
        raise Empty()

    def _set_aside(self, path: Path, size: int, error: Exception) -> None:
        corrupt = self._broker_dir / "corrupt"
        corrupt.mkdir(exist_ok=True)
        try:
            os.replace(path, corrupt / path.name)
        except OSError:
            path.unlink(missing_ok=True)
        logger.warning("broker: set aside unreadable message file %s (%d bytes): %s",
                       path.name, size, error if not isinstance(error, json.JSONDecodeError) else error.msg)


class Transport(filesystem.Transport):
    Channel = Channel
