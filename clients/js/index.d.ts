// Type declarations of @interview-service/client (protocol v1, docs/protocol.md; JSON Schema in
// ./protocol.schema.json). Hand-written; tests/clients/test_js_client.py type-checks nothing but runs the
// package against a live server, and test/types.test.mjs checks every export named here exists.

export const PROTOCOL_VERSION: 1;

// --- server → client ------------------------------------------------------------------------------------------
export interface Word { w: string; start: number; end: number; p: number }
export interface Segment {
  id: number; start: number; end: number; text: string; confidence: number; words: Word[];
  language?: string; speaker?: string; role?: "interviewer" | "candidate" | "unknown" | ""; role_confidence?: number;
}
export interface ConnectionAck {
  type: "connection_ack"; session_id: string; resume_token: string; protocol: 1;
  audio: { encoding: "pcm_s16le" | "opus"; sample_rate: number; channels: 1 | 2; max_chunk_ms: number };
  heartbeat_s: number; last_seq: number; status: "live" | "ending" | "complete" | "failed"; language: string;
}
export interface AudioProcessed {
  type: "audio_processed"; seq: number; segments: Segment[]; partial: string; lag_ms: number;
  timings_ms: Record<string, number>;
}
export interface RealTimeFeedback {
  type: "real_time_feedback"; answer_id: number; question: string; final?: boolean;
  items: Array<Record<string, string | number | null>>; metrics: Record<string, unknown>;
}
export interface ScoreUpdate {
  type: "score_update"; scope: "answer" | "session"; answer_id?: number; scores: Record<string, number | null>;
  overall: number | null; band: [number, number]; n_answers?: number; provisional?: boolean;
}
export interface FinalProgress { type: "final_progress"; stage: "transcribe" | "diarize" | "analyze" | "done"; done: number }
export interface SessionComplete {
  type: "session_complete"; session_id: string; duration_s: number; segments: Segment[]; report_url?: string;
  report?: Record<string, unknown>;
}
export interface NoteAck { type: "note_ack"; id: number; at: number; kind: "note" | "question" }
export interface EvaluationStatus {
  type: "evaluation_status"; scope: "answer" | "session"; audio_s: number; segments: number; words: number;
  transcribed_s: number;
}
export interface Pong { type: "pong"; ts: unknown }
export type ErrorCode =
  | "bad_json" | "bad_message" | "unknown_type" | "missing_field" | "invalid_field" | "bad_audio" | "chunk_too_short"
  | "chunk_too_large" | "duplicate_seq" | "seq_gap" | "too_fast" | "session_ended" | "bad_parameters"
  | "unknown_session" | "unauthorized" | "processing_failed" | "internal_error";
export interface ErrorMessage { type: "error_message"; code: ErrorCode; message: string; fatal: boolean; seq?: number }
export type ServerMessage =
  | ConnectionAck | AudioProcessed | RealTimeFeedback | ScoreUpdate | FinalProgress | SessionComplete | NoteAck
  | EvaluationStatus | Pong | ErrorMessage;

// --- client → server ------------------------------------------------------------------------------------------
export interface SpeakerNote { type: "speaker_note"; text: string; speaker?: "interviewer" | "candidate" | null; kind?: "note" | "question" }
export interface EvaluationRequest { type: "evaluation_request"; scope?: "answer" | "session" }
export interface SessionEnd { type: "session_end" }
export interface Ping { type: "ping"; ts?: unknown }
export interface AudioChunkJson { type: "audio_chunk"; seq: number; audio: string }
export type ClientMessage = SpeakerNote | EvaluationRequest | SessionEnd | Ping | AudioChunkJson;

/** Connection parameters (query string); docs/protocol.md "Connecting". */
export interface ConnectParams {
  language?: "ko" | "en" | "auto"; encoding?: "pcm_s16le" | "opus"; sample_rate?: string; channels?: "1" | "2";
  question_set?: string; candidate?: string; consent?: "0" | "1"; analysis_affect?: "0" | "1"; ticket?: string;
  mode?: "interview" | "practice"; num_speakers?: string;
  /** Interviewer enrollment: the first N seconds (3-30, "0" = none) are the interviewer reading a prompt. */
  enroll_s?: string;
  [name: string]: string | undefined;
}

