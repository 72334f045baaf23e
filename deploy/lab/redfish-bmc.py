#!/usr/bin/env python3
"""A Redfish BMC for the lab and the tests (Debian has no Redfish emulator).

It follows the DMTF schema for what bmagent's driver uses: the service root,
the Systems collection and its members (ComputerSystem with Boot and its
AllowableValues, Actions/#ComputerSystem.Reset with
ResetType@Redfish.AllowableValues, PowerState), SessionService (sessions
with X-Auth-Token, Basic also taken), ETags (header and @odata.etag,
If-Match checked), a task monitor for a Reset answered 202, and errors in
the @Message.ExtendedInfo shape (401, 400, 412, 428). Debian's redfishtool
and python3-sushy are run against it in tests/integration/redfish.sh.

The machine behind it is driven by a hook with bmc-hook.sh's interface
(`HOOK get power`, `HOOK set power 0|1`, `HOOK set boot pxe|none`): the
lab's QEMU machine, or a test's simulated one. Without a hook, power is
only a state here.

The password is read from a file (never argv). Vendor differences, as
switches:
  --require-if-match   a PATCH without If-Match is refused 428 (iDRAC)
  --no-power-cycle     PowerCycle is not an allowable ResetType
  --no-force-restart   ForceRestart is not allowable either (then the
                       driver must ForceOff and On)
  --reset-answer 204|200|202   what a Reset answers (202: a task monitor
                       that answers 202 Running --task-polls times, then
                       the Completed task)
  --no-sessions        no SessionService: Basic only
  --no-mode            no BootSourceOverrideMode (older BMCs)
  --ignore-boot        a PATCH of Boot answers 200 and changes nothing
  --systems N          N systems in the collection (1)
  --stall SECONDS      every answer but the root's waits this long
Every request is logged to --log as "METHOD PATH auth=token|basic|none
if-match=... STATUS [boot=TARGET/ENABLED/MODE | reset=TYPE]" (credentials
never).

usage: redfish-bmc.py --port P --user U --password-file F [--listen ADDR]
       [--tls CERT KEY] [--hook CMD] [--log FILE] [switches]"""
import argparse
import base64
import hashlib
import json
import secrets
import shlex
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESETS = ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi",
          "ForceOn", "PushPowerButton", "PowerCycle"]
TARGETS = ["None", "Pxe", "Cd", "Usb", "Hdd", "BiosSetup", "Diags", "UefiHttp", "UefiShell"]
SESSIONS = "/redfish/v1/SessionService/Sessions"


def message(mid, text, resolution="None."):
    return {"@odata.type": "#Message.v1_1_1.Message", "MessageId": "Base.1.8." + mid,
            "Message": text, "Severity": "Critical", "Resolution": resolution}


def error(mid, text):
    return {"error": {"code": "Base.1.8.GeneralError",
                      "message": "A general error has occurred. See ExtendedInfo for more "
                                 "information.",
                      "@Message.ExtendedInfo": [message(mid, text)]}}


