"""The embedded broker of `make run` (fluxa_site/broker.py) with kombu's own API: an empty or
half-written message file in the queue folder is set aside, never a crash, and the messages
around it are delivered; a message is renamed into the folder only once it is complete."""

import os
from pathlib import Path

import pytest
from kombu import Connection

from fluxa_site.broker import Transport, broker_options


def _connection(broker_dir: Path) -> Connection:
    return Connection("filesystem://", transport=Transport, transport_options=broker_options(broker_dir))


def test_an_empty_or_corrupt_message_file_is_set_aside_and_the_next_one_delivered(tmp_path, caplog):
    broker = tmp_path / "broker"
    with _connection(broker) as conn:
        queue = conn.SimpleQueue("celery")
        queue.put({"n": 1})
        # What kombu's own writer leaves for a moment (issue #1551), and a torn write.
        (broker / "out" / "1_00000000-0000-0000-0000-000000000000.celery.msg").write_bytes(b"")
        (broker / "out" / "2_00000000-0000-0000-0000-000000000001.celery.msg").write_bytes(b'{"body": "ab')
        queue.put({"n": 2})

        got = []
        for _ in range(2):
            message = queue.get(timeout=2)
            got.append(message.payload["n"])
            message.ack()
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.2)
        queue.close()

    assert sorted(got) == [1, 2]
    assert sorted(p.name for p in (broker / "corrupt").iterdir()) == [
        "1_00000000-0000-0000-0000-000000000000.celery.msg", "2_00000000-0000-0000-0000-000000000001.celery.msg"]
    assert "set aside unreadable message file" in caplog.text
    assert not list((broker / "out").iterdir()) and not list((broker / "tmp").iterdir())


def test_a_message_is_complete_whenever_it_is_in_the_queue_folder(tmp_path, monkeypatch):
    broker = tmp_path / "broker"
    seen = []
    real_replace = os.replace

    def replace(src, dst):  # at the moment of the rename, the file is whole and outside the folder
        seen.append((Path(src).parent.name, Path(src).stat().st_size, list((broker / "out").iterdir())))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with _connection(broker) as conn:
        # A queue name of its own: kombu keeps the bindings it made in a process-wide state.
        queue = conn.SimpleQueue("whole")
        queue.put({"n": 1})
        folder, size, listed = seen[-1]
        assert folder == "tmp" and size > 0 and listed == []
        message = queue.get(timeout=2)
        assert message.payload == {"n": 1}
        message.ack()
        queue.close()
