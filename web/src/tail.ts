// Live tail: Loki's WebSocket tail API (`/loki/api/v1/tail`), each message a batch of
// streams with new lines.

import type { Stream } from './api';
import { streamsToRows, type LogRow } from './rows';

export type TailState = 'connecting' | 'live' | 'closed' | 'error';

export interface TailHandlers {
  onRows(rowsNewestFirst: LogRow[]): void;
  /** The server dropped lines (its queue for this tail was full). */
  onDropped?(n: number): void;
  /** `retry`: the connection broke (not refused by the server): opening again may work. */
  onState(state: TailState, message?: string, retry?: boolean): void;
}

interface TailMessage {
  streams?: Stream[];
  dropped_entries?: unknown[] | null;
}

export function tailUrl(query: string, startNs: string | undefined, limit: number): string {
  const u = new URL('loki/api/v1/tail', window.location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.searchParams.set('query', query);
  u.searchParams.set('limit', String(limit));
  // Lode: entries carry their structured metadata and parsed labels, as query_range's do.
  u.searchParams.set('categorize_labels', 'true');
  if (startNs) u.searchParams.set('start', startNs);
  return u.toString();
}

export class LiveTail {
  private ws: WebSocket | null;
  private closedByUs = false;

  /**
   * Starts tailing `query`: lines from `startNs` on (the server's backlog is the newest
   * `limit` of the lines stored since). The handlers are called from the socket's events
   * only, never during construction.
   */
  constructor(query: string, startNs: string | undefined, limit: number, handlers: TailHandlers) {
    this.ws = new WebSocket(tailUrl(query, startNs, limit));
    this.ws.onopen = () => handlers.onState('live');
    this.ws.onmessage = (ev) => {
      let msg: TailMessage;
      try {
        msg = JSON.parse(String(ev.data)) as TailMessage;
      } catch {
        return;
      }
      const rows = streamsToRows(msg.streams ?? []);
      if (rows.length) handlers.onRows(rows);
      if (msg.dropped_entries?.length) handlers.onDropped?.(msg.dropped_entries.length);
    };
    this.ws.onclose = (ev) => {
      this.ws = null;
      if (this.closedByUs) return;
      // 1008 (policy): the server refused the query; 1006: the connection was lost.
      const retry = ev.code !== 1000 && ev.code !== 1008;
      handlers.onState(ev.code === 1000 ? 'closed' : 'error', ev.reason || `connection closed (${ev.code})`, retry);
    };
  }

  /** Stops; no handler is called after this. */
  close(): void {
    this.closedByUs = true;
    this.ws?.close(1000);
    this.ws = null;
  }
}
