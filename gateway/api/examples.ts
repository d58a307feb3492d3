/** Example payloads for docs/asyncapi.yaml; a test checks each against its schema. */
const EV = '01JDQ7Z3K8M2V5X9A4B6C8D0EF';
const DSP = '01JDQ80A1B2C3D4E5F6G7H8J9K';
const SHA = '9f2c4a1d0b7e3f5a8c6d2e4f1a3b5c7d9e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8b';
const place = { camera_id: 'cam-plaza', camera_name: '中心街广场', zone: '广场步行区', name: '中心街广场', lat: 28.7712, lon: 118.5553 };
const url = `http://192.168.10.5:8080/evidence/${EV}.jpg?token=Jb0dXo2m1kq7Yw3c9t4RzQfH6uLp8aSe`;

const dispatch = {
  msg_id: '01JDQ80A1C0000000000000000', gateway: 'hecun-01', dispatch_id: DSP, event_id: EV, state: 'offered', reason: null,
  officer_id: 'off-wang', officer_name: '王队员', town: '贺村镇', tier: 'local', attempt: 1, summary: '违章停车：中心街广场 广场步行区',
  type: 'illegal_parking', type_zh: '违章停车', confirmed_at: '2026-11-26T09:00:00.000Z', place, distance_m: 211,
  evidence: { sha256: SHA, url }, answer_by: '2026-11-26T09:04:02.000Z', deadline: '2026-11-26T09:32:02.000Z', at: '2026-11-26T09:02:02.000Z',
};

export const EXAMPLES: Record<string, unknown[]> = {
  Status: [{ state: 'online', at: '2026-11-26T08:00:00.000Z', version: '0.1.0', contract: 'v1' }, { state: 'offline', reason: 'connection lost', version: '0.1.0', contract: 'v1' }],
  Event: [{
    msg_id: '01JDQ7Z3K9000000000000000A', gateway: 'hecun-01', id: EV, seq: 1042, type: 'illegal_parking', type_zh: '违章停车', state: 'confirmed',
    camera: { id: 'cam-plaza', name: '中心街广场', location: { lat: 28.7712, lon: 118.5553 }, place: '中心街广场' },
    zone: { id: 'plaza', name: '广场步行区' }, track_ids: [17], classes: ['car'], box: [0.52, 0.61, 0.8, 0.93],
    first_seen_at: '2026-11-26T08:57:00.000Z', confirmed_at: '2026-11-26T09:00:00.000Z', dwell_s: 180,
    evidence: { sha256: SHA, url, content_type: 'image/jpeg' },
  }],
  Transition: [
    { msg_id: '01JDQ80A1A000000000000000B', gateway: 'hecun-01', event_id: EV, seq: 1042, type: 'illegal_parking', camera: 'cam-plaza', from: 'rechecked', to: 'escalated', at: '2026-11-26T09:02:01.000Z', reason: 'still there after the grace period', officer_id: null },
    { msg_id: '01JDQ80A1B000000000000000C', gateway: 'hecun-01', event_id: EV, seq: 1042, type: 'illegal_parking', camera: 'cam-plaza', from: 'escalated', to: 'dispatched', at: '2026-11-26T09:02:02.000Z', reason: null, officer_id: 'off-wang', dispatch_id: DSP, distance_m: 211, tier: 'local', town: '贺村镇', attempt: 1 },
  ],
  Dispatch: [dispatch, { ...dispatch, msg_id: '01JDQ81B00000000000000000D', state: 'declined', reason: '正在处理其他事件', answer_by: null, at: '2026-11-26T09:02:40.000Z' }],
  Alert: [{ msg_id: '01JDQ82C00000000000000000E', gateway: 'hecun-01', kind: 'no_officer', event_id: EV, tried: ['off-wang'], at: '2026-11-26T09:03:00.000Z', message: `no available officer for event ${EV} (illegal_parking) at 中心街广场: no other available officer (asked: off-wang); trying again every 30 s` }],
  OfficerState: [{ lat: 28.7731, lon: 118.5583, on_duty: true, busy: false, at: '2026-11-26T09:01:30.000Z' }],
  OfficerReply: [{ dispatch_id: DSP, action: 'accept' }, { dispatch_id: DSP, action: 'decline', reason: '正在处理其他事件' }, { dispatch_id: DSP, action: 'closed', note: '车辆已驶离，已教育' }],
  ResolveCommand: [{ event_id: EV, reason: '已由网格员处理', transaction: 'p-7781' }],
  CancelCommand: [{ event_id: EV, reason: '误报：施工车辆', transaction: 'p-7782' }],
  ShoutCommand: [{ text: '请勿在广场停车', cameras: ['cam-plaza'], expires_at: '2026-11-26T09:05:00.000Z', transaction: 'p-7783' }],
  TestSpeakerCommand: [{ speaker: 'spk-plaza', transaction: 7784 }],
  StatsCommand: [{ since: '2026-11-01T00:00:00+08:00', transaction: 'p-7785' }],
  ReloadConfigCommand: [{ transaction: 'p-7786' }],
  ResolveReply: [{ status: 'ok', command: 'resolve', gateway: 'hecun-01', at: '2026-11-26T09:10:00.000Z', transaction: 'p-7781', data: { event_id: EV, from: 'dispatched', to: 'closed' } }],
  ErrorReply: [{ status: 'error', command: 'cancel', gateway: 'hecun-01', at: '2026-11-26T09:10:00.000Z', transaction: null, error: { code: 'bad_json', message: 'payload is not JSON: Unexpected token } in JSON at position 13' } }],
};
