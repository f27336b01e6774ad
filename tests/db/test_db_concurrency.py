"""Twenty writer threads, each on its own session, write into the same conversation at once: none is lost."""

from __future__ import annotations

import threading

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db import repository as repo

THREADS = 20
MESSAGES_PER_THREAD = 5


def write_burst(
    factory: sessionmaker[Session], owner: int, session_id: int, worker: int, barrier: threading.Barrier
) -> None:
    """One writer: a few plain messages, then a whole generation (start, finish)."""
    barrier.wait()
    with factory() as s:
        for i in range(MESSAGES_PER_THREAD):
            repo.add_message(s, owner_id=owner, session_id=session_id, role="user", content=f"w{worker}-m{i}")
        _, reply = repo.start_generation(
            s,
            owner_id=owner,
            session_id=session_id,
            prompt=f"w{worker}-prompt",
            style="poetry",
            lora_scale=1.0,
            params={"worker": worker},
        )
        repo.finish_generation(
            s,
            message_id=reply.id,
            content=f"w{worker}-reply",
            status="complete",
            prompt_tokens=1,
            completion_tokens=1,
            ttft_ms=1.0,
            latency_ms=1.0,
        )


def test_twenty_concurrent_writers_lose_nothing(s: Session, session_factory: sessionmaker[Session]) -> None:
    owner = repo.create_user(s, username="crowd", password="correct horse battery").id
    session_id = repo.create_session(s, owner_id=owner, title="Busy", style="poetry").id
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            write_burst(session_factory, owner, session_id, worker, barrier)
        except BaseException as exc:  # collected and reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    rows = s.execute(text("SELECT content, status FROM messages ORDER BY id")).all()
    expected = {f"w{w}-m{i}" for w in range(THREADS) for i in range(MESSAGES_PER_THREAD)}
    expected |= {f"w{w}-{kind}" for w in range(THREADS) for kind in ("prompt", "reply")}
    assert len(rows) == len(expected) == THREADS * (MESSAGES_PER_THREAD + 2)
    assert {row.content for row in rows} == expected
    assert {row.status for row in rows} == {"complete"}
    for w in range(THREADS):  # each writer's own messages kept their order
        mine = [row.content for row in rows if row.content.startswith(f"w{w}-")]
        assert mine == [f"w{w}-m{i}" for i in range(MESSAGES_PER_THREAD)] + [f"w{w}-prompt", f"w{w}-reply"]
