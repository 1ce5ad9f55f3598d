// Opus on the socket (docs/protocol.md, `encoding=opus`): the worklet's PCM16 chunks go through WebCodecs'
// AudioEncoder; its packets are grouped into protocol chunks of about `chunkMs`, each packet prefixed by
// its length (u16 big-endian). About 24 kbit/s instead of 256 for PCM16 at 16 kHz.
//
// Used when the browser has an AudioEncoder that accepts Opus; otherwise the console sends PCM as before.

const SAMPLE_RATE_OUT = 48000;
const SILK = [480, 960, 1920, 2880];
const HYBRID = [480, 960];
const CELT = [120, 240, 480, 960];

/** Samples at 48 kHz that one Opus packet decodes to, from its TOC byte (RFC 6716, 3.1). */
export function packetSamples(packet) {
  const toc = packet[0];
  const config = toc >> 3;
  const perFrame = config < 12 ? SILK[config % 4] : config < 16 ? HYBRID[config % 2] : CELT[config % 4];
  const code = toc & 3;
  const count = code === 0 ? 1 : code < 3 ? 2 : packet[1] & 0x3f;
  return count * perFrame;
}

/** Length-prefixed packets, the payload of one protocol chunk. */
export function joinPackets(packets) {
  const total = packets.reduce((n, p) => n + 2 + p.byteLength, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const p of packets) {
    view.setUint16(offset, p.byteLength, false);
    out.set(p, offset + 2);
    offset += 2 + p.byteLength;
  }
  return out.buffer;
}

function encoderConfig(sampleRate, channels) {
  return { codec: "opus", sampleRate, numberOfChannels: channels, bitrate: 24000, opus: { frameDuration: 20000 } };
}

/** True when this browser can encode Opus with WebCodecs at `sampleRate`. */
export async function opusSupported(sampleRate, channels) {
  if (typeof AudioEncoder === "undefined" || typeof AudioData === "undefined") return false;
  try {
    const { supported } = await AudioEncoder.isConfigSupported(encoderConfig(sampleRate, channels));
    return Boolean(supported);
  } catch (_) {
    return false;
  }
}

/**
 * Encodes interleaved PCM16 chunks; calls `onChunk(ArrayBuffer payload, seconds)` for every group of
 * packets holding at least `chunkMs` of audio. `flush()` sends the rest.
 */
export class OpusChunker {
  constructor({ sampleRate, channels, chunkMs, onChunk, onError }) {
    this.sampleRate = sampleRate;
    this.channels = channels;
    this.target = (chunkMs * SAMPLE_RATE_OUT) / 1000;
    this.onChunk = onChunk;
    this.packets = [];
    this.samples = 0;
    this.frames = 0;
    this.encoder = new AudioEncoder({
      output: (chunk) => this.take(chunk),
      error: (err) => onError && onError(err),
    });
    this.encoder.configure(encoderConfig(sampleRate, channels));
  }

  push(pcm, frames) {
    const data = new AudioData({
      format: "s16", sampleRate: this.sampleRate, numberOfChannels: this.channels, numberOfFrames: frames,
      timestamp: Math.round((this.frames * 1e6) / this.sampleRate), data: new Int16Array(pcm),
    });
    this.frames += frames;
    this.encoder.encode(data);
    data.close();
  }

  take(chunk) {
    const packet = new Uint8Array(chunk.byteLength);
    chunk.copyTo(packet);
    this.packets.push(packet);
    this.samples += packetSamples(packet);
    if (this.samples >= this.target) this.emit();
  }

  emit() {
    if (!this.packets.length) return;
    this.onChunk(joinPackets(this.packets), this.samples / SAMPLE_RATE_OUT);
    this.packets = [];
    this.samples = 0;
  }

  async flush() {
    if (this.encoder.state === "configured") await this.encoder.flush();
    this.emit();
    if (this.encoder.state !== "closed") this.encoder.close();
  }
}
