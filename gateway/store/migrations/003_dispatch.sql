-- Dispatch as a state machine: offered → accepted → arrived → closed, or declined,
-- timed_out, withdrawn. One row per officer asked; an event may have several.
ALTER TABLE dispatches ADD COLUMN town TEXT;
ALTER TABLE dispatches ADD COLUMN tier TEXT NOT NULL DEFAULT 'local';
ALTER TABLE dispatches ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE dispatches ADD COLUMN reason TEXT;
ALTER TABLE dispatches ADD COLUMN deadline_at INTEGER;
ALTER TABLE dispatches ADD COLUMN accepted_at INTEGER;
ALTER TABLE dispatches ADD COLUMN arrived_at INTEGER;
ALTER TABLE dispatches ADD COLUMN closed_at INTEGER;
-- Open jobs per officer, for "never double-booked".
CREATE INDEX dispatches_officer ON dispatches (officer_id, state);
CREATE INDEX event_transitions_to ON event_transitions (to_state, at);
CREATE INDEX events_confirmed ON events (confirmed_at);
-- Rows written before this migration used 'sent' for an offer.
UPDATE dispatches SET state = 'offered', deadline_at = due_at WHERE state = 'sent';
