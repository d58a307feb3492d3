#!/usr/bin/python3
"""RTSP test peer: serves pre-encoded H.264/H.265 files, looping forever, no re-encoding.

Run with /usr/bin/python3 (the Debian one has `gi`):
  rtsp_server.py --port 8554 --mount /cam=clip.mp4 [--mount ...]
                 [--copies 134 --mount-template /cam{i}=clip.mp4]   # {i} = 1..N
                 [--user U --password P] [--auth basic|digest|both]
                 [--transport tcp|udp|both] [--address 127.0.0.1] [--phases K]
Prints `READY <port>` once listening (--port 0 picks a free port). SIGTERM/SIGINT exit 0.

Design, and why:
- Each file is demuxed and parsed ONCE at start-up into memory (access units in Annex-B with
  SPS/PPS/VPS repeated before every key frame). A bad file therefore fails fast, before READY.
- One feeder thread per file replays those access units on the wall clock, looping with
  continuous timestamps, so a stream never ends and never jumps back in time.
- Every mount of the same file shares one media factory and ONE live media
  (`appsrc ! rtph26Xpay`): 134 mounts of one clip cost one payloader, not 134 pipelines.
  Being live, the media is not seekable, so a client's `Range: npt=0-` cannot rewind others.
  The catch: those mounts send identical frames in lockstep, key frames all at once. Real
  cameras do not, so --phases K plays each file K times, offset by loop/K, and deals the
  mounts out round-robin: K medias per file, key frames spread over the GOP.
- A new media starts at the next key frame, as a camera would; DESCRIBE can therefore take
  up to one GOP while the first media prerolls.
"""
import argparse
import ctypes
import os
import signal
import sys
import threading
import time

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtsp', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def log(msg):
    print(f'rtsp_server: {msg}', file=sys.stderr, flush=True)


DEBUG = bool(os.environ.get('RTSP_PEER_DEBUG'))


def debug(msg):
    if DEBUG:
        log(msg)


class Clip:
    """A file read into memory as a list of (Gst.Buffer, pts, dts, duration, is_key)."""

    def __init__(self, path):
        self.path = path
        self.frames = []
        self.caps = None
        self._load()

    def _load(self):
        if not os.path.isfile(self.path):
            raise RuntimeError(f'no such file: {self.path}')
        pipe = Gst.Pipeline.new('reader')
        src = Gst.ElementFactory.make('filesrc')
        src.set_property('location', self.path)
        # parsebin picks demuxer (qtdemux, matroskademux, none for Annex-B) and parser for us.
        parse = Gst.ElementFactory.make('parsebin')
        sink = Gst.ElementFactory.make('appsink')
        sink.set_property('sync', False)
        sink.set_property('max-buffers', 0)
        pipe.add(src)
        pipe.add(parse)
        pipe.add(sink)
        src.link(parse)
        linked = []

        def on_pad(_el, pad):
            caps = pad.get_current_caps() or pad.query_caps(None)
            name = caps.get_structure(0).get_name()
            if name in ('video/x-h264', 'video/x-h265') and not linked:
                codec = name[-4:]
                # A second parser after parsebin's own converts to Annex-B access units and
                # inlines parameter sets before each IDR, which RTP payloaders and late
                # joiners need.
                p = Gst.ElementFactory.make(f'{codec}parse')
                p.set_property('config-interval', -1)
                f = Gst.ElementFactory.make('capsfilter')
                f.set_property('caps', Gst.Caps.from_string(
                    f'video/x-{codec},stream-format=byte-stream,alignment=au'))
                for e in (p, f):
                    pipe.add(e)
                    e.sync_state_with_parent()
                pad.link(p.get_static_pad('sink'))
                p.link(f)
                f.link(sink)
                linked.append(codec)
            else:
                # Other tracks (audio, a second video) go nowhere rather than erroring as
                # not-linked.
                fs = Gst.ElementFactory.make('fakesink')
                fs.set_property('sync', False)
                pipe.add(fs)
                fs.sync_state_with_parent()
                pad.link(fs.get_static_pad('sink'))

        parse.connect('pad-added', on_pad)
        pipe.set_state(Gst.State.PLAYING)
        bus = pipe.get_bus()
        try:
            while True:
                sample = sink.emit('try-pull-sample', 10 * Gst.SECOND)
                if sample is None:
                    break
                if self.caps is None:
                    self.caps = sample.get_caps()
                self.frames.append(sample.get_buffer())
                if len(self.frames) > 100_000:
                    raise RuntimeError('file too long for an in-memory test clip')
            msg = bus.pop_filtered(Gst.MessageType.ERROR)
            if msg is not None:
                err, dbg = msg.parse_error()
                raise RuntimeError(f'{err.message} ({dbg})')
        finally:
            pipe.set_state(Gst.State.NULL)
        if not linked or not self.frames:
            raise RuntimeError(f'no H.264/H.265 video found in {self.path}')
        self.codec = linked[0]
        self._timestamp()

    def _timestamp(self):
        """Normalise to (pts, dts, dur) in ns from 0, filling gaps (raw Annex-B has none)."""
        s = self.caps.get_structure(0)
        ok, num, den = s.get_fraction('framerate')
        frame_ns = Gst.SECOND * den // num if ok and num > 0 else Gst.SECOND // 25
        none = Gst.CLOCK_TIME_NONE
        out = []
        base = None
        for i, b in enumerate(self.frames):
            dts = b.dts if b.dts != none else b.pts
            pts = b.pts if b.pts != none else dts
            if dts == none or pts == none:
                dts = pts = i * frame_ns
            if base is None:
                base = dts
            dur = b.duration if b.duration != none and b.duration > 0 else frame_ns
            key = not b.has_flags(Gst.BufferFlags.DELTA_UNIT)
            out.append((without_aud(b, self.codec), pts - base, dts - base, dur, key))
        # Loop length: the end of the latest frame. With B-frames that is not the last frame
        # in decode order, and MKV gives no DTS at all, so take the maximum over both clocks.
        self.loop_ns = max(max(p, d) + du for (_, p, d, du, _) in out)
        self.frames = out