class Bmc:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        with open(a.password_file) as f:
            self.password = f.readline().rstrip("\n")
        self.sessions = {}  # id -> token
        self.tasks = {}     # id -> polls left
        self.power = "Off"
        self.boot = {"BootSourceOverrideTarget": "None", "BootSourceOverrideEnabled": "Disabled",
                     "BootSourceOverrideMode": "UEFI"}
        self.version = 1
        resets = [r for r in RESETS
                  if not (a.no_power_cycle and r == "PowerCycle")
                  and not (a.no_force_restart and r == "ForceRestart")]
        self.resets = resets

    def hook(self, *args):
        if not self.a.hook:
            return ""
        out = subprocess.run(shlex.split(self.a.hook) + list(args), capture_output=True,
                             text=True, timeout=60)
        if out.returncode:
            raise RuntimeError(f"hook {' '.join(args)} exited {out.returncode}")
        return out.stdout

    def power_state(self):
        if self.a.hook:
            self.power = "On" if "power:1" in self.hook("get", "power") else "Off"
        return self.power

    def set_power(self, on):
        if on:
            # The override applies at this power on, once.
            once = self.boot["BootSourceOverrideEnabled"] == "Once"
            target = self.boot["BootSourceOverrideTarget"] if once else "None"
            dev = {"Pxe": "pxe", "UefiHttp": "pxe", "Hdd": "disk"}.get(target, "none")
            self.hook("set", "boot", dev)
            if once:
                self.boot["BootSourceOverrideEnabled"] = "Disabled"
                self.boot["BootSourceOverrideTarget"] = "None"
                self.version += 1
        self.hook("set", "power", "1" if on else "0")
        self.power = "On" if on else "Off"

    def etag(self):
        return 'W/"%s"' % hashlib.sha256(
            json.dumps([self.boot, self.version]).encode()).hexdigest()[:12]

    def system(self, sid):
        boot = dict(self.boot)
        if self.a.no_mode:
            boot.pop("BootSourceOverrideMode")
        boot["BootSourceOverrideTarget@Redfish.AllowableValues"] = TARGETS
        if not self.a.no_mode:
            boot["BootSourceOverrideMode@Redfish.AllowableValues"] = ["Legacy", "UEFI"]
        path = f"/redfish/v1/Systems/{sid}"
        return {"@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem", "@odata.id": path,
                "@odata.etag": self.etag(), "Id": sid, "Name": "bm lab system",
                "SystemType": "Physical", "Manufacturer": "bm", "Model": "lab",
                "UUID": "00000000-0000-0000-0000-0000000000%02d" % int(sid),
                "PowerState": self.power_state(),
                "Status": {"State": "Enabled", "Health": "OK"}, "Boot": boot,
                "Actions": {"#ComputerSystem.Reset": {
                    "target": path + "/Actions/ComputerSystem.Reset",
                    "ResetType@Redfish.AllowableValues": self.resets}}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bm-redfish-lab/1"

    def log_message(self, *args):
        pass

    @property
    def bmc(self):
        return self.server.bmc

    def answer(self, status, body=None, headers=()):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("OData-Version", "4.0")
        for k, v in headers:
            self.send_header(k, v)
        if self.headers.get("Connection", "").lower() == "close":
            # Say so (sushy asks it): a client that reuses the connection
            # meanwhile would meet a closed socket.
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with open(self.bmc.a.log, "a") if self.bmc.a.log else open("/dev/null", "w") as f:
            f.write(f"{self.command} {self.path} auth={self.auth} "
                    f"if-match={self.headers.get('If-Match', '-')} {status}{self.note}\n")

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return None

    def authorized(self):
        tok = self.headers.get("X-Auth-Token")
        if tok is not None:
            self.auth = "token"
            return tok in self.bmc.sessions.values()
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            self.auth = "basic"
            try:
                user, _, pw = base64.b64decode(basic[6:]).decode().partition(":")
            except ValueError:
                return False
            return user == self.bmc.a.user and secrets.compare_digest(pw, self.bmc.password)
        return False

    def refuse_auth(self):
        self.answer(401, error("ResourceAtUriUnauthorized",
                               f"While accessing the resource at {self.path}, the service "
                               "received an authorization error unauthorized."),
                    [("WWW-Authenticate", 'Basic realm="bm lab BMC"')])

    def route(self):
        p = self.path.split("?")[0].rstrip("/") or "/"
        self.auth, self.note = "none", ""
        if self.bmc.a.stall and p not in ("/redfish", "/redfish/v1"):
            time.sleep(self.bmc.a.stall)
        if p == "/redfish":
            return self.answer(200, {"v1": "/redfish/v1/"})
        if p == "/redfish/v1":
            return self.answer(200, self.root())
        if self.command == "POST" and p == SESSIONS and not self.bmc.a.no_sessions:
            return self.login()
        if not self.authorized():
            return self.refuse_auth()
        with self.bmc.lock:
            return self.resource(p)

    def root(self):
        r = {"@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot", "@odata.id": "/redfish/v1",
             "Id": "RootService", "Name": "Root Service", "RedfishVersion": "1.6.0",
             "UUID": "92384634-2938-2342-8820-489239905423",
             "Systems": {"@odata.id": "/redfish/v1/Systems"}}
        if not self.bmc.a.no_sessions:
            r["SessionService"] = {"@odata.id": "/redfish/v1/SessionService"}
            r["Links"] = {"Sessions": {"@odata.id": SESSIONS}}
        return r

    def login(self):
        self.auth = "none"
        b = self.body() or {}
        if b.get("UserName") != self.bmc.a.user or not secrets.compare_digest(
                str(b.get("Password", "")), self.bmc.password):
            return self.answer(401, error("NoValidSession",
                                          "There is no valid session established with the "
                                          "implementation."))
        sid, tok = secrets.token_hex(4), secrets.token_hex(16)
        self.bmc.sessions[sid] = tok
        loc = f"{SESSIONS}/{sid}"
        self.answer(201, {"@odata.type": "#Session.v1_3_0.Session", "@odata.id": loc, "Id": sid,
                          "Name": "User Session", "UserName": self.bmc.a.user},
                    [("X-Auth-Token", tok), ("Location", loc)])

    def resource(self, p):
        b, sysids = self.bmc, [str(i + 1) for i in range(self.bmc.a.systems)]
        if p == "/redfish/v1/Systems" and self.command == "GET":
            return self.answer(200, {
                "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
                "@odata.id": "/redfish/v1/Systems", "Name": "Computer System Collection",
                "Members": [{"@odata.id": f"/redfish/v1/Systems/{i}"} for i in sysids],
                "Members@odata.count": len(sysids)})
        if p == "/redfish/v1/SessionService" and not b.a.no_sessions:
            return self.answer(200, {"@odata.type": "#SessionService.v1_1_8.SessionService",
                                     "@odata.id": "/redfish/v1/SessionService",
                                     "Id": "SessionService", "Name": "Session Service",
                                     "ServiceEnabled": True, "SessionTimeout": 600,
                                     "Sessions": {"@odata.id": SESSIONS}})
        if p == SESSIONS and not b.a.no_sessions:
            return self.answer(200, {"@odata.type": "#SessionCollection.SessionCollection",
                                     "@odata.id": SESSIONS, "Name": "Session Collection",
                                     "Members": [{"@odata.id": f"{SESSIONS}/{s}"}
                                                 for s in b.sessions],
                                     "Members@odata.count": len(b.sessions)})
        if p.startswith(SESSIONS + "/") and self.command == "DELETE":
            if b.sessions.pop(p.rsplit("/", 1)[1], None) is None:
                return self.not_found()
            return self.answer(204)
        if p.startswith("/redfish/v1/TaskService/TaskMonitors/"):
            return self.task(p.rsplit("/", 1)[1])
        for sid in sysids:
            sp = f"/redfish/v1/Systems/{sid}"
            if p == sp and self.command == "GET":
                return self.answer(200, b.system(sid), [("ETag", b.etag())])
            if p == sp and self.command == "PATCH":
                return self.patch(sid)
            if p == sp + "/Actions/ComputerSystem.Reset" and self.command == "POST":
                return self.reset()
        return self.not_found()

    def not_found(self):
        self.answer(404, error("ResourceMissingAtURI",
                               f"The resource at the URI {self.path} was not found."))

    def patch(self, sid):
        b, want = self.bmc, self.headers.get("If-Match")
        if want is None and b.a.require_if_match:
            return self.answer(428, error("PreconditionRequired",
                                          "A precondition header or annotation is required "
                                          "to change this resource."))
        if want is not None and want != b.etag():
            return self.answer(412, error("PreconditionFailed",
                                          "The ETag supplied did not match the ETag required "
                                          "to change this resource."))
        body = self.body()
        boot = body.get("Boot") if isinstance(body, dict) else None
        if isinstance(boot, dict):
            self.note = " boot=" + "/".join(str(boot.get(k, "-")) for k in (
                "BootSourceOverrideTarget", "BootSourceOverrideEnabled", "BootSourceOverrideMode"))
        if not isinstance(boot, dict) or set(body) != {"Boot"}:
            return self.answer(400, error("MalformedJSON", "The request body submitted was "
                                          "malformed JSON and could not be parsed by the "
                                          "receiving service."))
        allowed = {"BootSourceOverrideTarget": TARGETS,
                   "BootSourceOverrideEnabled": ["Disabled", "Once", "Continuous"],
                   "BootSourceOverrideMode": [] if b.a.no_mode else ["Legacy", "UEFI"]}
        for k, v in boot.items():
            if k not in allowed or (b.a.no_mode and k == "BootSourceOverrideMode"):
                return self.answer(400, error("PropertyUnknown", f"The property {k} is not "
                                              "in the list of valid properties for the "
                                              "resource."))
            if v not in allowed[k]:
                return self.answer(400, error("PropertyValueNotInList",
                                              f"The value {v} for the property {k} is not "
                                              "in the list of acceptable values."))
        if not b.a.ignore_boot:
            b.boot.update(boot)
            b.version += 1
        self.answer(200, b.system(sid), [("ETag", b.etag())])

    def reset(self):
        b, body = self.bmc, self.body() or {}
        rt = body.get("ResetType")
        self.note = f" reset={rt}"
        if rt not in b.resets:
            return self.answer(400, error("ActionParameterNotSupported",
                                          f"The parameter ResetType for the action "
                                          f"ComputerSystem.Reset is not supported on the "
                                          f"target resource: {rt}."))
        try:
            if rt in ("On", "ForceOn"):
                if b.power_state() == "Off":
                    b.set_power(True)
            elif rt in ("ForceOff", "GracefulShutdown"):
                b.set_power(False)
            elif rt in ("ForceRestart", "GracefulRestart", "PowerCycle", "PushPowerButton"):
                b.set_power(False)
                b.set_power(True)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return self.answer(500, error("InternalError", f"The power action failed: {e}"))
        if b.a.reset_answer == 202:
            tid = str(len(b.tasks) + 1)
            b.tasks[tid] = b.a.task_polls
            return self.answer(202, self.task_body(tid, "Running"),
                               [("Location", f"/redfish/v1/TaskService/TaskMonitors/{tid}")])
        if b.a.reset_answer == 200:
            return self.answer(200, {"@Message.ExtendedInfo": [message(
                "Success", "The request completed successfully.")]})
        return self.answer(204)

    def task_body(self, tid, state):
        return {"@odata.type": "#Task.v1_4_3.Task", "@odata.id":
                f"/redfish/v1/TaskService/Tasks/{tid}", "Id": tid, "Name": "Reset",
                "TaskState": state, "TaskStatus": "OK",
                "TaskMonitor": f"/redfish/v1/TaskService/TaskMonitors/{tid}",
                "Messages": [message("Success", "The request completed successfully.")]
                if state == "Completed" else []}

    def task(self, tid):
        left = self.bmc.tasks.get(tid)
        if left is None:
            return self.not_found()
        if left > 0:
            self.bmc.tasks[tid] = left - 1
            return self.answer(202, self.task_body(tid, "Running"),
                               [("Location", f"/redfish/v1/TaskService/TaskMonitors/{tid}")])
        return self.answer(200, self.task_body(tid, "Completed"))

    do_GET = do_POST = do_PATCH = do_DELETE = route


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--hook")
    ap.add_argument("--log")
    ap.add_argument("--require-if-match", action="store_true")
    ap.add_argument("--no-power-cycle", action="store_true")
    ap.add_argument("--no-force-restart", action="store_true")
    ap.add_argument("--reset-answer", type=int, choices=(200, 202, 204), default=204)
    ap.add_argument("--task-polls", type=int, default=2)
    ap.add_argument("--no-sessions", action="store_true")
    ap.add_argument("--no-mode", action="store_true")
    ap.add_argument("--ignore-boot", action="store_true")
    ap.add_argument("--systems", type=int, default=1)
    ap.add_argument("--stall", type=float, default=0)
    a = ap.parse_args()
    srv = ThreadingHTTPServer((a.listen, a.port), Handler)
    srv.daemon_threads = True
    srv.bmc = Bmc(a)
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*a.tls)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
