// The package against a running server (started by tests/clients/test_js_client.py, or by hand):
//   INTERVIEW_WS_URL=ws://127.0.0.1:8000/ws/interviews/ INTERVIEW_PCM=speech.s16le INTERVIEW_OUT=out.json \
//   node --experimental-websocket --test test/
// Streams real speech (raw PCM16 LE, 16 kHz mono) at 4x real time through LiveConnection, drops the socket
// half-way, and checks the resume loses nothing; everything received goes to INTERVIEW_OUT for the caller.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";

import { LiveConnection } from "../dist/index.js";

const url = process.env.INTERVIEW_WS_URL;
const pcmPath = process.env.INTERVIEW_PCM;

test("a live interview through LiveConnection with a dropped socket", { skip: !url || !pcmPath }, async () => {
  const pcm = readFileSync(pcmPath);
  const chunkBytes = 16000 * 2 * 0.2; // 200 ms
  const chunks = [];
  for (let i = 0; i < pcm.byteLength; i += chunkBytes) chunks.push(pcm.subarray(i, i + chunkBytes));
  const events = [];
  const states = [];
  let resolveEnded;
  const ended = new Promise((resolve) => { resolveEnded = resolve; });
  const connection = new LiveConnection({
    url,
    params: { language: process.env.INTERVIEW_LANGUAGE || "en", sample_rate: "16000", channels: "1" },
    sampleRate: 16000,
    channels: 1,
    onEvent: (event) => events.push(event),
    onState: (state, info) => {
      states.push(state);
      if (state === "ended") resolveEnded(info);
    },
    createSocket: (u) => new WebSocket(u, { headers: { origin: new URL(url.replace(/^ws/, "http")).origin } }),
  });
  connection.open();
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < chunks.length; i++) {
    if (i === Math.floor(chunks.length / 2)) connection.drop(4000, "test blip");
    connection.pushChunk(chunks[i]);
    await sleep(50); // 4x real time
  }
  connection.end();
  // the timeout's timer is cleared once the session ends: a pending timer keeps Node running until it fires
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve({ outcome: "timeout" }), 180_000); });
  const info = await Promise.race([ended, timeout]);
  clearTimeout(timer);
  writeFileSync(process.env.INTERVIEW_OUT || "/dev/null", JSON.stringify({ events, states, info }));
  assert.equal(info.outcome, "complete", JSON.stringify(info));
  assert.ok(states.includes("reconnecting") && states.lastIndexOf("connected") > states.indexOf("reconnecting"), states.join());
  assert.equal(connection.reconnects, 1);
  const seqs = events.filter((e) => e.type === "audio_processed").map((e) => e.seq);
  assert.deepEqual([...new Set(seqs)].sort((a, b) => a - b), chunks.map((_, i) => i)); // every chunk answered
  const complete = events.find((e) => e.type === "session_complete");
  assert.ok(Math.abs(complete.duration_s - pcm.byteLength / 32000) < 0.01, `${complete.duration_s}`);
});
