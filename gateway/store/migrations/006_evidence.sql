-- Evidence sets (issue 13). One row per item of an event's set: stills at confirmation,
-- warning and recheck, the clip, the warning audio. `redacted_*` is the copy with
-- bystanders blurred, the only form that leaves the box unless an export is --unredacted.
-- A deleted file (retention, low disk) keeps its row: the manifest still names its hash.
CREATE TABLE evidence_items (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id        TEXT NOT NULL,
  name            TEXT NOT NULL,
  kind            TEXT NOT NULL,
  moment          TEXT NOT NULL,
  at              INTEGER NOT NULL,
  path            TEXT NOT NULL,
  sha256          TEXT NOT NULL,
  bytes           INTEGER NOT NULL,
  source          TEXT,
  data            TEXT NOT NULL DEFAULT '{}',
  redacted_path   TEXT,
  redacted_sha256 TEXT,
  redacted_bytes  INTEGER,
  deleted_at      INTEGER,
  deleted_why     TEXT,
  redacted_deleted_at INTEGER,
  UNIQUE (event_id, name)
);
CREATE INDEX evidence_items_event ON evidence_items (event_id);
CREATE INDEX evidence_items_live ON evidence_items (deleted_at, kind, at);

-- What could not be captured, and why (no still source, ring off, the warning did not play).
CREATE TABLE evidence_missing (
  event_id TEXT NOT NULL,
  kind     TEXT NOT NULL,
  moment   TEXT NOT NULL,
  reason   TEXT NOT NULL,
  at       INTEGER NOT NULL
);
CREATE INDEX evidence_missing_event ON evidence_missing (event_id);

-- The signed manifests, one per event, in the order they were sealed. Each names the
-- previous one's SHA-256, so a removed manifest breaks the chain for every later one.
CREATE TABLE evidence_manifests (
  seq         INTEGER PRIMARY KEY,
  event_id    TEXT NOT NULL UNIQUE,
  sha256      TEXT NOT NULL,
  prev_sha256 TEXT,
  body        BLOB NOT NULL,
  signature   BLOB NOT NULL,
  sealed_at   INTEGER NOT NULL
);

-- Every export, who asked for it and whether it carried the unblurred originals.
CREATE TABLE evidence_exports (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id   TEXT,
  at         INTEGER NOT NULL,
  unredacted INTEGER NOT NULL,
  via        TEXT NOT NULL,
  actor      TEXT,
  reason     TEXT,
  target     TEXT
);
