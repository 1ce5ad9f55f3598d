// The live page: capture → socket → transcript, scores, feedback; End → report.
//
// Configuration comes from the server-rendered JSON (`console-config`), so the page needs no build step and
// no network beyond this server. `window.__console` exposes read-only state and `dropSocket()` (closes the
// socket as a network blip would) for the browser tests and for checking resume by hand.

import { CaptureError, pickDisplayAudio, startCapture } from "./capture.js";
import { LiveConnection } from "./connection.js";
import { OpusChunker, opusSupported } from "./opus-encoder.js";
import { FeedbackView, ScoresView, TranscriptView, formatTime } from "./render.js";
import { format, gettext } from "./i18n.js";
import { correctionMessage } from "./roles.js";
import { enrollmentState } from "./enroll.js";

const config = JSON.parse(document.getElementById("console-config").textContent);
const $ = (id) => document.getElementById(id);
const channels = Number(config.params.channels) || 1;
// Opus (docs/protocol.md) when the browser can encode it, unless the page asks for PCM (`encoding=pcm_s16le`).
const useOpus = config.params.encoding !== "pcm_s16le" && (await opusSupported(16000, channels));
const socketParams = { ...config.params, encoding: useOpus ? "opus" : "pcm_s16le" };
if (useOpus) delete socketParams.sample_rate; // Opus is decoded at 48 kHz whatever it was encoded from
// Practice: a candidate rehearsing alone. Questions are shown here and sent as notes; nobody asks them aloud.
const practice = config.params.mode === "practice";
const ASK = practice ? gettext("Next question") : gettext("Ask next question");
const STATE_LABELS = {
  idle: gettext("starting"), connecting: gettext("connecting"), connected: gettext("connected"),
  reconnecting: gettext("reconnecting"), ending: gettext("finishing"), ended: gettext("ended"),
};
const END_HELP = gettext("Ending sends the remaining audio, waits for the final transcript and opens the report.");

const transcript = new TranscriptView($("transcript"), $("partial"), $("transcript-empty"));
const scores = new ScoresView($("scores"), $("score-chart"), $("scores-empty"));
const feedback = new FeedbackView($("feedback"), $("feedback-empty"));

let capture = null;
let startedAt = null;
let audioSeconds = 0;
let questionIndex = -1;
let lastError = null;
const seenStates = [];

function showAlert(message) {
  const box = $("alert");
  box.textContent = message;
  box.hidden = !message;
}

function reportUrl(sessionId) {
  return config.report_url_template.replace("00000000-0000-0000-0000-000000000000", sessionId);
}

// --- connection -------------------------------------------------------------------------------------------
const wsUrl = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${config.ws_path}`;
/** A one-time WebSocket ticket for a logged-in page (none in an anonymous DEBUG demo). */
async function fetchTicket() {
  if (!config.ticket_url) return null;
  const response = await fetch(config.ticket_url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": config.csrf_token, Accept: "application/json" },
  });
  if (!response.ok) {
    const error = new Error(`no WebSocket ticket (HTTP ${response.status})`);
    error.status = response.status;
    // Logged out or not allowed: retrying cannot help. Throttled or a server hiccup: try again later.
    error.fatal = response.status === 401 || response.status === 403;
    throw error;
  }
  return (await response.json()).ticket;
}

const connection = new LiveConnection({
  url: wsUrl,
  getTicket: fetchTicket,
  params: socketParams,
  sampleRate: 16000,
  channels,
  onEvent: handleEvent,
  onState: handleState,
});

function handleState(state, info) {
  seenStates.push(state);
  const box = $("conn-state");
  box.dataset.state = state;
  let label = STATE_LABELS[state] || state;
  if (state === "reconnecting") label += info.attempt > 1 ? ` ${format(gettext("(try %(attempt)s)"), { attempt: info.attempt })}` : "";
  if (state === "ended" && info.outcome === "failed") label = gettext("ended (error)");
  $("conn-label").textContent = label;
  const live = state === "connected";
  $("end-button").disabled = !(live || state === "reconnecting") || connection.endRequested;
  for (const id of ["eval-button", "note-button", "ask-button"]) $(id).disabled = !live;
  $("next-question").disabled = !live || questionIndex + 1 >= config.questions.length;
  if (state === "ended" && info.outcome === "failed") {
    showAlert(lastError ? format(gettext("The session stopped: %(message)s"), { message: lastError.message })
      : format(gettext("The connection was refused (code %(code)s)."), { code: info.code }));
    stopCapture();
  }
}

function handleEvent(event) {
  switch (event.type) {
    case "connection_ack":
      if (startedAt === null) startedAt = performance.now();
      if (connection.reconnects === 0) {
        history.replaceState(null, "", `${location.pathname}${location.search}#${event.session_id}`);
        // The name travels inside the socket, never in a URL (URLs end up in logs).
        if (config.candidate) connection.sendJson({ type: "session_info", candidate_name: config.candidate });
      }
      break;
    case "audio_processed":
      for (const segment of event.segments || []) transcript.upsert(segment);
      transcript.setPartial(event.partial);
      showLag(event.lag_ms);
      break;
    case "role_correction":
      if (transcript.correctRoles(event) > 0 || (event.speakers || []).length) flash(correctionMessage(event));
      window.__console.roleCorrections = (window.__console.roleCorrections || 0) + 1;
      break;
    case "real_time_feedback":
      feedback.add(event);
      break;
    case "score_update":
      scores.update(event);
      break;
    case "final_progress":
      $("final-progress").hidden = false;
      $("final-bar").value = Number(event.done) || 0;
      $("final-label").textContent = format(gettext("Finishing: %(stage)s (%(percent)s)"), {
        stage: event.stage, percent: `${Math.round((Number(event.done) || 0) * 100)}%` });
      break;
    case "note_ack":
      flash(format(event.kind === "question" ? gettext("Question marked at %(time)s") : gettext("Note saved at %(time)s"),
        { time: formatTime(event.at) }));
      break;
    case "evaluation_status":
      flash(format(gettext("Server has %(audio)s s of audio, %(segments)s segments, %(words)s words"),
        { audio: event.audio_s, segments: event.segments, words: event.words }));
      break;
    case "error_message":
      lastError = event;
      if (event.fatal) showAlert(`${event.message} (${event.code})`);
      else if (event.code === "processing_failed") flash(event.message);
      break;
    case "session_complete":
      completed(event);
      break;
    default:
      break;
  }
}

