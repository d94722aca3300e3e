// The toolbar of Explore and Patterns: query box, history, time range, Run.

import { h } from './dom';
import { QueryEditor } from './editor';
import { RangePicker } from './rangepicker';
import type { AppState } from './router';
import { resolveRange, zoomOut, type RangeSpec } from './timerange';

export interface QueryBarOptions {
  onRun(q: string): void;
  onRange(spec: RangeSpec): void;
}

export class QueryBar {
  readonly root: HTMLElement;
  readonly editor: QueryEditor;
  readonly picker: RangePicker;

  constructor(opts: QueryBarOptions) {
    this.editor = new QueryEditor({ onRun: (q) => opts.onRun(q) });
    this.picker = new RangePicker((spec) => opts.onRange(spec));
    const run = h(
      'button',
      { class: 'btn btn-primary run-btn', type: 'button', 'data-testid': 'run-query', title: 'Run query (Ctrl+Enter)' },
      'Run query',
    );
    run.addEventListener('click', () => opts.onRun(this.editor.value));
    const zoom = h(
      'button',
      {
        class: 'btn zoom-out-btn',
        type: 'button',
        'data-testid': 'zoom-out',
        title: 'Zoom out: twice the time range',
        'aria-label': 'Zoom out',
      },
      '\u2212',
    );
    zoom.addEventListener('click', () => {
      const now = Date.now();
      const { fromMs, toMs } = resolveRange(this.range, now);
      opts.onRange(zoomOut(fromMs, toMs, now));
    });
    this.root = h(
      'div',
      { class: 'querybar' },
      h(
        'div',
        { class: 'toolbar' },
        this.editor.field,
        h('div', { class: 'toolbar-right' }, this.picker.root, zoom, run),
      ),
      this.editor.errorSlot,
    );
  }

  private range: RangeSpec = { from: 'now-1h', to: 'now' };

  set(state: AppState): void {
    this.editor.value = state.q;
    this.range = { from: state.from, to: state.to };
    this.picker.set(this.range);
  }

  destroy(): void {
    this.editor.destroy();
    this.picker.destroy();
  }
}