// --- ledger ---------------------------------------------------------------------------------------------------
export const SEQ_HEADER_BYTES: 4;
/** A binary audio frame: 4-byte big-endian seq, then the payload. */
export function binaryFrame(seq: number, payload: ArrayBuffer | ArrayBufferView): ArrayBuffer;
/** Chunks the server may still need; resent after a resume. */
export class ChunkLedger {
  constructor(options?: { sampleRate?: number; channels?: number });
  nextSeq: number;
  sentUpTo: number;
  ackedUpTo: number;
  add(payload: ArrayBuffer | ArrayBufferView, seconds?: number | null): number;
  acknowledge(seq: number): void;
  resume(lastSeq: number): void;
  disconnected(): void;
  takeUnsent(): Array<[number, ArrayBuffer]>;
  readonly pendingSeqs: number[];
  readonly pendingSeconds: number;
  readonly allSent: boolean;
}

// --- connection -----------------------------------------------------------------------------------------------
export type ConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "ending" | "ended";
export interface LiveConnectionOptions {
  url: string;
  params: ConnectParams;
  sampleRate: number;
  channels: number;
  onEvent: (event: ServerMessage) => void;
  onState: (state: ConnectionState, info: { attempt: number; outcome?: "complete" | "failed"; code?: number; [k: string]: unknown }) => void;
  /** Build the socket (Node: `(url) => new WebSocket(url, { headers: { origin } })`). */
  createSocket?: (url: string) => WebSocket;
}
/** The socket with its state machine, heartbeat and automatic resume (nothing is lost in a blip). */
export class LiveConnection {
  constructor(options: LiveConnectionOptions);
  readonly state: ConnectionState;
  readonly sessionId: string | null;
  readonly resumeToken: string | null;
  readonly reconnects: number;
  /** Highest `audio_processed` seq received; sent as `delivered` when the connection resumes. */
  readonly processedUpTo: number;
  readonly endRequested: boolean;
  readonly ledger: ChunkLedger;
  readonly history: ConnectionState[];
  open(): void;
  /** Queue audio (PCM16 LE, or length-prefixed Opus packets with their `seconds`); returns its seq. */
  pushChunk(payload: ArrayBuffer | ArrayBufferView, seconds?: number | null): number;
  sendJson(message: ClientMessage): boolean;
  /** Send the remaining audio, then session_end; `session_complete` ends the connection. */
  end(): void;
  /** Close the socket as a network failure would (it reconnects and resumes). */
  drop(code?: number, reason?: string): void;
  retryNow(): void;
}

// --- capture (browsers) ---------------------------------------------------------------------------------------
export class CaptureError extends Error {
  constructor(code: string, message: string);
  code: "unsupported" | "mic_denied" | "no_tab_audio" | string;
}
export function pickDisplayAudio(): Promise<MediaStream>;
export interface Capture {
  context: AudioContext;
  streams: MediaStream[];
  readonly needsGesture: boolean;
  resume(): Promise<void>;
  /** Flushes the last partial chunk, then releases the devices. */
  stop(): Promise<void>;
}
/** Microphone (and a shared tab as channel 0 when `channels` is 2) → 16 kHz PCM16 chunks of `chunkMs`. */
export function startCapture(options: {
  channels: 1 | 2; chunkMs: number; targetRate?: number; workletUrl: string; displayStream?: MediaStream | null;
  onChunk: (pcm: ArrayBuffer, frames: number) => void;
  onLevel?: (message: { rms: number[] }) => void;
  onTrackEnded?: (track: MediaStreamTrack) => void;
}): Promise<Capture>;

// --- Opus (encoding=opus) -------------------------------------------------------------------------------------
export function opusSupported(sampleRate: number, channels: number): Promise<boolean>;
export function packetSamples(packet: Uint8Array): number;
export function joinPackets(packets: Uint8Array[]): ArrayBuffer;
/** WebCodecs AudioEncoder over PCM16 chunks; `onChunk` gets length-prefixed packets of about `chunkMs`. */
export class OpusChunker {
  constructor(options: {
    sampleRate: number; channels: number; chunkMs: number;
    onChunk: (payload: ArrayBuffer, seconds: number) => void; onError?: (error: Error) => void;
  });
  push(pcm: ArrayBuffer, frames: number): void;
  flush(): Promise<void>;
}
