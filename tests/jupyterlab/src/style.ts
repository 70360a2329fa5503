// JupyterLab's styles, imported once from here so the bundle has each once.
import { applyJupyterTheme } from '@jupyter/web-components';

import '@jupyterlab/application/style/index.css';
import '@jupyterlab/codemirror/style/index.css';
import '@jupyterlab/completer/style/index.css';
import '@jupyterlab/launcher/style/index.css';
import '@jupyterlab/notebook/style/index.css';
import '@jupyterlab/tooltip/style/index.css';
import '@jupyterlab/theme-light-extension/style/theme.css';

import '../index.css';

window.addEventListener('load', () => applyJupyterTheme());
