// AudioWorklet processor: resample the capture (usually 44.1 or 48 kHz) to 16 kHz PCM16 in the audio thread.
//
// Why here and not on the main thread: the audio thread runs on time even when the page is busy rendering,
// so no samples are dropped, and the main thread only receives ready-made ~200 ms chunks (Int16, interleaved
// when there are two channels) to frame and send. Why a windowed-sinc filter and not linear interpolation:
// decimating 48 kHz speech to 16 kHz without a low-pass folds 8-24 kHz hiss back into the speech band,
// which Whisper hears as noise. The kernel is tabulated once, so each output sample costs ~2*HALF*ratio
// multiply-adds per channel.
//
// Messages out: {type: "chunk", pcm: ArrayBuffer (Int16 LE interleaved), frames}
//               {type: "level", rms: [..per channel], peak: [..]} about 20 times a second
//               {type: "flushed"} after a {type: "flush"} request (the partial tail chunk goes out first)

const TABLE_STEPS = 512; // kernel samples per input sample (nearest lookup error < 0.1%)
const HALF_ZEROS = 12; // zero crossings on each side of the kernel, in output-rate samples
const MIN_CHUNK_MS = 20; // the protocol refuses shorter chunks

function blackman(x) {
  // x in [-1, 1]
  return 0.42 + 0.5 * Math.cos(Math.PI * x) + 0.08 * Math.cos(2 * Math.PI * x);
}

class PcmResampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions || {};
    this.channels = o.channels || 1;
    this.outRate = o.targetRate || 16000;
    this.inRate = sampleRate; // global of the AudioWorkletGlobalScope
    this.step = this.inRate / this.outRate; // input samples per output sample
    this.chunkFrames = Math.round((this.outRate * (o.chunkMs || 200)) / 1000);
    this.levelEvery = Math.max(1, Math.round(this.inRate / 20 / 128));

    // Low-pass at 0.9 of the output Nyquist when decimating; a plain interpolator otherwise.
    const cutoff = Math.min(1, 1 / this.step) * 0.9; // in cycles per input sample, times 2
    this.half = Math.ceil(HALF_ZEROS * Math.max(1, this.step)); // kernel half-width in input samples
    this.table = new Float32Array(this.half * TABLE_STEPS + 1);
    for (let i = 0; i < this.table.length; i++) {
      const x = i / TABLE_STEPS;
      const y = cutoff * x;
      const sinc = y === 0 ? 1 : Math.sin(Math.PI * y) / (Math.PI * y);
      this.table[i] = cutoff * sinc * blackman(x / this.half);
    }

    this.passthrough = this.inRate === this.outRate;
    this.buf = [];
    for (let c = 0; c < this.channels; c++) this.buf.push(new Float32Array(8192));
    // The buffers start with half a kernel of silence so that output sample 0 sits at input time 0.
    this.len = this.passthrough ? 0 : this.half; // valid samples in each buf
    this.pos = this.len; // position of the next output sample in buf (input samples, fractional)
    this.out = new Int16Array(this.chunkFrames * this.channels);
    this.outFrames = 0;
    this.blocks = 0;
    this.sumSq = new Float64Array(this.channels);
    this.peak = new Float32Array(this.channels);
    this.levelSamples = 0;

    this.port.onmessage = (event) => {
      if (event.data && event.data.type === "flush") {
        this.flush();
        this.port.postMessage({ type: "flushed" });
      }
    };
  }

  append(input, frames) {
    if (this.len + frames > this.buf[0].length) {
      for (let c = 0; c < this.channels; c++) {
        const bigger = new Float32Array(Math.max(this.buf[c].length * 2, this.len + frames));
        bigger.set(this.buf[c].subarray(0, this.len));
        this.buf[c] = bigger;
      }
    }
    for (let c = 0; c < this.channels; c++) {
      const src = input[c];
      const dst = this.buf[c];
      if (src) {
        dst.set(src, this.len);
        for (let i = 0; i < frames; i++) {
          const v = src[i];
          this.sumSq[c] += v * v;
          const a = v < 0 ? -v : v;
          if (a > this.peak[c]) this.peak[c] = a;
        }
      } else {
        dst.fill(0, this.len, this.len + frames);
      }
    }
    this.len += frames;
    this.levelSamples += frames;
  }

  emit(c, value) {
    const v = value > 1 ? 1 : value < -1 ? -1 : value;
    this.out[this.outFrames * this.channels + c] = v < 0 ? v * 32768 : v * 32767;
  }

  frameDone() {
    this.outFrames++;
    if (this.outFrames === this.chunkFrames) this.sendChunk();
  }

  sendChunk() {
    if (this.outFrames === 0) return;
    const pcm = this.out.slice(0, this.outFrames * this.channels).buffer;
    this.port.postMessage({ type: "chunk", pcm, frames: this.outFrames }, [pcm]);
    this.outFrames = 0;
  }

  resample() {
    if (this.passthrough) {
      for (let i = 0; i < this.len; i++) {
        for (let c = 0; c < this.channels; c++) this.emit(c, this.buf[c][i]);
        this.frameDone();
      }
      this.len = 0;
      return;
    }
    const half = this.half;
    const table = this.table;
    while (this.pos + half < this.len) {
      const centre = Math.floor(this.pos);
      const frac = this.pos - centre;
      for (let c = 0; c < this.channels; c++) {
        const x = this.buf[c];
        let acc = 0;
        let norm = 0;
        for (let k = centre - half + 1; k <= centre + half; k++) {
          const d = Math.abs(k - centre - frac);
          if (d >= half) continue;
          const w = table[Math.round(d * TABLE_STEPS)];
          acc += x[k] * w;
          norm += w;
        }
        this.emit(c, norm > 0 ? acc / norm : 0);
      }
      this.frameDone();
      this.pos += this.step;
    }
    // Drop input that no future output sample can reach.
    const drop = Math.floor(this.pos) - half;
    if (drop > 0) {
      for (let c = 0; c < this.channels; c++) this.buf[c].copyWithin(0, drop, this.len);
      this.len -= drop;
      this.pos -= drop;
    }
  }

  flush() {
    // Pad with half a kernel of silence so the last real samples come out, then send what is left,
    // padded to the protocol's minimum chunk length.
    if (!this.passthrough) {
      const pad = [];
      for (let c = 0; c < this.channels; c++) pad.push(new Float32Array(this.half + 1));
      this.append(pad, this.half + 1);
      this.resample();
    }
    const minFrames = Math.ceil((this.outRate * MIN_CHUNK_MS) / 1000);
    if (this.outFrames > 0) {
      while (this.outFrames < minFrames) {
        for (let c = 0; c < this.channels; c++) this.emit(c, 0);
        this.outFrames++;
      }
      this.sendChunk();
    }
  }

  postLevel() {
    const rms = [];
    const peak = [];
    for (let c = 0; c < this.channels; c++) {
      rms.push(this.levelSamples ? Math.sqrt(this.sumSq[c] / this.levelSamples) : 0);
      peak.push(this.peak[c]);
      this.sumSq[c] = 0;
      this.peak[c] = 0;
    }
    this.levelSamples = 0;
    this.port.postMessage({ type: "level", rms, peak });
  }

  process(inputs) {
    const input = inputs[0];
    if (input && input.length > 0) {
      const frames = input[0].length;
      this.append(input, frames);
      this.resample();
      if (++this.blocks % this.levelEvery === 0) this.postLevel();
    }
    return true;
  }
}

registerProcessor("pcm-resampler", PcmResampler);
