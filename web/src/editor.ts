// The LogQL query box: an auto-growing textarea with a backdrop that marks an error's
// position, a history list (localStorage), Ctrl/Cmd+Enter to run.

import { h, clear } from './dom';
import { loadHistory } from './history';
import { offsetOfPosition, type ErrorPosition } from './logql';

export interface QueryEditorOptions {
  onRun: (q: string) => void;
}

export class QueryEditor {
  /** The box with its history button and list; the view puts it in its toolbar. */
  readonly field: HTMLElement;
  /** Where the error message goes (empty when there is none); the view puts it below. */
  readonly errorSlot: HTMLElement;
  private readonly ta: HTMLTextAreaElement;
  private readonly backdrop: HTMLElement;
  private readonly historyButton: HTMLButtonElement;
  private readonly historyList: HTMLElement;
  private historyItems: string[] = [];
  private historyIndex = -1;
  private errorOffset: number | null = null;
  private readonly opts: QueryEditorOptions;
  private readonly onDocClick = (e: MouseEvent) => {
    if (!this.field.contains(e.target as Node)) this.closeHistory();
  };

  constructor(opts: QueryEditorOptions) {
    this.opts = opts;
    this.ta = h('textarea', {
      class: 'qe-input',
      'data-testid': 'query-input',
      rows: 1,
      spellcheck: 'false',
      autocomplete: 'off',
      autocapitalize: 'off',
      'aria-label': 'LogQL query',
      placeholder: '{service="checkout"} |= "timeout"   (Ctrl+Enter to run)',
    });
    this.backdrop = h('div', { class: 'qe-backdrop', 'aria-hidden': 'true' });
    this.historyButton = h(
      'button',
      { class: 'btn btn-icon qe-history-btn', type: 'button', 'data-testid': 'history-button', title: 'Query history (↑)' },
      'History',
    );
    this.historyList = h('ul', { class: 'qe-history', role: 'listbox', hidden: true });
    this.field = h(
      'div',
      { class: 'qe' },
      h('div', { class: 'qe-box' }, this.backdrop, this.ta),
      this.historyButton,
      this.historyList,
    );
    this.errorSlot = h('div', { class: 'qe-error-slot' });

    this.ta.addEventListener('input', () => {
      this.errorOffset = null; // the position no longer points at the same text
      this.sync();
    });
    this.ta.addEventListener('keydown', (e) => this.onKey(e));
    this.historyButton.addEventListener('click', () => {
      if (this.historyList.hidden) this.openHistory();
      else this.closeHistory();
    });
    this.historyList.addEventListener('mousedown', (e) => e.preventDefault()); // keep focus
    this.historyList.addEventListener('click', (e) => {
      const li = (e.target as Element).closest<HTMLElement>('[data-testid="history-item"]');
      if (li) this.pickHistory(Number(li.dataset.index));
    });
    document.addEventListener('mousedown', this.onDocClick);
    let width = 0;
    new ResizeObserver(() => {
      // Re-wrap when the width changes (the height is ours to set).
      if (this.ta.clientWidth !== width) {
        width = this.ta.clientWidth;
        this.autoGrow();
      }
    }).observe(this.ta);
  }

  get value(): string {
    return this.ta.value;
  }

  set value(q: string) {
    if (this.ta.value !== q) {
      this.ta.value = q;
      this.errorOffset = null;
      this.sync();
    }
  }

  focus(): void {
    this.ta.focus();
  }

  destroy(): void {
    document.removeEventListener('mousedown', this.onDocClick);
  }

  /** Shows a message; with a position, marks that character and puts the caret there. */
  showError(message: string, pos: ErrorPosition | null): void {
    clear(this.errorSlot);
    const el = h('div', { class: 'query-error', 'data-testid': 'query-error', role: 'alert' });
    if (pos) {
      el.setAttribute('data-line', String(pos.line));
      el.setAttribute('data-col', String(pos.col));
    }
    el.textContent = message;
    this.errorSlot.appendChild(el);
    if (pos) {
      this.errorOffset = offsetOfPosition(this.ta.value, pos);
      this.sync();
      this.ta.focus();
      this.ta.setSelectionRange(this.errorOffset, this.errorOffset);
    }
  }

