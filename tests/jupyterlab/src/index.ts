// A JupyterLab 4 notebook front end built from JupyterLab's own npm packages,
// the way JupyterLab's examples/notebook builds one: a NotebookPanel with the
// standard rendermime factories (Markdown through marked, LaTeX through
// MathJax), the kernel completer (Tab), the inspector tooltip (Shift-Tab), a
// toolbar with run / interrupt / restart, the kernel's name, logo and status,
// and JupyterLab's launcher card for every kernel spec. Go cells are
// highlighted by CodeMirror 6's Go mode, which the notebook picks from the
// kernel's language_info.
//
// server/ipclab_jupyterlab.py serves it from Debian's jupyter-server at
// /ipclab-lab/tree/<notebook path>. ../jupyterlab_test.go drives it in
// headless Chromium; window.ipclabLab exposes the panel to that test.
import './style';

import type { IYText } from '@jupyter/ydoc';
import {
  Toolbar as AppToolbar,
  CommandToolbarButton,
  SessionContextDialogs
} from '@jupyterlab/apputils';
import {
  CodeMirrorEditorFactory,
  CodeMirrorMimeTypeService,
  EditorExtensionRegistry,
  EditorLanguageRegistry,
  EditorThemeRegistry,
  ybinding
} from '@jupyterlab/codemirror';
import {
  Completer,
  CompleterModel,
  CompletionHandler,
  KernelCompleterProvider,
  ProviderReconciliator
} from '@jupyterlab/completer';
import { PageConfig } from '@jupyterlab/coreutils';
import { DocumentManager } from '@jupyterlab/docmanager';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { Launcher, LauncherModel } from '@jupyterlab/launcher';
import { createMarkdownParser } from '@jupyterlab/markedparser-extension';
import { MathJaxTypesetter } from '@jupyterlab/mathjax-extension';
import {
  ExecutionIndicator,
  NotebookModelFactory,
  NotebookPanel,
  NotebookWidgetFactory,
  StaticNotebook,
  ToolbarItems
} from '@jupyterlab/notebook';
import {
  standardRendererFactories as initialFactories,
  RenderMimeRegistry
} from '@jupyterlab/rendermime';
import { ServiceManager } from '@jupyterlab/services';
import { Toolbar } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { SplitPanel, Widget } from '@lumino/widgets';
import { syntaxHighlighting } from '@codemirror/language';
import { classHighlighter } from '@lezer/highlight';

import { COMMAND_IDS, setupCommands } from './commands';
import { TooltipInvoker } from './tooltip';

function main(): void {
  const manager = new ServiceManager();
  void manager.ready.then(() => createApp(manager));
}

