// Shift-Tab: the kernel's inspect_reply in JupyterLab's Tooltip widget, as
// @jupyterlab/tooltip-extension shows it for notebooks.
import { Text } from '@jupyterlab/coreutils';
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Tooltip } from '@jupyterlab/tooltip';
import { Widget } from '@lumino/widgets';

export class TooltipInvoker {
  private tooltip: Tooltip | null = null;
  private pending = 0;

  constructor(
    private panel: NotebookPanel,
    private rendermime: IRenderMimeRegistry
  ) {}

  async invoke(): Promise<void> {
    this.dismiss();
    const anchor = this.panel.content;
    const editor = anchor.activeCell?.editor;
    const kernel = this.panel.sessionContext.session?.kernel;
    if (!editor || !kernel) {
      return;
    }
    const code = editor.model.sharedModel.getSource();
    if (!code) {
      return;
    }
    const offset = Text.jsIndexToCharIndex(
      editor.getOffsetAt(editor.getCursorPosition()),
      code
    );
    const current = ++this.pending;
    const reply = await kernel.requestInspect({
      code,
      cursor_pos: offset,
      detail_level: 0
    });
    const value = reply.content;
    if (current !== this.pending || value.status !== 'ok' || !value.found) {
      return;
    }
    this.tooltip = new Tooltip({
      anchor,
      bundle: value.data,
      editor,
      rendermime: this.rendermime
    });
    Widget.attach(this.tooltip, document.body);
  }

  dismiss(): void {
    if (this.tooltip) {
      this.tooltip.dispose();
      this.tooltip = null;
    }
  }
}