function showLag(lagMs) {
  if (typeof lagMs !== "number") return;
  const box = $("lag");
  box.dataset.level = lagMs < 2000 ? "ok" : lagMs < 5000 ? "slow" : "behind";
  $("lag-value").textContent = `${(lagMs / 1000).toFixed(1)} s`;
}

let flashTimer = null;
function flash(message) {
  const help = $("end-help");
  help.textContent = message;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => {
    help.textContent = END_HELP;
  }, 4000);
}

function completed(event) {
  transcript.replaceAll(event.segments || []);
  transcript.setPartial("");
  $("final-progress").hidden = false;
  $("final-bar").value = 1;
  $("final-label").textContent = gettext("Done. Opening the report…");
  const url = event.report_url || reportUrl(event.session_id);
  window.__console.reportUrl = url;
  window.__console.complete = { session_id: event.session_id, duration_s: event.duration_s,
                                segments: (event.segments || []).length };
  window.__console.completed = true;
  // A moment to see the final transcript; the link is there for anyone who wants to go at once.
  const link = document.createElement("a");
  link.href = url;
  link.textContent = ` ${gettext("Open the report now")}`;
  $("final-label").append(link);
  setTimeout(() => location.assign(url), config.report_delay_ms ?? 1500);
}

// --- capture ------------------------------------------------------------------------------------------------
let opusChunker = null;

async function beginCapture(displayStream = null) {
  try {
    if (useOpus) {
      opusChunker = new OpusChunker({
        sampleRate: 16000, channels, chunkMs: config.chunk_ms,
        onChunk: (payload, seconds) => connection.pushChunk(payload, seconds),
        onError: (err) => showAlert(format(gettext("Opus encoding failed: %(error)s"), { error: err.message || err })),
      });
    }
    capture = await startCapture({
      channels,
      chunkMs: config.chunk_ms,
      workletUrl: config.worklet_url,
      displayStream,
      onChunk: (pcm, frames) => {
        audioSeconds += frames / 16000;
        if (opusChunker) opusChunker.push(pcm, frames);
        else connection.pushChunk(pcm);
      },
      onLevel: showLevel,
      onTrackEnded: () => showAlert(gettext("An audio source stopped (the tab was closed or sharing ended). Its channel is silent now.")),
    });
    $("gesture").hidden = !capture.needsGesture;
  } catch (err) {
    showAlert(err instanceof CaptureError ? err.message
      : format(gettext("Audio capture failed: %(error)s"), { error: err.message || err }));
    throw err;
  }
}

function showLevel(msg) {
  msg.rms.forEach((rms, c) => {
    const meter = $(`level-${c}`);
    if (!meter) return;
    const db = 20 * Math.log10(Math.max(rms, 1e-6));
    meter.value = Math.max(0, Math.min(1, (db + 60) / 60));
  });
}

