"""Serves the JupyterLab 4 front end in ../build from Debian's jupyter-server.

JupyterLab's own server side (jupyterlab, jupyterlab_server) is not packaged by
Debian 12, but its front end only needs the REST and WebSocket API that
Debian's jupyter-server 1.23 already serves: /api/contents, /api/sessions,
/api/kernels with the v1.kernel.websocket.jupyter.org channel protocol,
/api/kernelspecs and /kernelspecs/<name>/<resource> for logos. Two newer
endpoints are absent and @jupyterlab/services 7 copes without them:
/api/me (jupyter-server 2: the user manager then never becomes ready, and
nothing here waits for it) and /api/events/subscribe (jupyter-server 2: the
event manager's socket is refused and retried with back-off).

    python3 -m jupyter_server \\
        --ServerApp.jpserver_extensions ipclab_jupyterlab=True
    # with this directory on PYTHONPATH; then open
    # http://127.0.0.1:8888/ipclab-lab/tree/<notebook>.ipynb?token=…
"""

import json
import os

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

BUILD = os.environ.get(
    "IPCLAB_JUPYTERLAB_BUILD",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"),
)

PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>{title} – ipclab JupyterLab</title>
  <script id="jupyter-config-data" type="application/json">{config}</script>
  <link rel="stylesheet" href="{static}/index.css">
  <script type="module" src="{static}/index.js"></script>
</head>
<body>
  <script>
    /* Remove the token from the address bar, as JupyterLab does. */
    (function () {{
      var url = new URL(window.location.href);
      if (url.searchParams.get("token")) {{
        url.searchParams.delete("token");
        window.history.replaceState({{}}, "", url.href);
      }}
    }})();
  </script>
</body>
</html>
"""


class LabPage(JupyterHandler):
    """/ipclab-lab/tree/<path>: the notebook at path in the JupyterLab front end."""

    @web.authenticated
    def get(self, path):
        if not path.endswith(".ipynb"):
            raise web.HTTPError(404, "not a notebook: %s" % path)
        config = {
            "appName": "ipclab JupyterLab",
            "baseUrl": self.base_url,
            "wsUrl": self.ws_url,
            "token": self.token or "",
            "notebookPath": path,
        }
        # </script> inside the JSON would end the element early.
        text = json.dumps(config).replace("</", "<\\/")
        static = url_path_join(self.base_url, "ipclab-lab", "static")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(PAGE.format(title=web.escape.xhtml_escape(path), config=text, static=static))


def _jupyter_server_extension_points():
    return [{"module": "ipclab_jupyterlab"}]


def _load_jupyter_server_extension(serverapp):
    if not os.path.isfile(os.path.join(BUILD, "index.js")):
        raise RuntimeError(
            "the JupyterLab front end is not built: run `npm ci && npm run build` in %s"
            % os.path.dirname(os.path.abspath(BUILD))
        )
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "ipclab-lab", "tree", "(.*)"), LabPage),
            (
                url_path_join(base, "ipclab-lab", "static", "(.*)"),
                web.StaticFileHandler,
                {"path": BUILD},
            ),
        ],
    )
    serverapp.log.info("ipclab JupyterLab front end at %sipclab-lab/tree/", base)


# jupyter-server 1.x looks for this name too.
load_jupyter_server_extension = _load_jupyter_server_extension
