"""Each backend's schema, as the migrations that make it (sqlite.py, postgres.py): a new database
runs them all from version 1, an older one the versions it lacks. A test checks that both backends
end with the same indexes."""

from __future__ import annotations

import sqlite3


def statements(script: str) -> list[str]:
    """Split a script into statements; a trigger body's semicolons stay inside its statement."""
    out, buf = [], ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    return out


# Every pending job after NEW (a job just dead), transitively, made dead at once. Each names a dead
# job it waited for: NEW if it waited for it directly, else the first by id of its dead ones.
# {first}: whether NEW is among a job's dependencies, in the dialect's aggregate.
DEAD_WALK = """UPDATE jobs SET state = 'dead', last_error = 'dependency ' || down.after_id || ' is dead',
                        finished_at = NEW.finished_at, updated_at = NEW.updated_at
        FROM (WITH RECURSIVE walk(id, after_id) AS (
                  SELECT d.job_id, d.after_id FROM deps d JOIN jobs j ON j.id = d.job_id
                      WHERE d.after_id = NEW.id AND j.state = 'pending'
                  UNION
                  SELECT d.job_id, d.after_id FROM walk JOIN deps d ON d.after_id = walk.id
                      JOIN jobs j ON j.id = d.job_id WHERE j.state = 'pending')
              SELECT id, CASE WHEN {first} THEN NEW.id ELSE min(after_id) END AS after_id
              FROM walk GROUP BY id) AS down
        WHERE jobs.id = down.id AND jobs.state = 'pending'"""
