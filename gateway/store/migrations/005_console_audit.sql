-- Every write made from the console: who (user and role), what (action and target),
-- when, whether it was allowed and carried out, and the details (reason, fields changed).
-- Refused attempts are kept too: a viewer trying to save, a wrong password.
CREATE TABLE audit (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  at       INTEGER NOT NULL,
  user     TEXT NOT NULL,
  role     TEXT,
  action   TEXT NOT NULL,
  target   TEXT,
  outcome  TEXT NOT NULL,
  detail   TEXT NOT NULL DEFAULT '{}',
  address  TEXT
);
CREATE INDEX audit_at ON audit (at);
