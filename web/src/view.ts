// What main.ts and the views share.

import type { AppState } from './router';

export interface AppContext {
  /** The state in the URL now. */
  state(): AppState;
  /** Changes the URL (a history entry); the same state again reruns the current view. */
  navigate(patch: Partial<AppState>): void;
}

export interface ViewInstance {
  readonly root: HTMLElement;
  /** The URL changed (or `force`: run again even if the query did not). */
  update(state: AppState, force: boolean): void;
  destroy(): void;
}
