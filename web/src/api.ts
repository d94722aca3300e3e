// Fetch helpers and the typed answers of the server's APIs. All URLs are same-origin and
// relative. `track` keeps `data-loading` on <body> true while any request is in flight.

import { parseErrorPosition, type ErrorPosition } from './logql';

export class ApiError extends Error {
  readonly status: number; // HTTP status; 0 for a network failure
  readonly position: ErrorPosition | null;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.position = status === 400 ? parseErrorPosition(message) : null;
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

// ---- loading indicator -----------------------------------------------------------------

let inflight = 0;
const listeners = new Set<(busy: boolean) => void>();

function setBusy(): void {
  const busy = inflight > 0;
  document.body.setAttribute('data-loading', busy ? 'true' : 'false');
  for (const l of listeners) l(busy);
}

export function onBusyChange(l: (busy: boolean) => void): void {
  listeners.add(l);
}

/** Counts `p` as in flight until it settles. */
export function track<T>(p: Promise<T>): Promise<T> {
  inflight++;
  setBusy();
  return p.finally(() => {
    inflight--;
    setBusy();
  });
}

/** Called once the first view has started its requests (the page starts as loading). */
export function settleInitialLoading(): void {
  setBusy();
}

// ---- requests --------------------------------------------------------------------------

export type Params = Record<string, string | number | undefined>;

export function url(path: string, params: Params = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

export interface RequestOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export async function getJson<T>(path: string, params: Params, opts: RequestOptions = {}): Promise<T> {
  return track(
    (async () => {
      let res: Response;
      try {
        res = await fetch(url(path, params), { signal: opts.signal, headers: opts.headers });
      } catch (e) {
        if (isAbort(e)) throw e;
        throw new ApiError(`network error: ${(e as Error).message || 'the server could not be reached'}`, 0);
      }
      if (!res.ok) {
        const text = (await res.text().catch(() => '')).trim();
        throw new ApiError(text || `${res.status} ${res.statusText}`, res.status);
      }
      try {
        return (await res.json()) as T;
      } catch {
        throw new ApiError('the server answered something that is not JSON', res.status);
      }
    })(),
  );
}

// ---- Loki API ---------------------------------------------------------------------------

export type Labels = Record<string, string>;

/** The third element of a value with `categorize-labels`. */
export interface EntryMetadata {
  structuredMetadata?: Labels | { name: string; value: string }[];
  parsed?: Labels | { name: string; value: string }[];
}

export type StreamValue = [string, string] | [string, string, EntryMetadata];

export interface Stream {
  stream: Labels;
  values: StreamValue[];
}

export interface MatrixSeries {
  metric: Labels;
  values: [number, string][];
}

export interface VectorSample {
  metric: Labels;
  value: [number, string];
}

export interface QueryStats {
  summary?: {
    execTime?: number;
    totalLinesProcessed?: number;
    totalBytesProcessed?: number;
    totalEntriesReturned?: number;
  };
  lode?: { linesMatched?: number; rows?: number; segments?: number; blocks?: number; tookMs?: number };
}

export type QueryData =
  | { resultType: 'streams'; result: Stream[]; stats?: QueryStats }
  | { resultType: 'matrix'; result: MatrixSeries[]; stats?: QueryStats }
  | { resultType: 'vector'; result: VectorSample[]; stats?: QueryStats }
  | { resultType: 'scalar'; result: [number, string]; stats?: QueryStats };

interface Envelope<T> {
  status: string;
  data: T;
}

export const CATEGORIZE = { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' };

export async function queryRange(params: Params, opts: RequestOptions = {}): Promise<QueryData> {
  const r = await getJson<Envelope<QueryData>>('loki/api/v1/query_range', params, opts);
  return r.data;
}

export async function queryInstant(params: Params, opts: RequestOptions = {}): Promise<QueryData> {
  const r = await getJson<Envelope<QueryData>>('loki/api/v1/query', params, opts);
  return r.data;
}

// ---- Lode: patterns --------------------------------------------------------------------

export interface Pattern {
  id: string;
  service: string;
  pattern: string;
  count: number;
  first_seen?: string;
  last_seen?: string;
  new?: boolean;
  sample?: string;
  volume?: number[];
}

export interface PatternsData {
  start_ns?: string;
  end_ns?: string;
  step_ns?: string;
  lines?: number;
  unpatterned?: number;
  total_patterns?: number;
  patterns: Pattern[];
}

export async function fetchPatterns(params: Params, opts: RequestOptions = {}): Promise<PatternsData> {
  const r = await getJson<Envelope<PatternsData>>('api/v1/patterns', params, opts);
  return r.data;
}

// ---- Lode: alerting --------------------------------------------------------------------

export interface Rule {
  name: string;
  type: string;
  tenant: string;
  query: string;
  by: string[];
  window_seconds?: number;
  condition?: string;
  rate?: boolean;
  for_seconds: number;
  labels?: Labels;
  annotations?: Labels;
  groups: number;
  pending: number;
  firing: number;
  matched: number;
  late: number;
}

export interface Alert {
  rule: string;
  tenant: string;
  state: 'pending' | 'firing' | string;
  labels: Labels;
  annotations: Labels;
  value: number;
  activeAt: string;
  sample?: string;
}

export interface RuleSet {
  /** False when the server runs without a rules file. */
  enabled: boolean;
  rules: Rule[];
}

export async function fetchRules(opts: RequestOptions = {}): Promise<RuleSet> {
  const r = await getJson<{ enabled?: boolean; rules?: Rule[] }>('api/v1/rules', {}, opts);
  return { enabled: r.enabled ?? true, rules: r.rules ?? [] };
}

export async function fetchAlerts(opts: RequestOptions = {}): Promise<Alert[]> {
  return (await getJson<{ alerts: Alert[] }>('api/v1/alerts', {}, opts)).alerts ?? [];
}