function createApp(manager: ServiceManager.IManager): void {
  const commands = new CommandRegistry();
  document.addEventListener(
    'keydown',
    event => commands.processKeydownEvent(event),
    true
  );

  // Go for code cells (the kernel's language_info names text/x-go), Python for
  // fenced blocks in Markdown, and JupyterLab's Markdown for Markdown cells.
  const languages = new EditorLanguageRegistry();
  EditorLanguageRegistry.getDefaultLanguages()
    .filter(language => ['go', 'python'].includes(language.name.toLowerCase()))
    .forEach(language => languages.addLanguage(language));
  languages.addLanguage({
    name: 'ipythongfm',
    mime: 'text/x-ipythongfm',
    load: async () => {
      const m = await import('@codemirror/lang-markdown');
      return m.markdown({
        codeLanguages: (info: string) => languages.findBest(info) as any
      });
    }
  });

  const rendermime = new RenderMimeRegistry({
    initialFactories,
    latexTypesetter: new MathJaxTypesetter(),
    markdownParser: createMarkdownParser(languages)
  });

  const docRegistry = new DocumentRegistry();
  const docManager = new DocumentManager({
    registry: docRegistry,
    manager,
    opener: {
      open: () => undefined,
      get opened() {
        return { connect: () => false, disconnect: () => false } as any;
      }
    }
  });

  const editorExtensions = () => {
    const themes = new EditorThemeRegistry();
    EditorThemeRegistry.getDefaultThemes().forEach(theme =>
      themes.addTheme(theme)
    );
    const registry = new EditorExtensionRegistry();
    EditorExtensionRegistry.getDefaultExtensions({ themes }).forEach(factory =>
      registry.addExtension(factory)
    );
    registry.addExtension({
      name: 'shared-model-binding',
      factory: options => {
        const sharedModel = options.model.sharedModel as IYText;
        return EditorExtensionRegistry.createImmutableExtension(
          ybinding({
            ytext: sharedModel.ysource,
            undoManager: sharedModel.undoManager ?? undefined
          })
        );
      }
    });
    // Stable class names on highlighted tokens (tok-keyword, tok-string, …)
    // next to JupyterLab's own colours, so that a test can name a token kind.
    registry.addExtension({
      name: 'ipclab-token-classes',
      factory: () =>
        EditorExtensionRegistry.createImmutableExtension(
          syntaxHighlighting(classHighlighter)
        )
    });
    return registry;
  };
  const factoryService = new CodeMirrorEditorFactory({
    extensions: editorExtensions(),
    languages
  });
  const mimeTypeService = new CodeMirrorMimeTypeService(languages);
  const contentFactory = new NotebookPanel.ContentFactory({
    editorFactory: factoryService.newInlineEditor
  });

  const sessionContextDialogs = new SessionContextDialogs();
  const toolbarFactory = (panel: NotebookPanel) =>
    [
      COMMAND_IDS.save,
      COMMAND_IDS.insert,
      COMMAND_IDS.deleteCell,
      COMMAND_IDS.runAndAdvance,
      COMMAND_IDS.interrupt,
      COMMAND_IDS.restart,
      COMMAND_IDS.restartAndRun
    ]
      .map<DocumentRegistry.IToolbarItem>(id => ({
        name: id,
        widget: new CommandToolbarButton({ commands, id, args: { toolbar: true } })
      }))
      .concat([
        { name: 'cellType', widget: ToolbarItems.createCellTypeItem(panel) },
        { name: 'spacer', widget: Toolbar.createSpacerItem() },
        { name: 'kernelLogo', widget: new KernelLogo(panel) },
        {
          name: 'kernelName',
          widget: AppToolbar.createKernelNameItem(
            panel.sessionContext,
            sessionContextDialogs
          )
        },
        {
          name: 'executionProgress',
          widget: ExecutionIndicator.createExecutionIndicatorItem(panel)
        }
      ]);

  docRegistry.addModelFactory(new NotebookModelFactory({}));
  docRegistry.addWidgetFactory(
    new NotebookWidgetFactory({
      name: 'Notebook',
      modelName: 'notebook',
      fileTypes: ['notebook'],
      defaultFor: ['notebook'],
      preferKernel: true,
      canStartKernel: true,
      rendermime,
      contentFactory,
      mimeTypeService,
      toolbarFactory,
      notebookConfig: {
        ...StaticNotebook.defaultNotebookConfig,
        windowingMode: 'none'
      }
    })
  );

  const notebookPath = PageConfig.getOption('notebookPath');
  const nbWidget = docManager.open(notebookPath) as NotebookPanel;

  // The completer, as JupyterLab's completer and notebook extensions wire
  // it: the kernel's complete_reply through a CompletionHandler that follows
  // the active cell once its editor exists.
  const completer = new Completer({ editor: null, model: new CompleterModel() });
  const sessionContext = nbWidget.context.sessionContext;
  const handler = new CompletionHandler({
    completer,
    reconciliator: new ProviderReconciliator({
      context: { widget: nbWidget, editor: null, session: null },
      providers: [],
      timeout: 1000
    })
  });
  const follow = async () => {
    const cell = nbWidget.content.activeCell;
    await cell?.ready;
    const editor = cell?.editor ?? null;
    completer.editor = editor;
    handler.editor = editor;
    handler.reconciliator = new ProviderReconciliator({
      context: { widget: nbWidget, editor, session: sessionContext.session },
      providers: [new KernelCompleterProvider()],
      timeout: 1000
    });
  };
  nbWidget.content.activeCellChanged.connect(() => void follow());
  sessionContext.sessionChanged.connect(() => void follow());
  void sessionContext.ready.then(follow);
  completer.hide();

  const tooltip = new TooltipInvoker(nbWidget, rendermime);

  // JupyterLab's launcher, with a card per kernel spec as the notebook
  // extension adds them: the kernel's display name and logo.
  const launcherModel = new LauncherModel();
  const launcher = new Launcher({
    model: launcherModel,
    cwd: '',
    commands,
    callback: () => undefined
  });
  launcher.id = 'ipclab-launcher';
  launcher.title.label = 'Launcher';
  const specs = manager.kernelspecs.specs;
  Object.entries(specs?.kernelspecs ?? {}).forEach(([name, spec], rank) => {
    if (!spec) {
      return;
    }
    launcherModel.add({
      command: COMMAND_IDS.createNew,
      args: { isLauncher: true, kernelName: name },
      category: 'Notebook',
      rank,
      kernelIconUrl:
        spec.resources['logo-svg'] || spec.resources['logo-64x64'],
      metadata: { kernel: { name, display_name: spec.display_name } }
    });
  });

  const panel = new SplitPanel();
  panel.id = 'main';
  panel.orientation = 'horizontal';
  panel.spacing = 0;
  SplitPanel.setStretch(launcher, 0);
  SplitPanel.setStretch(nbWidget, 1);
  panel.addWidget(launcher);
  panel.addWidget(nbWidget);
  panel.setRelativeSizes([1, 4]);
  panel.addClass('jp-ThemedContainer');
  completer.addClass('jp-ThemedContainer');
  Widget.attach(panel, document.body);
  Widget.attach(completer, document.body);
  window.addEventListener('resize', () => panel.update());

  setupCommands(commands, {
    nbWidget,
    handler,
    tooltip,
    sessionContextDialogs,
    docManager,
    kernelspecs: manager.kernelspecs
  });

  (window as any).ipclabLab = { panel: nbWidget, commands, manager, completer: handler };
}

// The kernel's logo in the toolbar, from the kernelspecs API's resources, as
// JupyterLab's launcher and Notebook 7's toolbar show it.
class KernelLogo extends Widget {
  constructor(private panel: NotebookPanel) {
    super({ node: document.createElement('img') });
    this.addClass('ipclab-KernelLogo');
    const img = this.node as HTMLImageElement;
    img.alt = '';
    img.width = 24;
    img.height = 24;
    const update = async () => {
      const kernel = panel.sessionContext.session?.kernel;
      const spec = kernel ? await kernel.spec : undefined;
      const url = spec?.resources['logo-64x64'];
      if (url) {
        img.src = url;
        img.title = spec!.display_name;
      }
    };
    panel.sessionContext.kernelChanged.connect(() => void update());
    void panel.sessionContext.ready.then(update);
  }
}

window.addEventListener('load', main);
