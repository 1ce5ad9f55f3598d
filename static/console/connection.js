// The interview socket (protocol v1) with its state machine and automatic resume.
//
//   connecting ──ack──▶ connected ──unexpected close / silence──▶ reconnecting ──ack──▶ connected
//        │                  │                                          │
//        │                  └── end() ──▶ ending ── session_complete ──┴──▶ ended
//        └── fatal error (bad parameters, unauthorised, unknown session) ────────▶ ended
//
// Why resume instead of a new session: the server keeps a session's live state for SESSION_TTL_S, and a
// resumed socket gets back the same session id, `last_seq` and every `audio_processed` it missed, so a
// Wi-Fi blip costs a second of lag and no words. Audio produced while disconnected stays in the ledger
// and goes out, in order, right after the resume ack.

import { ChunkLedger } from "./ledger.js";

const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4404, 4409, 4429]);
const RESYNC_ERRORS = new Set(["seq_gap", "too_fast"]);
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

export class LiveConnection {
  /**
   * @param {{url: string, params: Record<string,string>, sampleRate: number, channels: number,
   *          onEvent: (e: object) => void, onState: (state: string, info: object) => void,
   *          getTicket?: () => Promise<string|null>, createSocket?: (url: string) => WebSocket}} options
   *   getTicket: asked before every connect and resume for a one-time ticket (POST /api/ws-tickets/);
   *   a ticket is used once, so a resume needs a fresh one. A failure is retried like a dropped socket.
   *   createSocket lets a non-browser client set headers (Node: `new WebSocket(url, {headers: {origin}})`).
   */
  constructor({ url, params, sampleRate, channels, onEvent, onState, getTicket = null,
                createSocket = (u) => new WebSocket(u) }) {
    this.url = url;
    this.createSocket = createSocket;
    this.params = params;
    this.getTicket = getTicket;
    this.onEvent = onEvent;
    this.onState = onState;
    this.ledger = new ChunkLedger({ sampleRate, channels });
    this.state = "idle";
    this.ws = null;
    this.sessionId = null;
    this.resumeToken = null;
    // highest audio_processed seq received (they come in seq order): sent as `delivered` on resume, so the
    // server replays what died in flight with the old socket, not from what it believes it delivered
    this.processedUpTo = -1;
    this.heartbeatS = 20;
    this.attempt = 0;
    this.reconnects = 0;
    this.endRequested = false;
    this.endSent = false;
    this.lastMessageAt = 0;
    this.timers = { heartbeat: null, retry: null };
    this.history = []; // states entered, for the page and its tests
  }

  setState(state, info = {}) {
    if (state === this.state && !info.force) return;
    this.state = state;
    this.history.push(state);
    this.onState(state, { attempt: this.attempt, ...info });
  }

  open() {
    this.connect();
  }

  connectUrl(ticket = null) {
    const query = this.resumeToken
      ? { resume: this.resumeToken, sample_rate: this.params.sample_rate, channels: this.params.channels,
          consent: this.params.consent, delivered: this.processedUpTo }
      : { ...this.params };
    if (ticket) query.ticket = ticket;
    const defined = Object.entries(query).filter(([, v]) => v !== undefined && v !== null); // Opus has no sample_rate
    return `${this.url}?${new URLSearchParams(defined)}`;
  }

  async connect() {
    clearTimeout(this.timers.retry);
    if (this.state !== "reconnecting") this.setState("connecting");
    let ticket = null;
    if (this.getTicket) {
      try {
        ticket = await this.getTicket();
      } catch (error) {
        if (error && error.fatal) {
          this.finish("failed", { code: error.status, reason: error.message });
        } else {
          this.scheduleReconnect();
        }
        return;
      }
      if (this.state === "ended") return;
    }
    const ws = this.createSocket(this.connectUrl(ticket));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = (msg) => this.handleMessage(ws, msg);
    ws.onclose = (event) => this.handleClose(ws, event);
    ws.onerror = () => {}; // a close event always follows; that is where recovery happens
  }

