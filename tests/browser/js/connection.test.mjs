// Unit tests of static/console/connection.js's resume parameters under Node's test runner (test_console_js.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { LiveConnection } from "../../../static/console/connection.js";

function connection() {
  return new LiveConnection({
    url: "ws://example.test/ws/interviews/", params: { language: "en", consent: "1" }, sampleRate: 16000,
    channels: 1, onEvent: () => {}, onState: () => {}, createSocket: () => ({ send() {}, close() {} }),
  });
}

const message = (event) => ({ data: JSON.stringify(event) });

test("a resume says which audio_processed the page has, so what died with the old socket is replayed", () => {
  const c = connection();
  const ws = {};
  c.ws = ws;
  assert.equal(new URL(c.connectUrl()).searchParams.get("delivered"), null); // a new session: nothing to say
  c.resumeToken = "tok";
  for (const seq of [0, 1, 2]) c.handleMessage(ws, message({ type: "audio_processed", seq, segments: [] }));
  // seq 3 was sent by the server to the socket that then died: the page never saw it
  const query = new URL(c.connectUrl("ticket-1")).searchParams;
  assert.equal(query.get("resume"), "tok");
  assert.equal(query.get("delivered"), "2");
  assert.equal(query.get("ticket"), "ticket-1");
});

test("a replayed audio_processed the page already has is not passed on twice", () => {
  const seen = [];
  const c = connection();
  c.onEvent = (e) => seen.push(e.seq);
  const ws = {};
  c.ws = ws;
  for (const seq of [0, 1, 1, 2]) c.handleMessage(ws, message({ type: "audio_processed", seq, segments: [] }));
  assert.deepEqual(seen, [0, 1, 2]);
});
