#!/usr/bin/python3
"""An ONVIF camera's audio backchannel, played by GStreamer's own ONVIF RTSP server.

GstRtspServer.RTSPOnvifMediaFactory offers the backchannel track only to clients that send
`Require: www.onvif.org/ver20/backchannel`. What the client sends on it is depayloaded and
appended, as raw G.711 bytes, to --out; the test decodes that file.

  /usr/bin/python3 test/peers/backchannel_server.py --port 8554 --out /tmp/bc.raw \
      [--codec pcmu|pcma] [--user admin --password secret]

Prints "ready rtsp://127.0.0.1:PORT/onvif" on stdout once it listens.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

ENCODING = {"pcmu": ("PCMU", 0, "mulawenc", "rtppcmupay", "rtppcmudepay"),
            "pcma": ("PCMA", 8, "alawenc", "rtppcmapay", "rtppcmadepay")}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--out", required=True)
    ap.add_argument("--codec", choices=list(ENCODING), default="pcmu")
    ap.add_argument("--user")
    ap.add_argument("--password")
    a = ap.parse_args()
    Gst.init(None)
    name, pt, enc, pay, depay = ENCODING[a.codec]

    factory = GstRtspServer.RTSPOnvifMediaFactory()
    # The camera's own (silent) microphone stream, as a camera with a speaker also has one.
    factory.set_launch(f"( audiotestsrc is-live=true wave=silence ! audio/x-raw,rate=8000,channels=1 ! {enc} ! {pay} name=pay0 pt={pt} )")
    factory.set_backchannel_launch(
        f'( capsfilter caps="application/x-rtp,media=audio,payload={pt},clock-rate=8000,encoding-name={name}" '
        f"name=depay_backchannel ! {depay} ! filesink location={a.out} append=true async=false sync=false buffer-mode=unbuffered )")
    factory.set_shared(False)
    factory.set_media_gtype(GstRtspServer.RTSPOnvifMedia)

    server = GstRtspServer.RTSPOnvifServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    if a.user:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_digest(a.user, a.password or "", token)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_role_from_structure(Gst.Structure.new_from_string(
            "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
        factory.set_permissions(perms)
    server.get_mount_points().add_factory("/onvif", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{a.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print(f"ready rtsp://127.0.0.1:{a.port}/onvif", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
