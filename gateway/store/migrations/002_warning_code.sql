-- Warnings keep the machine-readable reason (unreachable, auth, quiet_hours, ...) and
-- whether the attempt was the first warning (0) or a firmer repeat (1, 2, ...).
ALTER TABLE warnings ADD COLUMN code TEXT;
ALTER TABLE warnings ADD COLUMN repeat INTEGER NOT NULL DEFAULT 0;
