// Audio capture: microphone (and optionally a shared tab's audio) → AudioWorklet → 16 kHz PCM16 chunks.
//
// Channel layout for two-channel sessions follows the protocol: channel 0 = the interviewer (the shared
// tab, e.g. a video call), channel 1 = the candidate (the local microphone). A ChannelMergerNode down-mixes
// each source to mono and places it on its channel, so the worklet always sees exactly `channels` inputs.

import { format, gettext } from "./i18n.js";

export class CaptureError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Ask for the interviewer's tab audio; must run inside a user gesture (a click). */
export async function pickDisplayAudio() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
    throw new CaptureError("unsupported", gettext("This browser cannot capture another tab's audio."));
  }
  const stream = await navigator.mediaDevices.getDisplayMedia({
    video: true, // Chrome only offers audio alongside a video source
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    preferCurrentTab: false,
    selfBrowserSurface: "exclude",
    systemAudio: "include",
  });
  if (stream.getAudioTracks().length === 0) {
    for (const t of stream.getTracks()) t.stop();
    throw new CaptureError("no_tab_audio", gettext("The shared source has no audio: pick a tab and tick \"Share tab audio\"."));
  }
  return stream;
}

/**
 * Start capturing. Returns a handle with `stop()` (flushes the last partial chunk first), `context`,
 * and `streams`. `onChunk(ArrayBuffer pcm, frames)` gets interleaved Int16 LE PCM at `targetRate`.
 */
export async function startCapture({ channels, chunkMs, targetRate = 16000, workletUrl, displayStream = null,
                                     onChunk, onLevel, onTrackEnded }) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new CaptureError("unsupported", gettext("This browser cannot capture audio (a secure context — https or localhost — is required)."));
  }
  let mic;
  try {
    mic = await navigator.mediaDevices.getUserMedia({
      audio: {
        channelCount: 1,
        // With a remote interviewer on loudspeakers the mic would hear them too; cancel that echo.
        echoCancellation: channels === 2,
        noiseSuppression: false, // the server's preprocessing does its own, measured, noise reduction
        autoGainControl: false,
      },
    });
  } catch (err) {
    throw new CaptureError("mic_denied", format(gettext("Microphone unavailable: %(error)s"), { error: err.message || err.name }));
  }
  const context = new AudioContext({ latencyHint: "interactive" });
  await context.audioWorklet.addModule(workletUrl);
  const node = new AudioWorkletNode(context, "pcm-resampler", {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    channelCount: channels,
    channelCountMode: "explicit",
    channelInterpretation: channels === 1 ? "speakers" : "discrete",
    processorOptions: { channels, targetRate, chunkMs },
  });
  const sources = [];
  const micSource = context.createMediaStreamSource(mic);
  sources.push(micSource);
  if (channels === 2) {
    if (!displayStream) throw new CaptureError("no_tab_audio", "Two-channel sessions need the interviewer's tab audio.");
    const merger = context.createChannelMerger(2);
    const tabSource = context.createMediaStreamSource(new MediaStream(displayStream.getAudioTracks()));
    sources.push(tabSource);
    tabSource.connect(merger, 0, 0); // channel 0 = interviewer
    micSource.connect(merger, 0, 1); // channel 1 = candidate
    merger.connect(node);
  } else {
    micSource.connect(node);
  }
  // A node that reaches no destination may not be pulled; a muted gain keeps it running without echo.
  const mute = context.createGain();
  mute.gain.value = 0;
  node.connect(mute).connect(context.destination);

  let flushed = null;
  node.port.onmessage = (event) => {
    const msg = event.data;
    if (msg.type === "chunk") onChunk(msg.pcm, msg.frames);
    else if (msg.type === "level" && onLevel) onLevel(msg);
    else if (msg.type === "flushed" && flushed) flushed();
  };
  const streams = displayStream ? [mic, displayStream] : [mic];
  for (const stream of streams) {
    for (const track of stream.getAudioTracks()) {
      track.addEventListener("ended", () => onTrackEnded && onTrackEnded(track));
    }
  }
  if (context.state === "suspended") {
    // Without a user gesture Chrome keeps this promise pending instead of rejecting it, so don't await
    // it: the page checks `needsGesture` and offers a button that resumes from a click.
    context.resume().catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 150));
  }

  return {
    context,
    streams,
    get needsGesture() {
      return context.state === "suspended";
    },
    resume: () => context.resume(),
    async stop() {
      // Ask the worklet for its tail before tearing the graph down, so the last words are sent.
      if (context.state === "running") {
        await new Promise((resolve) => {
          flushed = resolve;
          node.port.postMessage({ type: "flush" });
          setTimeout(resolve, 1000);
        });
      }
      for (const source of sources) source.disconnect();
      for (const stream of streams) for (const track of stream.getTracks()) track.stop();
      await context.close();
    },
  };
}
