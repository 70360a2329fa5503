"""A small asyncio client of JupyterHub and of Jupyter servers' kernels.

It speaks to the hub's REST API (users, tokens, servers) and to a
single-user server's kernel API (REST to start and stop kernels, the
websocket /api/kernels/ID/channels for Jupyter messages), through the
hub's proxy, with only what Debian's jupyterhub package brings along:
tornado. The hub test (test_hub.py) and the class-load script
(bench/classload.py) use it.
"""

import asyncio
import json
import os
import subprocess
import time
import uuid
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

AsyncHTTPClient.configure(None, max_clients=256)


class HubError(Exception):
    pass


def free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def hub_config(workdir, users, kernel_env=None, spawner_env=None, admin_token=None):
    """The jupyterhub_config.py a test hub runs with: loopback only, PAM
    logins of the given system users, LocalProcessSpawner."""
    port, hub_port, api_port = free_port(), free_port(), free_port()
    cfg = f"""
c = get_config()  # noqa
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.db_url = "sqlite:///{workdir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{workdir}/cookie_secret"
c.JupyterHub.pid_file = "{workdir}/jupyterhub.pid"
c.ConfigurableHTTPProxy.pid_file = "{workdir}/proxy.pid"
c.JupyterHub.authenticator_class = "jupyterhub.auth.PAMAuthenticator"
c.PAMAuthenticator.open_sessions = False
c.Authenticator.allowed_users = {set(users)!r}
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Spawner.cmd = ["jupyterhub-singleuser"]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 300
c.Spawner.environment = {dict(spawner_env or {})!r}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.services = [{{"name": "test-admin", "api_token": {admin_token!r}}}]
c.JupyterHub.load_roles = [{{"name": "test-admin", "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users", "access:servers"], "services": ["test-admin"]}}]
"""
    path = os.path.join(workdir, "jupyterhub_config.py")
    with open(path, "w") as f:
        f.write(cfg)
    return path, port


def hub_env():
    """The hub's environment. Debian's configurable-http-proxy needs its
    node modules from /usr/share/nodejs, which a Node.js not built by
    Debian (NodeSource's) does not search by itself."""
    env = dict(os.environ)
    paths = [p for p in env.get("NODE_PATH", "").split(":") if p]
    if "/usr/share/nodejs" not in paths:
        paths.append("/usr/share/nodejs")
    env["NODE_PATH"] = ":".join(paths)
    return env


