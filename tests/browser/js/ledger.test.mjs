// Unit tests of static/console/ledger.js under Node's built-in test runner (run by test_console_js.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ChunkLedger, binaryFrame } from "../../../static/console/ledger.js";

const pcm = (n, value = 1) => new Int16Array(n).fill(value).buffer;

test("binary frame: big-endian seq header, then the PCM bytes unchanged", () => {
  const samples = new Int16Array([1, -2, 32767, -32768]);
  const frame = new DataView(binaryFrame(0x01020304, samples.buffer));
  assert.equal(frame.byteLength, 4 + 8);
  assert.deepEqual([0, 1, 2, 3].map((i) => frame.getUint8(i)), [1, 2, 3, 4]);
  assert.deepEqual([0, 1, 2, 3].map((i) => frame.getInt16(4 + 2 * i, true)), [1, -2, 32767, -32768]);
});

test("chunks get consecutive seqs from 0 and are sent once per socket", () => {
  const ledger = new ChunkLedger();
  assert.equal(ledger.add(pcm(3200)), 0);
  assert.equal(ledger.add(pcm(3200)), 1);
  ledger.resume(-1); // first connection_ack: last_seq -1
  assert.deepEqual(ledger.takeUnsent().map(([s]) => s), [0, 1]);
  assert.deepEqual(ledger.takeUnsent(), []);
  ledger.add(pcm(3200));
  assert.deepEqual(ledger.takeUnsent().map(([s]) => s), [2]);
  assert.ok(ledger.allSent);
});

test("audio_processed acknowledges its seq and every lower one", () => {
  const ledger = new ChunkLedger();
  for (let i = 0; i < 5; i++) ledger.add(pcm(3200));
  ledger.resume(-1);
  ledger.takeUnsent();
  ledger.acknowledge(2);
  assert.deepEqual(ledger.pendingSeqs, [3, 4]);
  assert.equal(ledger.pendingSeconds, 0.4);
  ledger.acknowledge(1); // stale acknowledgement changes nothing
  assert.deepEqual(ledger.pendingSeqs, [3, 4]);
});

test("a blip resends exactly the chunks above the resume ack's last_seq, in order, then new audio", () => {
  const ledger = new ChunkLedger();
  for (let i = 0; i < 6; i++) ledger.add(pcm(1600, i));
  ledger.resume(-1);
  ledger.takeUnsent(); // 0..5 written to the first socket
  ledger.acknowledge(1); // processed up to 1
  ledger.disconnected(); // socket died; 2..5 may or may not have arrived
  ledger.add(pcm(1600, 6)); // audio captured while offline
  assert.deepEqual(ledger.pendingSeqs, [2, 3, 4, 5, 6], "unacknowledged and offline audio are kept");
  ledger.resume(3); // the server had accepted up to 3
  const resent = ledger.takeUnsent();
  assert.deepEqual(resent.map(([s]) => s), [4, 5, 6]);
  assert.equal(new DataView(resent[2][1]).getInt16(4, true), 6, "the frame carries its own audio");
  assert.deepEqual(ledger.pendingSeqs, [4, 5, 6]);
});

test("a resume ack below what was sent makes those chunks go again (they were lost in flight)", () => {
  const ledger = new ChunkLedger();
  for (let i = 0; i < 4; i++) ledger.add(pcm(320));
  ledger.resume(-1);
  ledger.takeUnsent();
  ledger.disconnected();
  ledger.resume(0);
  assert.deepEqual(ledger.takeUnsent().map(([s]) => s), [1, 2, 3]);
});