def without_aud(buf, codec):
    """h264parse/h265parse put an access unit delimiter before every frame. Cameras rarely
    send one, and ffmpeg logs 'missing picture in access unit' for it, so drop it."""
    data = buf.extract_dup(0, buf.get_size())
    start = data.find(b'\x00\x00\x01')
    if start < 0 or start + 3 >= len(data):
        return buf
    head = data[start + 3]
    if (head & 0x1f != 9) if codec == 'h264' else ((head >> 1) & 0x3f != 35):
        return buf
    nxt = data.find(b'\x00\x00\x01', start + 3)
    if nxt < 0:
        return buf
    if data[nxt - 1] == 0:
        nxt -= 1  # keep the 4-byte start code whole
    out = Gst.Buffer.new_wrapped(data[nxt:])
    out.pts, out.dts, out.duration = buf.pts, buf.dts, buf.duration
    if buf.has_flags(Gst.BufferFlags.DELTA_UNIT):
        out.set_flags(Gst.BufferFlags.DELTA_UNIT)
    return out


class Feeder(threading.Thread):
    """Replays one clip in real time, forever, to every attached appsrc."""

    def __init__(self, clip, phase_ns=0):
        super().__init__(daemon=True, name=f'feed:{os.path.basename(clip.path)}')
        self.clip = clip
        self.phase_ns = phase_ns
        self.lock = threading.Lock()
        self.sinks = {}  # appsrc -> [clip-to-running-time offset or None, started, last flow]

    def attach(self, appsrc):
        with self.lock:
            self.sinks[appsrc] = [None, False, Gst.FlowReturn.OK]
            debug(f'attach {appsrc.get_path_string()} ({len(self.sinks)} attached)')

    def detach(self, appsrc):
        with self.lock:
            self.sinks.pop(appsrc, None)
            debug(f'detach {appsrc.get_path_string()} ({len(self.sinks)} attached)')

    def run(self):
        t0 = time.monotonic_ns() - self.phase_ns  # frames before the phase pass unsent
        loop = 0
        frames = self.clip.frames
        while True:
            for (buf, pts, dts, dur, key) in frames:
                base = loop * self.clip.loop_ns
                due = t0 + base + dts
                delay = due - time.monotonic_ns()
                if delay > 0:
                    time.sleep(delay / 1e9)
                with self.lock:
                    targets = list(self.sinks.items())
                for appsrc, state in targets:
                    try:
                        self._push(appsrc, state, buf, base + pts, base + dts, dur, key, due)
                    except Exception as e:  # noqa: BLE001 - one bad media must not stop the rest
                        log(f'dropping {appsrc.get_path_string()}: {e!r}')
                        self.detach(appsrc)
            loop += 1

    def _anchor(self, appsrc, state, dts, due):
        """Keep state[0], the offset from clip time to this pipeline's running time, true.

        The feeder's pacing keeps the two aligned, but PAUSED stops the pipeline's running
        time while the wall clock goes on. A frame stamped ahead of the clock parks the sinks
        in a clock wait and stalls every client, so re-anchor whenever frames would be early.
        Late frames are harmless, so lateness alone does not re-anchor, which keeps
        timestamps monotonic while a starved feeder catches up.
        """
        rt = appsrc.get_current_running_time()  # the caller checked that it is PLAYING
        if rt == Gst.CLOCK_TIME_NONE:
            if state[0] is None:
                state[0] = -dts  # provisional: from 0, i.e. never ahead of a starting clock
            return
        # Running time at which this frame was due, not now: the feeder may be running late.
        ideal = rt - max(0, time.monotonic_ns() - due)
        drift = None if state[0] is None else dts + state[0] - ideal
        if drift is None or drift > 40 * Gst.MSECOND or drift < -2 * Gst.SECOND:
            if drift is not None:
                debug(f'{appsrc.get_path_string()}: re-anchor, drift {drift / 1e6:.0f} ms')
            state[0] = ideal - dts

    def _push(self, appsrc, state, buf, pts, dts, dur, key, due):
        if appsrc.get_state(0)[1] != Gst.State.PLAYING:
            # Paused media (a client's PAUSE, or between sessions): drop like a live camera
            # rather than queue frames that would replay stale and out of step with its clock.
            state[1] = False
            return
        if not state[1] and not key:
            return  # a fresh or resumed media starts at a key frame, like a camera's encoder
        self._anchor(appsrc, state, dts, due)
        off = state[0]
        # A new buffer sharing the frame's memory. Not buf.copy(): in GI that is g_boxed_copy,
        # a mere ref, and setting pts on it would rewrite the stored frame under queued users.
        out = buf.copy_region(Gst.BufferCopyFlags.FLAGS | Gst.BufferCopyFlags.MEMORY, 0, buf.get_size())
        out.pts = max(0, pts + off)
        out.dts = max(0, dts + off)
        out.duration = dur
        ret = appsrc.emit('push-buffer', out)
        if ret != state[2]:
            debug(f'{appsrc.get_path_string()}: push-buffer {state[2].value_nick} -> {ret.value_nick}')
            state[2] = ret
        if ret == Gst.FlowReturn.OK:
            state[1] = True
        elif not state[1]:
            state[0] = None  # not started yet (still flushing): retry at the next key frame
        elif ret in (Gst.FlowReturn.EOS, Gst.FlowReturn.ERROR):
            self.detach(appsrc)


