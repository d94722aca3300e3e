// The time range picker: a button showing the range, opening relative presets and two
// datetime-local inputs (local time) for an absolute range.

import { h } from './dom';
import {
  PRESETS,
  fromDatetimeLocal,
  presetKey,
  presetRange,
  rangeLabel,
  resolveRange,
  toDatetimeLocal,
  type RangeSpec,
} from './timerange';

export class RangePicker {
  readonly root: HTMLElement;
  private readonly button: HTMLButtonElement;
  private readonly panel: HTMLElement;
  private readonly fromInput: HTMLInputElement;
  private readonly toInput: HTMLInputElement;
  private readonly message: HTMLElement;
  private spec: RangeSpec = { from: 'now-1h', to: 'now' };
  private readonly onDocClick = (e: MouseEvent) => {
    if (!this.root.contains(e.target as Node)) this.close();
  };

  constructor(private readonly onChange: (spec: RangeSpec) => void) {
    this.button = h('button', {
      class: 'btn range-btn',
      type: 'button',
      'data-testid': 'range-button',
      'aria-haspopup': 'dialog',
      'aria-expanded': 'false',
      title: 'Time range',
    });
    this.fromInput = h('input', { type: 'datetime-local', step: 1, 'data-testid': 'range-from', 'aria-label': 'From' });
    this.toInput = h('input', { type: 'datetime-local', step: 1, 'data-testid': 'range-to', 'aria-label': 'To' });
    this.message = h('div', { class: 'range-msg', role: 'alert' });
    const apply = h('button', { class: 'btn btn-primary', type: 'button', 'data-testid': 'range-apply' }, 'Apply');
    const presets = h('ul', { class: 'range-presets' });
    for (const p of PRESETS) {
      presets.appendChild(
        h('li', null, h('button', { type: 'button', class: 'range-option', 'data-testid': 'range-option', 'data-range': p.key }, p.label)),
      );
    }
    this.panel = h(
      'div',
      { class: 'range-panel', role: 'dialog', hidden: true },
      h(
        'div',
        { class: 'range-abs' },
        h('div', { class: 'range-title' }, 'Absolute range'),
        h('label', null, 'From', this.fromInput),
        h('label', null, 'To', this.toInput),
        this.message,
        apply,
      ),
      h('div', { class: 'range-rel' }, h('div', { class: 'range-title' }, 'Relative'), presets),
    );
    this.root = h('div', { class: 'range' }, this.button, this.panel);

    this.button.addEventListener('click', () => (this.panel.hidden ? this.open() : this.close()));
    presets.addEventListener('click', (e) => {
      const b = (e.target as Element).closest<HTMLElement>('[data-range]');
      if (!b) return;
      this.close();
      this.onChange(presetRange(b.dataset.range!));
    });
    apply.addEventListener('click', () => this.apply());
    this.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        this.close();
        this.button.focus();
      } else if (e.key === 'Enter' && (e.target as Element).tagName === 'INPUT') {
        e.preventDefault();
        this.apply();
      }
    });
    document.addEventListener('mousedown', this.onDocClick);
    this.render();
  }

  set(spec: RangeSpec): void {
    this.spec = spec;
    this.render();
  }

  destroy(): void {
    document.removeEventListener('mousedown', this.onDocClick);
  }

  private render(): void {
    this.button.textContent = rangeLabel(this.spec, Date.now());
    const key = presetKey(this.spec);
    this.panel.querySelectorAll<HTMLElement>('[data-range]').forEach((b) => {
      b.classList.toggle('active', b.dataset.range === key);
    });
  }

  private open(): void {
    const { fromMs, toMs } = resolveRange(this.spec, Date.now());
    this.fromInput.value = toDatetimeLocal(fromMs);
    this.toInput.value = toDatetimeLocal(toMs);
    this.message.textContent = '';
    this.panel.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
  }

  private close(): void {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    this.button.setAttribute('aria-expanded', 'false');
  }

  private apply(): void {
    const from = fromDatetimeLocal(this.fromInput.value);
    const to = fromDatetimeLocal(this.toInput.value);
    if (from === null || to === null) {
      this.message.textContent = 'Enter both times.';
      return;
    }
    if (from >= to) {
      this.message.textContent = '“From” must be before “To”.';
      return;
    }
    this.close();
    this.onChange({ from: String(from), to: String(to) });
  }
}
