// Unit tests of static/console/opus-encoder.js framing (the encoder itself runs in the browser test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ChunkLedger } from "../../../static/console/ledger.js";
import { joinPackets, packetSamples } from "../../../static/console/opus-encoder.js";

test("packet durations from the TOC byte match RFC 6716 (and the server's reading)", () => {
  const cases = [
    [[0 << 3], 480], [[1 << 3], 960], [[3 << 3], 2880], // SILK 10, 20, 60 ms
    [[(13 << 3) | 0], 960], [[(12 << 3) | 1], 960], // hybrid 20 ms; two 10 ms frames
    [[16 << 3], 120], [[(19 << 3) | 2], 1920], // CELT 2.5 ms; two 20 ms frames
    [[(19 << 3) | 3, 3], 2880], // code 3: three 20 ms frames
  ];
  for (const [bytes, samples] of cases) assert.equal(packetSamples(new Uint8Array([...bytes, 0, 0])), samples);
});

test("packets are joined with big-endian 16-bit length prefixes", () => {
  const payload = new DataView(joinPackets([new Uint8Array([1, 2, 3]), new Uint8Array(300).fill(7)]));
  assert.equal(payload.byteLength, 2 + 3 + 2 + 300);
  assert.equal(payload.getUint16(0, false), 3);
  assert.deepEqual([2, 3, 4].map((i) => payload.getUint8(i)), [1, 2, 3]);
  assert.equal(payload.getUint16(5, false), 300);
  assert.equal(payload.getUint8(7 + 299), 7);
});

test("the ledger counts Opus chunks by their seconds, not their bytes", () => {
  const ledger = new ChunkLedger({ sampleRate: 16000 });
  ledger.add(joinPackets([new Uint8Array(60)]), 0.2);
  ledger.add(joinPackets([new Uint8Array(60)]), 0.24);
  assert.equal(ledger.pendingSeconds, 0.44);
  ledger.acknowledge(0);
  assert.equal(ledger.pendingSeconds, 0.24);
  ledger.add(new Int16Array(3200).buffer); // PCM: seconds from its bytes
  assert.equal(ledger.pendingSeconds, 0.44);
});