  clearError(): void {
    clear(this.errorSlot);
    if (this.errorOffset !== null) {
      this.errorOffset = null;
      this.sync();
    }
  }

  private run(): void {
    this.closeHistory();
    this.opts.onRun(this.ta.value);
  }

  private onKey(e: KeyboardEvent): void {
    const open = !this.historyList.hidden;
    if (e.key === 'Enter') {
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        this.run();
      } else if (open && this.historyIndex >= 0) {
        e.preventDefault();
        this.pickHistory(this.historyIndex);
      } else if (!e.shiftKey) {
        e.preventDefault(); // Enter alone inserts nothing; Shift+Enter breaks the line
      }
      return;
    }
    if (open) {
      if (e.key === 'Escape') {
        e.preventDefault();
        this.closeHistory();
      } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const n = this.historyItems.length;
        if (n === 0) return;
        const d = e.key === 'ArrowDown' ? 1 : -1;
        this.selectHistory(Math.max(0, Math.min(n - 1, this.historyIndex + d)));
      }
      return;
    }
    if (e.key === 'ArrowUp' && !e.shiftKey && !e.altKey) {
      // On the first line (or in an empty box), ArrowUp opens the history.
      const before = this.ta.value.slice(0, this.ta.selectionStart);
      if (!before.includes('\n')) {
        e.preventDefault();
        this.openHistory();
      }
    }
  }

  private openHistory(): void {
    this.historyItems = loadHistory();
    clear(this.historyList);
    if (this.historyItems.length === 0) {
      this.historyList.appendChild(h('li', { class: 'qe-history-empty' }, 'No queries run yet'));
    }
    this.historyItems.forEach((q, i) => {
      this.historyList.appendChild(
        h('li', { class: 'qe-history-item', 'data-testid': 'history-item', 'data-index': i, role: 'option', title: q }, q),
      );
    });
    this.historyList.hidden = false;
    this.historyButton.setAttribute('aria-expanded', 'true');
    this.selectHistory(this.historyItems.length ? 0 : -1);
  }

  private selectHistory(i: number): void {
    this.historyIndex = i;
    const items = this.historyList.querySelectorAll<HTMLElement>('[data-testid="history-item"]');
    items.forEach((el, j) => el.classList.toggle('selected', j === i));
    items[i]?.scrollIntoView({ block: 'nearest' });
  }

  private pickHistory(i: number): void {
    const q = this.historyItems[i];
    if (q === undefined) return;
    this.value = q;
    this.run();
    this.ta.focus();
  }

  private closeHistory(): void {
    if (this.historyList.hidden) return;
    this.historyList.hidden = true;
    this.historyButton.setAttribute('aria-expanded', 'false');
    this.historyIndex = -1;
  }

  /** Backdrop text (with the error mark) and height follow the textarea. */
  private sync(): void {
    const text = this.ta.value;
    clear(this.backdrop);
    if (this.errorOffset !== null) {
      const i = Math.min(this.errorOffset, text.length);
      const ch = text.slice(i, i + 1);
      this.backdrop.append(
        text.slice(0, i),
        h('mark', { class: 'qe-mark' }, ch === '' || ch === '\n' ? ' ' : ch),
        ch === '\n' ? text.slice(i) : text.slice(i + 1),
      );
    } else {
      this.backdrop.append(text);
    }
    this.backdrop.append('\n'); // a trailing newline still takes a line
    this.autoGrow();
  }

  private autoGrow(): void {
    this.ta.style.height = 'auto';
    this.ta.style.height = `${this.ta.scrollHeight}px`;
  }
}