class ClipFactory(GstRtspServer.RTSPMediaFactory):
    """One factory per file, mounted at every path that serves that file."""

    def __init__(self, feeder):
        super().__init__()
        self.feeder = feeder
        codec = feeder.clip.codec
        self.set_launch(
            '( appsrc name=src is-live=true format=time do-timestamp=false '
            f'! rtp{codec}pay name=pay0 pt=96 config-interval=-1 )')
        self.set_shared(True)
        self.connect('media-configure', self._on_configure)

    def do_gen_key(self, _url):
        # Same key for every mount of this file and phase, so all of them share one media.
        return f'{self.feeder.clip.path}#{self.feeder.phase_ns}'

    def _on_configure(self, _factory, media):
        appsrc = media.get_element().get_by_name('src')
        appsrc.set_property('caps', self.feeder.clip.caps)
        # Bounded queue that drops the oldest data if the pipeline stalls (e.g. paused).
        appsrc.set_property('max-bytes', 8 * 1024 * 1024)
        appsrc.set_property('leaky-type', 2)  # GST_APP_LEAKY_TYPE_DOWNSTREAM
        self.feeder.attach(appsrc)
        media.connect('unprepared', lambda _m: self.feeder.detach(appsrc))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--port', type=int, default=8554)
    ap.add_argument('--address', default='127.0.0.1')
    ap.add_argument('--mount', action='append', default=[], metavar='/name=FILE')
    ap.add_argument('--copies', type=int, default=0)
    ap.add_argument('--mount-template', metavar='/cam{i}=FILE')
    ap.add_argument('--user')
    ap.add_argument('--password')
    ap.add_argument('--auth', choices=['basic', 'digest', 'both'], default='both')
    ap.add_argument('--transport', choices=['tcp', 'udp', 'both'], default='both')
    ap.add_argument('--phases', type=int, default=1, help='medias per file, offset in time')
    a = ap.parse_args()
    mounts = list(a.mount)
    if a.copies:
        if not a.mount_template or '{i}' not in a.mount_template:
            ap.error('--copies needs --mount-template containing {i}')
        mounts += [a.mount_template.replace('{i}', str(i)) for i in range(1, a.copies + 1)]
    parsed = []
    for m in mounts:
        path, sep, file = m.partition('=')
        if not sep or not path.startswith('/') or not file:
            ap.error(f'bad --mount {m!r}, expected /name=FILE')
        parsed.append((path, os.path.abspath(file)))
    if not parsed:
        ap.error('at least one --mount is required')
    if (a.user is None) != (a.password is None):
        ap.error('--user and --password go together')
    a.mounts = parsed
    return a


