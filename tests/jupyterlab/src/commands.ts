// The notebook's commands and key bindings, as JupyterLab's examples/notebook
// and its notebook, completer and tooltip extensions define them.
import type { ISessionContextDialogs } from '@jupyterlab/apputils';
import type { CompletionHandler } from '@jupyterlab/completer';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import type { DocumentManager } from '@jupyterlab/docmanager';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { NotebookActions } from '@jupyterlab/notebook';
import type { KernelSpec } from '@jupyterlab/services';
import {
  addIcon,
  deleteIcon,
  fastForwardIcon,
  refreshIcon,
  runIcon,
  saveIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import type { CommandRegistry } from '@lumino/commands';

import type { TooltipInvoker } from './tooltip';

export const COMMAND_IDS = {
  invoke: 'completer:invoke',
  select: 'completer:select',
  invokeNotebook: 'completer:invoke-notebook',
  selectNotebook: 'completer:select-notebook',
  tooltip: 'tooltip:launch-notebook',
  dismissTooltip: 'tooltip:dismiss',
  save: 'notebook:save',
  interrupt: 'notebook:interrupt-kernel',
  restart: 'notebook:restart-kernel',
  runAndAdvance: 'notebook-cells:run-and-advance',
  run: 'notebook:run-cell',
  runAll: 'notebook:run-all-cells',
  deleteCell: 'notebook-cells:delete',
  selectAbove: 'notebook-cells:select-above',
  selectBelow: 'notebook-cells:select-below',
  editMode: 'notebook:edit-mode',
  commandMode: 'notebook:command-mode',
  insert: 'notebook-cells:insert',
  restartAndRun: 'notebook:restart-and-run',
  createNew: 'notebook:create-new'
};

export interface ICommandContext {
  nbWidget: NotebookPanel;
  handler: CompletionHandler;
  tooltip: TooltipInvoker;
  sessionContextDialogs: ISessionContextDialogs;
  docManager: DocumentManager;
  kernelspecs: KernelSpec.IManager;
}

export function setupCommands(
  commands: CommandRegistry,
  ctx: ICommandContext
): void {
  const { nbWidget, handler, tooltip, sessionContextDialogs } = ctx;
  const codeCellActive = () =>
    nbWidget.content.activeCell?.model.type === 'code';

  commands.addCommand(COMMAND_IDS.invoke, {
    label: 'Completer: Invoke',
    execute: () => handler.invoke()
  });
  commands.addCommand(COMMAND_IDS.select, {
    label: 'Completer: Select',
    execute: () => handler.completer.selectActive()
  });
  commands.addCommand(COMMAND_IDS.invokeNotebook, {
    label: 'Invoke Notebook',
    execute: () =>
      codeCellActive() ? commands.execute(COMMAND_IDS.invoke) : undefined
  });
  commands.addCommand(COMMAND_IDS.selectNotebook, {
    label: 'Select Notebook',
    execute: () =>
      codeCellActive() ? commands.execute(COMMAND_IDS.select) : undefined
  });
  commands.addCommand(COMMAND_IDS.tooltip, {
    label: 'Open the tooltip',
    execute: () => tooltip.invoke()
  });
  commands.addCommand(COMMAND_IDS.dismissTooltip, {
    label: 'Dismiss the tooltip',
    execute: () => tooltip.dismiss()
  });
  commands.addCommand(COMMAND_IDS.save, {
    label: args => (args.toolbar ? '' : 'Save'),
    caption: 'Save',
    icon: args => (args.toolbar ? saveIcon : undefined),
    execute: () => nbWidget.context.save()
  });
  commands.addCommand(COMMAND_IDS.interrupt, {
    label: args => (args.toolbar ? '' : 'Interrupt'),
    caption: 'Interrupt the kernel',
    icon: args => (args.toolbar ? stopIcon : undefined),
    execute: async () =>
      nbWidget.context.sessionContext.session?.kernel?.interrupt()
  });
  commands.addCommand(COMMAND_IDS.restart, {
    label: args => (args.toolbar ? '' : 'Restart Kernel'),
    caption: 'Restart the kernel',
    icon: args => (args.toolbar ? refreshIcon : undefined),
    execute: () => sessionContextDialogs.restart(nbWidget.context.sessionContext)
  });
  commands.addCommand(COMMAND_IDS.runAndAdvance, {
    label: args => (args.toolbar ? '' : 'Run and Advance'),
    caption: 'Run the selected cells and advance',
    icon: args => (args.toolbar ? runIcon : undefined),
    execute: () =>
      NotebookActions.runAndAdvance(
        nbWidget.content,
        nbWidget.context.sessionContext,
        sessionContextDialogs
      )
  });
  commands.addCommand(COMMAND_IDS.run, {
    label: 'Run',
    execute: () =>
      NotebookActions.run(
        nbWidget.content,
        nbWidget.context.sessionContext,
        sessionContextDialogs
      )
  });
  commands.addCommand(COMMAND_IDS.runAll, {
    label: 'Run All Cells',
    execute: () =>
      NotebookActions.runAll(
        nbWidget.content,
        nbWidget.context.sessionContext,
        sessionContextDialogs
      )
  });
  commands.addCommand(COMMAND_IDS.restartAndRun, {
    label: args =>
      args.toolbar ? '' : 'Restart the kernel, then re-run the whole notebook',
    caption: 'Restart the kernel, then re-run the whole notebook',
    icon: args => (args.toolbar ? fastForwardIcon : undefined),
    execute: async () => {
      if (await sessionContextDialogs.restart(nbWidget.sessionContext)) {
        return NotebookActions.runAll(
          nbWidget.content,
          nbWidget.sessionContext,
          sessionContextDialogs
        );
      }
    }
  });
  commands.addCommand(COMMAND_IDS.editMode, {
    label: 'Edit Mode',
    execute: () => {
      nbWidget.content.mode = 'edit';
    }
  });
  commands.addCommand(COMMAND_IDS.commandMode, {
    label: 'Command Mode',
    execute: () => {
      nbWidget.content.mode = 'command';
    }
  });
  commands.addCommand(COMMAND_IDS.selectBelow, {
    label: 'Select Below',
    execute: () => NotebookActions.selectBelow(nbWidget.content)
  });
  commands.addCommand(COMMAND_IDS.selectAbove, {
    label: 'Select Above',
    execute: () => NotebookActions.selectAbove(nbWidget.content)
  });
  commands.addCommand(COMMAND_IDS.insert, {
    label: args => (args.toolbar ? '' : 'Insert a cell below'),
    caption: 'Insert a cell below',
    icon: args => (args.toolbar ? addIcon : undefined),
    execute: () => NotebookActions.insertBelow(nbWidget.content)
  });
  commands.addCommand(COMMAND_IDS.deleteCell, {
    label: args => (args.toolbar ? '' : 'Delete the selected cells'),
    caption: 'Delete the selected cells',
    icon: args => (args.toolbar ? deleteIcon : undefined),
    execute: () => NotebookActions.deleteCells(nbWidget.content)
  });
  // The launcher's cards: a new notebook with that kernel, opened in this
  // page (the app shows one notebook at a time).
  commands.addCommand(COMMAND_IDS.createNew, {
    label: args => {
      const name = args.kernelName as string | undefined;
      const spec = name ? ctx.kernelspecs.specs?.kernelspecs[name] : undefined;
      return args.isLauncher && spec ? spec.display_name : 'Notebook';
    },
    execute: async args => {
      const model = await ctx.docManager.services.contents.newUntitled({
        type: 'notebook'
      });
      const name = args.kernelName as string;
      const spec = ctx.kernelspecs.specs?.kernelspecs[name];
      await ctx.docManager.services.contents.save(model.path, {
        type: 'notebook',
        format: 'json',
        content: {
          cells: [],
          metadata: {
            kernelspec: { name, display_name: spec?.display_name ?? name }
          },
          nbformat: 4,
          nbformat_minor: 5
        }
      });
      window.location.href = URLExt.join(
        PageConfig.getBaseUrl(),
        'ipclab-lab/tree',
        URLExt.encodeParts(model.path)
      );
    }
  });

  const bindings = [
    {
      selector: '.jp-Notebook.jp-mod-editMode .jp-mod-completer-enabled',
      keys: ['Tab'],
      command: COMMAND_IDS.invokeNotebook
    },
    {
      selector: '.jp-mod-completer-active',
      keys: ['Enter'],
      command: COMMAND_IDS.selectNotebook
    },
    {
      selector:
        '.jp-Notebook.jp-mod-editMode .jp-InputArea-editor:not(.jp-mod-has-primary-selection):not(.jp-mod-in-leading-whitespace)',
      keys: ['Shift Tab'],
      command: COMMAND_IDS.tooltip
    },
    {
      selector: 'body.jp-mod-tooltip .jp-Notebook',
      keys: ['Escape'],
      command: COMMAND_IDS.dismissTooltip
    },
    { selector: '.jp-Notebook', keys: ['Ctrl Enter'], command: COMMAND_IDS.run },
    {
      selector: '.jp-Notebook',
      keys: ['Shift Enter'],
      command: COMMAND_IDS.runAndAdvance
    },
    { selector: '.jp-Notebook', keys: ['Accel S'], command: COMMAND_IDS.save },
    {
      selector: '.jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus',
      keys: ['I', 'I'],
      command: COMMAND_IDS.interrupt
    },
    {
      selector: '.jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus',
      keys: ['0', '0'],
      command: COMMAND_IDS.restart
    },
    {
      selector: '.jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus',
      keys: ['Enter'],
      command: COMMAND_IDS.editMode
    },
    {
      selector: '.jp-Notebook.jp-mod-editMode',
      keys: ['Escape'],
      command: COMMAND_IDS.commandMode
    },
    {
      selector: '.jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus',
      keys: ['J'],
      command: COMMAND_IDS.selectBelow
    },
    {
      selector: '.jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus',
      keys: ['K'],
      command: COMMAND_IDS.selectAbove
    }
  ];
  bindings.forEach(binding => commands.addKeyBinding(binding));
}