class Hub:
    """A JupyterHub process started from a config file in workdir."""

    def __init__(self, workdir, users, spawner_env=None, log=None):
        self.workdir = workdir
        self.admin_token = uuid.uuid4().hex
        self.config, self.port = hub_config(workdir, users, spawner_env=spawner_env, admin_token=self.admin_token)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(workdir, "jupyterhub.log")
        self.proc = None

    async def start(self, timeout=120):
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["jupyterhub", "-f", self.config],
            cwd=self.workdir,
            stdout=self.logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=hub_env(),
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise HubError("jupyterhub exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                await self.api("GET", "/hub/api/", token=None)
                return
            except (OSError, HTTPClientError, HubError):
                if time.monotonic() > deadline:
                    raise HubError("jupyterhub did not answer in %ss:\n%s" % (timeout, self.log_tail()))
                await asyncio.sleep(0.3)

    def log_tail(self, n=60):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        """Stop the hub (SIGTERM: it stops the servers it spawned and the proxy)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()

    async def api(self, method, path, token="admin", body=None, timeout=120):
        headers = {}
        if token == "admin":
            token = self.admin_token
        if token:
            headers["Authorization"] = "token " + token
        req = HTTPRequest(
            self.url + path,
            method=method,
            headers=headers,
            body=None if body is None else json.dumps(body),
            allow_nonstandard_methods=True,
            request_timeout=timeout,
        )
        try:
            resp = await AsyncHTTPClient().fetch(req)
        except HTTPClientError as e:
            text = e.response.body.decode(errors="replace") if e.response is not None else ""
            raise HubError("%s %s: %s %s" % (method, path, e.code, text)) from None
        return json.loads(resp.body) if resp.body else None

    async def login(self, name, password):
        """A token for user name, from the hub's authenticator (PAM)."""
        r = await self.api("POST", f"/hub/api/users/{name}/tokens", token=None,
                           body={"auth": {"username": name, "password": password}, "note": "test"})
        return r["token"]

    async def start_server(self, name, token, timeout=300):
        """Start name's single-user server and wait until it is ready."""
        try:
            await self.api("POST", f"/hub/api/users/{name}/server", token=token)
        except HubError as e:
            if " 400 " not in str(e):  # 400: already running
                raise
        deadline = time.monotonic() + timeout
        while True:
            u = await self.api("GET", f"/hub/api/users/{name}", token=token)
            srv = u.get("servers", {}).get("")
            if srv and srv.get("ready"):
                return Server(self, name, token)
            if time.monotonic() > deadline:
                raise HubError("server of %s not ready after %ss: %r\n%s" % (name, timeout, u, self.log_tail()))
            await asyncio.sleep(0.5)

    async def stop_server(self, name, token, timeout=120):
        try:
            await self.api("DELETE", f"/hub/api/users/{name}/server", token=token)
        except HubError as e:
            if " 400 " not in str(e):
                raise
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            u = await self.api("GET", f"/hub/api/users/{name}", token=token)
            if not u.get("servers"):
                return
            await asyncio.sleep(0.5)
        raise HubError("server of %s did not stop" % name)


class Server:
    """A user's single-user Jupyter server, reached through the hub's proxy."""

    def __init__(self, hub, name, token):
        self.hub, self.name, self.token = hub, name, token
        self.base = f"/user/{quote(name)}"

    async def api(self, method, path, body=None, timeout=120):
        return await self.hub.api(method, self.base + path, token=self.token, body=body, timeout=timeout)

    async def start_kernel(self, kernel_name):
        k = await self.api("POST", "/api/kernels", body={"name": kernel_name})
        kernel = Kernel(self, k["id"])
        await kernel.connect()
        return kernel


class Kernel:
    """One kernel of a server, spoken to over the server's websocket."""

    def __init__(self, server, kernel_id):
        self.server, self.id = server, kernel_id
        self.session = uuid.uuid4().hex
        self.ws = None
        self.queue = {}  # msg_id → asyncio.Queue of messages for it
        self.reader = None

    async def connect(self, timeout=60):
        url = self.server.hub.url.replace("http://", "ws://") + self.server.base + \
            f"/api/kernels/{self.id}/channels?session_id={self.session}"
        req = HTTPRequest(url, headers={"Authorization": "token " + self.server.token}, request_timeout=timeout)
        self.ws = await websocket_connect(req, max_message_size=256 << 20)
        self.reader = asyncio.ensure_future(self._read())
        # The kernel answers kernel_info once it is up. Ask again until an
        # answer comes whole (reply and idle): jupyter_server 1.x forwards a
        # request that arrives while it is still nudging the kernel, and the
        # status messages of that request can be published before the
        # server's IOPub subscription has joined, so they never arrive
        # (ZeroMQ's slow joiner; jupyter_client's wait_for_ready retries too).
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                await self.request("kernel_info_request", {}, timeout=min(5, max(left, 0.1)))
                return
            except asyncio.TimeoutError:
                print("kernel %s: kernel_info came back without idle, asking again" % self.id, flush=True)
                if time.monotonic() >= deadline:
                    raise asyncio.TimeoutError("kernel %s: no kernel_info reply with idle in %ss" % (self.id, timeout))

    async def _read(self):
        while True:
            raw = await self.ws.read_message()
            if raw is None:
                for q in self.queue.values():
                    q.put_nowait(None)
                return
            if isinstance(raw, bytes):
                continue  # binary frames carry buffers; the tests use none
            msg = json.loads(raw)
            pid = msg.get("parent_header", {}).get("msg_id")
            q = self.queue.get(pid)
            if q is not None:
                q.put_nowait(msg)

    def _send(self, msg_type, content, channel="shell"):
        msg_id = uuid.uuid4().hex
        msg = {
            "header": {"msg_id": msg_id, "msg_type": msg_type, "username": self.server.name,
                       "session": self.session, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "version": "5.3"},
            "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": [],
        }
        self.queue[msg_id] = asyncio.Queue()
        self.ws.write_message(json.dumps(msg))
        return msg_id

    async def request(self, msg_type, content, channel="shell", timeout=120):
        """Send a request; return its reply once the kernel is idle again, and
        the IOPub messages in between."""
        msg_id = self._send(msg_type, content, channel)
        q = self.queue[msg_id]
        reply, outputs, idle = None, [], False
        deadline = time.monotonic() + timeout
        try:
            while reply is None or not idle:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise asyncio.TimeoutError("%s: no reply and idle within %ss" % (msg_type, timeout))
                msg = await asyncio.wait_for(q.get(), left)
                if msg is None:
                    raise HubError("websocket of kernel %s closed" % self.id)
                if msg["channel"] in ("shell", "control") and msg["msg_type"].endswith("_reply"):
                    reply = msg
                elif msg["channel"] == "iopub":
                    if msg["msg_type"] == "status":
                        idle = msg["content"]["execution_state"] == "idle"
                    else:
                        outputs.append(msg)
        finally:
            del self.queue[msg_id]
        return reply, outputs

    async def execute(self, code, timeout=300):
        """Run code; return a Cell with the reply, outputs and stdout/stderr text."""
        t0 = time.monotonic()
        reply, outputs = await self.request("execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True}, timeout=timeout)
        return Cell(reply["content"], outputs, time.monotonic() - t0)

    async def shutdown(self):
        if self.ws is not None:
            self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
        try:
            await self.server.api("DELETE", f"/api/kernels/{self.id}")
        except HubError:
            pass


class Cell:
    def __init__(self, reply, outputs, seconds):
        self.reply, self.outputs, self.seconds = reply, outputs, seconds
        self.status = reply["status"]

    def text(self, name="stdout"):
        return "".join(m["content"]["text"] for m in self.outputs
                       if m["msg_type"] == "stream" and m["content"]["name"] == name)

    def result(self):
        for m in self.outputs:
            if m["msg_type"] == "execute_result":
                return m["content"]["data"].get("text/plain", "")
        return None

    def error(self):
        if self.status == "ok":
            return ""
        return "%s: %s\n%s" % (self.reply.get("ename"), self.reply.get("evalue"),
                               "\n".join(self.reply.get("traceback", [])))

    def __repr__(self):
        return "Cell(status=%s, stdout=%r, stderr=%r, error=%r)" % (
            self.status, self.text()[-2000:], self.text("stderr")[-2000:], self.error()[-2000:])