  handleMessage(ws, msg) {
    if (ws !== this.ws) return;
    this.lastMessageAt = performance.now();
    if (typeof msg.data !== "string") return;
    let event;
    try {
      event = JSON.parse(msg.data);
    } catch (_) {
      return;
    }
    switch (event.type) {
      case "connection_ack":
        this.handleAck(event);
        break;
      case "audio_processed":
        if (event.seq <= this.processedUpTo) return; // a replay this page already has: not shown twice
        this.processedUpTo = event.seq;
        this.ledger.acknowledge(event.seq);
        break;
      case "error_message":
        if (RESYNC_ERRORS.has(event.code) && !event.fatal) this.resync();
        break;
      case "session_complete":
        this.finish("complete");
        break;
      default:
        break;
    }
    this.onEvent(event);
  }

  handleAck(ack) {
    const resumed = this.sessionId !== null;
    this.sessionId = ack.session_id;
    this.resumeToken = ack.resume_token;
    this.heartbeatS = ack.heartbeat_s || this.heartbeatS;
    this.ledger.resume(typeof ack.last_seq === "number" ? ack.last_seq : -1);
    this.attempt = 0;
    if (resumed) this.reconnects++;
    if (ack.status === "live") {
      this.endSent = false; // a session_end lost in a blip must go again
    }
    if (ack.status && ack.status !== "live") {
      // The server is already finishing this session (our session_end got through before the blip).
      this.endSent = true;
      this.setState("ending", { resumed });
    } else {
      this.setState(this.endRequested ? "ending" : "connected", { resumed });
    }
    this.startHeartbeat();
    this.pump();
  }

  /** Queue a chunk (PCM, or Opus packets with their `seconds`) and send whatever the socket can take. */
  pushChunk(pcm, seconds = null) {
    const seq = this.ledger.add(pcm, seconds);
    this.pump();
    return seq;
  }

  pump() {
    const ws = this.ws;
    const live = this.state === "connected" || (this.state === "ending" && !this.endSent);
    if (!ws || ws.readyState !== WebSocket.OPEN || !live) return;
    for (const [, frame] of this.ledger.takeUnsent()) ws.send(frame);
    if (this.endRequested && !this.endSent && this.ledger.allSent) {
      ws.send(JSON.stringify({ type: "session_end" }));
      this.endSent = true;
    }
  }

  sendJson(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.state !== "reconnecting") {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  /** Stop the interview: send any remaining audio, then session_end; `session_complete` ends it. */
  end() {
    this.endRequested = true;
    if (this.state === "connected") this.setState("ending");
    this.pump();
  }

  /** Seq gaps and refused chunks are repaired by a resume, whose ack says exactly what the server holds. */
  resync() {
    if (this.resyncing) return;
    this.resyncing = true;
    setTimeout(() => {
      this.resyncing = false;
      this.drop(4001, "resync");
    }, 1000);
  }

  /** Close the socket as a network failure would; the page reconnects and resumes (used by tests too). */
  drop(code = 4000, reason = "client drop") {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(code, reason);
  }

  handleClose(ws, event) {
    if (ws !== this.ws) return;
    this.stopHeartbeat();
    this.ledger.disconnected();
    if (this.state === "ended") return;
    if (FATAL_CLOSE_CODES.has(event.code) || (event.code === 1000 && this.endSent)) {
      this.finish(event.code === 1000 ? "complete" : "failed", { code: event.code, reason: event.reason });
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt++;
    this.setState("reconnecting", { delayMs: delay, force: true });
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  /** Retry at once (the browser reports it is online again, or the user asked). */
  retryNow() {
    if (this.state === "reconnecting") this.connect();
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.lastMessageAt = performance.now();
    const periodMs = this.heartbeatS * 1000;
    this.timers.heartbeat = setInterval(() => {
      // A socket that has said nothing for 2.5 heartbeats is dead even if the OS has not noticed yet.
      if (performance.now() - this.lastMessageAt > 2.5 * periodMs) {
        this.drop(4002, "heartbeat timeout");
        return;
      }
      this.sendJson({ type: "ping", ts: Date.now() });
    }, periodMs);
  }

  stopHeartbeat() {
    clearInterval(this.timers.heartbeat);
  }

  finish(outcome, info = {}) {
    this.stopHeartbeat();
    clearTimeout(this.timers.retry);
    this.setState("ended", { outcome, ...info });
  }
}
