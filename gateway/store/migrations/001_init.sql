-- Events and their lifecycle. seq is the per-gateway sequence number the platform uses
-- to spot gaps; id is the ULID that names the event everywhere.
CREATE TABLE events (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  id             TEXT NOT NULL UNIQUE,
  type           TEXT NOT NULL,
  camera_id      TEXT NOT NULL,
  zone_id        TEXT NOT NULL,
  state          TEXT NOT NULL,
  track_ids      TEXT NOT NULL,
  classes        TEXT NOT NULL,
  box            TEXT NOT NULL,
  first_seen_at  INTEGER NOT NULL,
  confirmed_at   INTEGER NOT NULL,
  due_at         INTEGER,
  evidence_path  TEXT,
  evidence_sha256 TEXT,
  officer_id     TEXT,
  reason         TEXT,
  data           TEXT NOT NULL DEFAULT '{}',
  updated_at     INTEGER NOT NULL,
  closed_at      INTEGER
);
CREATE INDEX events_open ON events (closed_at, due_at);
CREATE INDEX events_spot ON events (camera_id, zone_id, type, confirmed_at);

CREATE TABLE event_transitions (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id  TEXT NOT NULL REFERENCES events (id),
  from_state TEXT,
  to_state  TEXT NOT NULL,
  at        INTEGER NOT NULL,
  data      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX event_transitions_event ON event_transitions (event_id, id);

-- Every warning attempt, played or failed, with the reason.
CREATE TABLE warnings (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id    TEXT,
  speaker_id  TEXT NOT NULL,
  at          INTEGER NOT NULL,
  outcome     TEXT NOT NULL,
  reason      TEXT,
  duration_ms INTEGER,
  text        TEXT NOT NULL
);

-- Everything northbound waits here until the broker acknowledged it (QoS 1) or it was
-- handed to the socket (QoS 0). msg_id makes a re-send recognisable as the same message.
CREATE TABLE outbox (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  msg_id      TEXT NOT NULL UNIQUE,
  topic       TEXT NOT NULL,
  payload     BLOB NOT NULL,
  qos         INTEGER NOT NULL,
  retain      INTEGER NOT NULL,
  priority    INTEGER NOT NULL,
  order_key   TEXT,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER,
  attempts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_next ON outbox (priority, id);

-- Officers' last reported state, from their phones.
CREATE TABLE officer_state (
  officer_id  TEXT PRIMARY KEY,
  lat         REAL,
  lon         REAL,
  on_duty     INTEGER NOT NULL DEFAULT 1,
  busy        INTEGER NOT NULL DEFAULT 0,
  reported_at INTEGER NOT NULL
);

CREATE TABLE dispatches (
  id          TEXT PRIMARY KEY,
  event_id    TEXT NOT NULL REFERENCES events (id),
  officer_id  TEXT NOT NULL,
  state       TEXT NOT NULL,
  distance_m  REAL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  due_at      INTEGER
);
CREATE INDEX dispatches_event ON dispatches (event_id);
CREATE INDEX outbox_key ON outbox (order_key, id);
