// Tests of static/console/pcm-worklet.js under Node: the processor runs with a stand-in for the
// AudioWorkletGlobalScope (sampleRate, AudioWorkletProcessor with a port, registerProcessor), fed
// 128-frame blocks as the audio thread would.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import vm from "node:vm";

const SOURCE = readFileSync(new URL("../../../static/console/pcm-worklet.js", import.meta.url), "utf8");

function loadProcessor(inRate, options) {
  const messages = [];
  let Processor = null;
  class AudioWorkletProcessor {
    constructor() {
      this.port = { postMessage: (m) => messages.push(m), onmessage: null };
    }
  }
  const scope = { sampleRate: inRate, AudioWorkletProcessor, registerProcessor: (_, cls) => { Processor = cls; }, Math, Float32Array, Float64Array, Int16Array };
  vm.runInNewContext(SOURCE, scope);
  const node = new Processor({ processorOptions: options });
  return { node, messages };
}

function run(node, channels) {
  // channels: array of Float32Array of equal length; fed in 128-frame blocks
  const n = channels[0].length;
  for (let i = 0; i < n; i += 128) node.process([channels.map((c) => c.subarray(i, Math.min(n, i + 128)))]);
}

function collect(messages, channelCount) {
  const chunks = messages.filter((m) => m.type === "chunk");
  const total = chunks.reduce((s, m) => s + m.frames, 0);
  const out = Array.from({ length: channelCount }, () => new Float64Array(total));
  let k = 0;
  for (const m of chunks) {
    const pcm = new Int16Array(m.pcm);
    assert.equal(pcm.length, m.frames * channelCount);
    for (let f = 0; f < m.frames; f++, k++) for (let c = 0; c < channelCount; c++) out[c][k] = pcm[f * channelCount + c] / 32768;
  }
  return { chunks, out };
}

const sine = (rate, freq, seconds, amp = 0.5) =>
  Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));

function amplitudeAt(x, rate, freq, skip) {
  // Projection on sin/cos at `freq` over the steady middle part.
  let s = 0, c = 0, n = 0;
  for (let i = skip; i < x.length - skip; i++) {
    s += x[i] * Math.sin((2 * Math.PI * freq * i) / rate);
    c += x[i] * Math.cos((2 * Math.PI * freq * i) / rate);
    n++;
  }
  return (2 * Math.hypot(s, c)) / n;
}

for (const inRate of [48000, 44100]) {
  test(`${inRate} Hz → 16 kHz keeps speech-band tones, removes what would alias, 200 ms chunks`, () => {
    const { node, messages } = loadProcessor(inRate, { channels: 1, targetRate: 16000, chunkMs: 200 });
    const speech = sine(inRate, 440, 2.0, 0.5);
    const hiss = sine(inRate, 12000, 2.0, 0.3); // above 8 kHz: would fold to 4 kHz without a low-pass
    run(node, [speech.map((v, i) => v + hiss[i])]);
    const { chunks, out } = collect(messages, 1);
    assert.ok(chunks.length >= 9, `expected ~10 chunks, got ${chunks.length}`);
    for (const m of chunks) assert.equal(m.frames, 3200);
    const y = out[0];
    const a440 = amplitudeAt(y, 16000, 440, 400);
    const alias = amplitudeAt(y, 16000, 16000 - 12000, 400);
    assert.ok(Math.abs(a440 - 0.5) < 0.01, `440 Hz amplitude ${a440}`);
    assert.ok(alias < 0.3 * 0.01, `aliased 4 kHz amplitude ${alias} (> -40 dB)`);
  });
}

test("the output starts in time with the input (no kernel delay) and flush sends the tail", () => {
  const { node, messages } = loadProcessor(48000, { channels: 1, targetRate: 16000, chunkMs: 200 });
  const x = sine(48000, 300, 0.5, 0.5); // 0.5 s → 8000 output frames: 2 full chunks + 1600 tail
  run(node, [x]);
  node.port.onmessage({ data: { type: "flush" } });
  const { chunks, out } = collect(messages, 1);
  assert.equal(messages.at(-1).type, "flushed");
  assert.deepEqual(chunks.slice(0, 2).map((m) => m.frames), [3200, 3200]);
  assert.equal(chunks.length, 3);
  assert.ok(Math.abs(chunks[2].frames - 1600) <= 2, `tail of ${chunks[2].frames} frames`);
  const total = chunks.reduce((s, m) => s + m.frames, 0);
  assert.ok(Math.abs(total - 8000) <= 2, `total frames ${total}`);
  const expected = Float64Array.from({ length: 8000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 300 * i) / 16000));
  let err = 0;
  for (let i = 100; i < 7900; i++) err = Math.max(err, Math.abs(out[0][i] - expected[i]));
  assert.ok(err < 0.01, `max deviation from the ideal 16 kHz sine ${err}`);
});

test("a tail shorter than 20 ms is padded to the protocol minimum", () => {
  const { node, messages } = loadProcessor(16000, { channels: 1, targetRate: 16000, chunkMs: 200 });
  run(node, [new Float32Array(3200 + 100).fill(0.25)]);
  node.port.onmessage({ data: { type: "flush" } });
  const { chunks } = collect(messages, 1);
  assert.deepEqual(chunks.map((m) => m.frames), [3200, 320]);
});

test("two channels stay separate and interleaved: channel 0 interviewer, channel 1 candidate", () => {
  const { node, messages } = loadProcessor(48000, { channels: 2, targetRate: 16000, chunkMs: 100 });
  run(node, [sine(48000, 500, 1.0, 0.4), new Float32Array(48000)]);
  const { chunks, out } = collect(messages, 2);
  for (const m of chunks) assert.equal(m.frames, 1600);
  assert.ok(Math.abs(amplitudeAt(out[0], 16000, 500, 400) - 0.4) < 0.01);
  assert.ok(Math.max(...out[1].map(Math.abs)) === 0, "the silent channel stays silent");
});

test("levels are reported per channel about 20 times a second", () => {
  const { node, messages } = loadProcessor(48000, { channels: 1, targetRate: 16000, chunkMs: 200 });
  run(node, [sine(48000, 1000, 1.0, 0.5)]);
  const levels = messages.filter((m) => m.type === "level");
  assert.ok(levels.length >= 15 && levels.length <= 25, `${levels.length} level messages`);
  const last = levels.at(-1);
  assert.ok(Math.abs(last.rms[0] - 0.5 / Math.SQRT2) < 0.02 && Math.abs(last.peak[0] - 0.5) < 0.01);
});
