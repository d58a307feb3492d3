/** The event's record and states live in the neutral core/event.ts (dispatch/ reads them too). */
export { EVENT_STATES, TERMINAL, type EventRecord, type EventState } from '../core/event.ts';
