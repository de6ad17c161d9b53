"""DATABASE_REPLICA_URL: a replica that cannot be reached (or is not a PostgreSQL
standby within REPLICA_MAX_LAG_SECONDS) never fails a search: it reads from the primary.
Reading from a live standby within and past the bound: tests/faults/test_replication.py."""

from __future__ import annotations

from datetime import timedelta

from cowin_kit.testing import publish, today


def test_an_unreachable_replica_sends_searches_to_the_primary(reg_app, make_app):
    session_id = publish(reg_app, days_ahead=3)
    app = make_app(DATABASE_REPLICA_URL="postgresql+psycopg://postgres@127.0.0.1:1/cowin",
                   AVAILABILITY_CACHE_SECONDS=0)
    day = today() + timedelta(days=3)
    client = app.test_client()
    for _ in range(2):  # the second within the retry pause: no new attempt, same answer
        answer = client.get(f"/api/v1/sessions?location=IN-KL&date={day.isoformat()}")
        assert answer.status_code == 200
        assert session_id in answer.get_data(as_text=True)
        v2 = client.get(f"/api/v2/appointment/sessions/public/findByPin?pincode=695001"
                        f"&date={day.strftime('%d-%m-%Y')}")
        assert v2.status_code == 200 and session_id in v2.get_data(as_text=True)
