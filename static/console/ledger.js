// The chunk ledger: which audio the server may still need, so a network blip loses nothing.
//
// A chunk stays here until it is acknowledged: an `audio_processed` event with its seq (events come in seq
// order, so that acknowledges every lower seq too), or a resume `connection_ack` whose `last_seq` is at
// least its seq (the server already holds it). After a reconnect, everything above `last_seq` is sent
// again, in order, before any new audio. Pure (no DOM, no socket) so it is tested under Node.

export const SEQ_HEADER_BYTES = 4;

/** Build a binary audio frame: 4-byte big-endian uint32 seq, then the little-endian int16 PCM. */
export function binaryFrame(seq, pcm) {
  const bytes = pcm instanceof ArrayBuffer ? new Uint8Array(pcm) : new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const frame = new Uint8Array(SEQ_HEADER_BYTES + bytes.byteLength);
  new DataView(frame.buffer).setUint32(0, seq >>> 0, false);
  frame.set(bytes, SEQ_HEADER_BYTES);
  return frame.buffer;
}

export class ChunkLedger {
  /** @param {{sampleRate?: number, channels?: number}} options */
  constructor({ sampleRate = 16000, channels = 1 } = {}) {
    this.bytesPerSecond = sampleRate * channels * 2;
    this.nextSeq = 0;
    this.sentUpTo = -1; // highest seq written to the current socket
    this.ackedUpTo = -1; // highest seq known to be safe on the server
    this.frames = new Map(); // seq -> ArrayBuffer (binary frame), in seq order
    this.pendingBytes = 0;
    this.seconds = new Map(); // seq -> seconds of audio, when the payload is not PCM (Opus)
  }

  /** Register a new chunk (PCM, or Opus packets with their `seconds`); returns its seq. */
  add(pcm, seconds = null) {
    const seq = this.nextSeq++;
    const frame = binaryFrame(seq, pcm);
    this.frames.set(seq, frame);
    this.seconds.set(seq, seconds ?? (frame.byteLength - SEQ_HEADER_BYTES) / this.bytesPerSecond);
    this.pendingBytes += frame.byteLength - SEQ_HEADER_BYTES;
    return seq;
  }

  /** Forget every chunk up to and including `seq`. */
  acknowledge(seq) {
    if (seq <= this.ackedUpTo) return;
    this.ackedUpTo = seq;
    for (const [s, frame] of this.frames) {
      if (s > seq) break;
      this.pendingBytes -= frame.byteLength - SEQ_HEADER_BYTES;
      this.frames.delete(s);
      this.seconds.delete(s);
    }
  }

  /** A (re)connection was acknowledged: the server holds everything up to `lastSeq`; resend the rest. */
  resume(lastSeq) {
    this.acknowledge(lastSeq);
    this.sentUpTo = lastSeq;
  }

  /** The socket is gone: nothing above the acknowledged seq can be assumed to have arrived. */
  disconnected() {
    this.sentUpTo = Math.min(this.sentUpTo, this.ackedUpTo);
  }

  /** Frames not yet written to the current socket, in seq order; marks them as written. */
  takeUnsent() {
    const out = [];
    for (const [seq, frame] of this.frames) {
      if (seq > this.sentUpTo) {
        out.push([seq, frame]);
        this.sentUpTo = seq;
      }
    }
    return out;
  }

  /** Seqs kept for a possible resend. */
  get pendingSeqs() {
    return [...this.frames.keys()];
  }

  /** Seconds of audio kept for a possible resend. */
  get pendingSeconds() {
    let total = 0;
    for (const s of this.seconds.values()) total += s;
    return Math.round(total * 1e6) / 1e6;
  }

  /** True when every chunk produced so far was written to the current socket. */
  get allSent() {
    return this.sentUpTo >= this.nextSeq - 1;
  }
}