async function stopCapture() {
  if (!capture) return;
  const c = capture;
  capture = null;
  try {
    await c.stop();
  } catch (_) {
    /* already closed */
  }
  if (opusChunker) await opusChunker.flush(); // the encoder's tail, after the worklet's
}

$("gesture-button").addEventListener("click", async () => {
  if (capture) await capture.resume();
  $("gesture").hidden = !(capture && capture.needsGesture);
});

if (channels === 2) {
  $("tab-button").addEventListener("click", async () => {
    try {
      const display = await pickDisplayAudio();
      $("tab-picker").hidden = true;
      showAlert("");
      await beginCapture(display);
      connection.open();
    } catch (err) {
      showAlert(err.message || String(err));
    }
  });
} else {
  beginCapture().then(() => connection.open(), () => {});
}

// --- controls -----------------------------------------------------------------------------------------------
$("end-button").addEventListener("click", async () => {
  $("end-button").disabled = true;
  await stopCapture(); // flushes the worklet's tail into the ledger first
  connection.end();
});

$("eval-button").addEventListener("click", () => connection.sendJson({ type: "evaluation_request", scope: "session" }));

function renderQuestions() {
  const list = $("question-list");
  list.replaceChildren();
  $("question-list-wrap").hidden = config.questions.length === 0;
  config.questions.forEach((text, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn small";
    button.textContent = gettext("Ask");
    button.setAttribute("aria-label", format(gettext("Ask question %(number)s"), { number: i + 1 }));
    button.addEventListener("click", () => askQuestion(i));
    const item = document.createElement("li");
    item.className = i === questionIndex ? "current" : i < questionIndex ? "asked" : "";
    const span = document.createElement("span");
    span.textContent = text;
    item.append(span, " ", button);
    list.append(item);
  });
  const next = config.questions[questionIndex + 1];
  $("next-question").textContent = next ? `${ASK} (${questionIndex + 2}/${config.questions.length})` : gettext("No more questions");
  $("next-question").disabled = !next || connection.state !== "connected";
  if (config.questions.length === 0) $("next-question").hidden = true;
}

function askQuestion(index) {
  const text = config.questions[index];
  const message = { type: "speaker_note", text, kind: "question" };
  if (!practice) message.speaker = "interviewer";
  if (!connection.sendJson(message)) return;
  questionIndex = index;
  $("current-question").textContent = `${index + 1}. ${text}`;
  renderQuestions();
}

$("next-question").addEventListener("click", () => askQuestion(questionIndex + 1));

$("note-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const kind = event.submitter && event.submitter.value === "question" ? "question" : "note";
  const text = $("note-text").value.trim();
  if (!text) return;
  const message = { type: "speaker_note", text, kind };
  if (kind === "question" && !practice) message.speaker = "interviewer";
  if (connection.sendJson(message)) {
    $("note-text").value = "";
    if (kind === "question") $("current-question").textContent = text;
  }
});

renderQuestions();

// --- clock, unacked audio, network hints ---------------------------------------------------------------------
// Interviewer enrollment: the banner counts down the seconds the interviewer reads the prompt, then goes.
const enrollSeconds = Number(config.params.enroll_s) || 0;
let enrollDone = enrollSeconds <= 0;
function showEnrollment() {
  if (enrollDone) return;
  const stateNow = enrollmentState(audioSeconds, enrollSeconds);
  $("enroll-left").textContent = stateNow.label;
  if (!stateNow.active) {
    enrollDone = true;
    $("enroll-banner").hidden = true;
    flash(stateNow.label);
  }
}

setInterval(() => {
  showEnrollment();
  if (startedAt !== null && connection.state !== "ended") $("elapsed").textContent = formatTime(audioSeconds);
  $("pending").textContent = `${connection.ledger.pendingSeconds.toFixed(1)} s`;
}, 250);

window.addEventListener("online", () => connection.retryNow());
window.addEventListener("beforeunload", (event) => {
  if (connection.state === "connected" || connection.state === "reconnecting" || connection.state === "ending") {
    event.preventDefault();
  }
});

// --- test and debugging hook -----------------------------------------------------------------------------------
window.__console = {
  get state() { return connection.state; },
  get states() { return [...seenStates]; },
  get sessionId() { return connection.sessionId; },
  get reconnects() { return connection.reconnects; },
  get pendingSeqs() { return connection.ledger.pendingSeqs; },
  get nextSeq() { return connection.ledger.nextSeq; },
  get audioSeconds() { return audioSeconds; },
  get enrolling() { return !enrollDone; },
  enrollSeconds,
  encoding: socketParams.encoding,
  transcript: () => transcript.text(),
  dropSocket: () => connection.drop(4000, "simulated network blip"),
  completed: false,
  complete: null,
  reportUrl: null,
};