def set_auth_methods(auth, mask):
    """GstRTSPAuthMethod is a bit mask in C but a plain enum in GI, so BASIC|DIGEST (3) can
    only be passed through ctypes with the object's raw pointer."""
    if mask in (1, 2):
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod(mask))
        return
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype = ctypes.c_void_p
    get_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
    lib = ctypes.CDLL('libgstrtspserver-1.0.so.0')
    lib.gst_rtsp_auth_set_supported_methods.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.gst_rtsp_auth_set_supported_methods(get_ptr(auth.__gpointer__, None), mask)


def die_with_parent():
    # If the test runner dies, do not leave a server holding the port.
    try:
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def main():
    a = parse_args()
    die_with_parent()
    Gst.init(None)
    loop = GLib.MainLoop()

    server = GstRtspServer.RTSPServer()
    server.set_address(a.address)
    server.set_service(str(a.port))
    # The default pool has one thread, so medias prepare one after another, each waiting up
    # to a GOP for its first key frame; with --phases that made DESCRIBE take K GOPs.
    server.get_thread_pool().set_max_threads(16)

    protocols = {
        'tcp': GstRtsp.RTSPLowerTrans.TCP,
        'udp': GstRtsp.RTSPLowerTrans.UDP,
        'both': GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP,
    }[a.transport]

    permissions = None
    if a.user is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string('media.factory.role', 'user')
        if a.auth in ('basic', 'both'):
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password), token)
        if a.auth in ('digest', 'both'):
            auth.add_digest(a.user, a.password, token)
        set_auth_methods(auth, {'basic': 1, 'digest': 2, 'both': 3}[a.auth])
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role('user', 'media.factory.access', True)
        permissions.add_permission_for_role('user', 'media.factory.construct', True)

    factories = {}  # file -> one factory per phase
    try:
        for _, file in a.mounts:
            if file not in factories:
                clip = Clip(file)
                factories[file] = []
                for k in range(max(1, a.phases)):
                    f = ClipFactory(Feeder(clip, k * clip.loop_ns // max(1, a.phases)))
                    f.set_protocols(protocols)
                    if permissions is not None:
                        f.set_permissions(permissions)
                    factories[file].append(f)
    except Exception as e:  # noqa: BLE001 - any load failure is fatal before READY
        log(f'cannot load media: {e}')
        return 2

    points = server.get_mount_points()
    dealt = {}
    for path, file in a.mounts:
        n = dealt.get(file, 0)
        dealt[file] = n + 1
        points.add_factory(path, factories[file][n % len(factories[file])])

    if server.attach(None) == 0:
        log(f'cannot listen on {a.address}:{a.port}')
        return 3
    for fs in factories.values():
        for f in fs:
            f.feeder.start()

    # Sessions whose client vanished (UDP has no connection to notice) expire here.
    pool = server.get_session_pool()
    GLib.timeout_add_seconds(2, lambda: (pool.cleanup(), True)[1])
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, lambda: (loop.quit(), False)[1])

    print(f'READY {server.get_bound_port()}', flush=True)
    loop.run()
    return 0


if __name__ == '__main__':
    code = main()
    sys.stdout.flush()
    # Feeder threads are daemons blocked in sleep; skip interpreter teardown of GStreamer.
    os._exit(code)
