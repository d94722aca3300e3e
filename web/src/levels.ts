// Log levels: stable order (the histogram stacks them bottom-up in this order) and colours,
// shared by the canvas (histogram) and the CSS (chips, via --lvl-* custom properties).

export const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'unknown'] as const;
export type Level = (typeof LEVELS)[number];

export const LEVEL_COLORS: Record<Level, string> = {
  fatal: '#8e2bb3',
  error: '#e02f44',
  warn: '#f2a31b',
  info: '#3d9e5f',
  debug: '#6f86a6',
  trace: '#a2a8b3',
  unknown: '#c1c5cc',
};

export function levelColor(level: string): string {
  const known = Object.prototype.hasOwnProperty.call(LEVEL_COLORS, level);
  return LEVEL_COLORS[known ? (level as Level) : 'unknown'];
}

/** Levels in display order: the known ones first, in LEVELS order, then any others. */
export function sortLevels(levels: Iterable<string>): string[] {
  const rank = (l: string) => {
    const i = (LEVELS as readonly string[]).indexOf(l);
    return i < 0 ? LEVELS.length : i;
  };
  return [...levels].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Sets --lvl-<level> on :root so CSS uses the same colours as the charts. */
export function installLevelColors(root: HTMLElement): void {
  for (const l of LEVELS) root.style.setProperty(`--lvl-${l}`, LEVEL_COLORS[l]);
}
